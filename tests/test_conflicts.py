"""Conflicting records across systems: a field-conflict rule comparing a model with the other
system's relation, as a plain dbt test and as a rule of a sluice model."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest
from sluice.audit.chain import redaction_marker
from sluice.cli import main
from sluice.errors import InputError
from sluice.incidents import ConflictGroup, conflict_patterns
from sluice.review.conflicts import ConflictField, conflict_fields, parse_takes, taken_sides

from tests.dbt_harness import PACKAGES_YML, SNOWFLAKE_TOO
from tests.test_record_identity import _package_at

# CRM (the model) and ERP (the counterpart). Every agreeing row must stay unheld.
CRM = """customer_id,status,amount,updated_at,name
1,active,10.00,2024-01-01 10:00:00,Ann
2,active,10.00,2024-01-01 10:00:00,Bob
3,active,10.00,2024-01-01 10:00:00,Cy
4,active,10.00,2024-01-01 10:00:00,Di
5,,10.00,2024-01-01 10:00:00,Ed
6,active,,2024-01-01 10:00:00,Flo
7,active,10.00,2024-01-01 10:00:00,Gus
8,active,10.00,2024-01-01 10:00:00,Hal
9,active,10.00,2024-01-01 10:00:00,Ivy
10,,,,Jo
11,active,10.00,2024-01-01 10:00:00,Kim
"""
ERP = """erp_customer_id,status,amount,updated_at,name
1,active,10.00,2024-01-01 10:00:00,Ann
2,closed,10.00,2024-01-01 10:00:00,Bob
3,active,10.01,2024-01-01 10:04:59,Cy
4,active,10.02,2024-01-01 10:05:01,Di
5,active,10.00,2024-01-01 10:00:00,Ed
6,active,10.00,2024-01-01 10:00:00,Flo
7,active,10.00,2024-01-01 10:00:00,"Gus "
8,closed,12.00,2024-01-01 10:00:00,Hal
10,,,,Jo
"""
# customer 9 has no counterpart; 11 neither. Expected conflicts, field -> (source, target):
EXPECTED = {
    2: {"status": ("active", "closed")},
    4: {"amount": ("10.00", "10.02"), "updated_at": ("2024-01-01 10:00:00", "2024-01-01 10:05:01")},
    5: {"status": (None, "active")},
    6: {"amount": (None, "10.00")},
    7: {"name": ("Gus", "Gus ")},
    8: {"status": ("active", "closed"), "amount": ("10.00", "12.00")},
}
TYPES = (
    "{customer_id: integer, status: varchar(10), amount: 'numeric(10,2)', "
    "updated_at: timestamp, name: varchar(10)}"
)
ERP_TYPES = TYPES.replace("customer_id", "erp_customer_id")
ARGS = (
    "with: ref('erp_customers'), match_on: {customer_id: erp_customer_id}, "
    "compare: [status, {column: amount, tolerance: 0.01}, "
    "{column: updated_at, tolerance: '5 minutes'}, name], "
    "source_system: crm, target_system: erp"
)


def _seeds(project, crm=CRM, erp=ERP):
    project.write("seeds/crm_raw.csv", crm)
    project.write("seeds/erp_customers.csv", erp)
    return (
        "seeds:\n"
        f"  - name: crm_raw\n    config: {{column_types: {TYPES}}}\n"
        f"  - name: erp_customers\n    config: {{column_types: {ERP_TYPES}}}\n"
    )


def _number(text):
    return None if text is None else f"{float(text):.2f}"


def _evidence(failed_value):
    """The evidence JSON as {field: (source, target)}, numbers to two places, times to seconds."""
    out = {}
    for field, sides in json.loads(failed_value).items():
        pair = []
        for side in ("source", "target"):
            v = sides[side]
            if v is not None and field == "amount":
                v = _number(v)
            if v is not None and field == "updated_at":
                v = v[:19]
            pair.append(v)
        out[field] = tuple(pair)
    return out


@SNOWFLAKE_TOO
def test_conflict_as_a_plain_test_finds_every_disagreeing_field(make_project, engine):
    project = make_project(engine)
    project.write("models/crm_customers.sql", "select * from {{ ref('crm_raw') }}\n")
    project.write(
        "models/schema.yml",
        _seeds(project) + "models:\n"
        "  - name: crm_customers\n"
        "    data_tests:\n"
        f"      - sluice.sluice_conflict:\n          name: crm_vs_erp\n"
        f"          arguments: {{{ARGS}}}\n"
        "          config: {store_failures: true}\n",
    )
    result = project.dbt("build", expect=None)
    assert result.status("crm_vs_erp") == "warn", result.output[-4000:]  # medium warns
    assert result.result("crm_vs_erp")["failures"] == len(EXPECTED)
    rows = project.query(
        "select customer_id, conflicting_fields, conflict_evidence, conflict_message "
        "from {schema}_dbt_test__audit.crm_vs_erp order by customer_id"
    )
    found = {r[0]: _evidence(r[2]) for r in rows}
    assert found == EXPECTED
    assert {r[0]: r[1] for r in rows} == {k: ", ".join(v) for k, v in EXPECTED.items()}
    assert {r[0]: r[3] for r in rows} == {
        k: f"crm vs erp: {', '.join(v)} differ" for k, v in EXPECTED.items()
    }


def _sluice_model(project, args=ARGS, gate="{medium: '60%'}"):
    project.write(
        "models/crm_customers.sql",
        "-- depends_on: {{ ref('erp_customers') }}\nselect * from {{ ref('crm_raw') }}\n",
    )
    project.write(
        "models/schema.yml",
        _seeds(project) + "models:\n"
        "  - name: crm_customers\n"
        "    config:\n"
        "      materialized: sluice\n"
        f"      meta: {{sluice: {{key: customer_id, owner: crm-team, gate: {gate}}}}}\n"
        "    data_tests:\n"
        f"      - sluice.sluice_conflict:\n          name: crm_vs_erp\n"
        f"          arguments: {{{args}}}\n",
    )


@SNOWFLAKE_TOO
def test_conflict_on_a_sluice_model_holds_every_conflict_for_review(make_project, engine):
    project = make_project(engine)
    _sluice_model(project)
    result = project.dbt("build")
    assert result.status("crm_customers") == "success"
    assert result.status("crm_vs_erp") == "pass"  # held rows are not published

    published = {r[0] for r in project.query("select customer_id from {schema}.crm_customers")}
    assert published == {1, 3, 9, 10, 11}  # nothing that agrees (or has no counterpart) is held
    rows = project.query(
        "select record_key, error_class, route, severity, source_system, target_system, "
        "message, failed_column, failed_value, status "
        "from {schema}.crm_customers__quarantine order by record_key"
    )
    by_key = {json.loads(r[0])[0]: r for r in rows}
    assert set(by_key) == set(EXPECTED)
    for key, fields in EXPECTED.items():
        _, error_class, route, severity, source, target, message, failed, value, status = by_key[
            key
        ]
        assert (error_class, route, severity, status) == (
            "conflicting_record",
            "manual_review",
            "medium",
            "open",
        )
        assert (source, target) == ("crm", "erp")
        assert failed == ", ".join(fields)
        assert message == f"crm vs erp: {', '.join(fields)} differ"
        assert _evidence(value) == fields

    runs = project.query(
        "select gate_status, rows_in, rows_published, rows_held, rule_counts_json "
        "from {schema}.sluice_runs"
    )
    assert [r[:4] for r in runs] == [("passed", 11, 5, 6)]
    counts = {c["rule_name"]: c["rows"] for c in json.loads(runs[0][4])}
    assert counts["crm_vs_erp"] == len(EXPECTED)


@SNOWFLAKE_TOO
def test_conflict_options_nulls_trim_and_missing_counterparts(make_project, engine):
    project = make_project(engine)
    _sluice_model(
        project,
        args=ARGS + ", null_is_conflict: false, trim: true, missing_is_conflict: true",
        gate="{medium: '90%'}",
    )
    project.dbt("build")
    rows = project.query(
        "select record_key, failed_column, failed_value, message "
        "from {schema}.crm_customers__quarantine order by record_key"
    )
    found = {json.loads(r[0])[0]: _evidence(r[2]) for r in rows}
    # NULL against a value (5, 6) is no longer a conflict, nor 'Gus' against 'Gus ' (7);
    # customers 9 and 11 have no counterpart
    assert found == {
        2: EXPECTED[2],
        4: EXPECTED[4],
        8: EXPECTED[8],
        9: {"customer_id": ("9", None)},
        11: {"customer_id": ("11", None)},
    }
    missing = next(r for r in rows if json.loads(r[0])[0] == 9)
    assert missing[1] == "customer_id"
    assert missing[3] == "crm vs erp: no counterpart in erp"
    published = {r[0] for r in project.query("select customer_id from {schema}.crm_customers")}
    assert published == {1, 3, 5, 6, 7, 10}


# CRM accounts matched to ERP customer ids: C2 maps to two ids (one-to-many), E5 is claimed by
# C4 and C5 (many-to-one); C1, C3 and C6 map cleanly (C1's two rows repeat one pair).
MATCHES = """match_id,crm_account_id,erp_customer_id
1,C1,E1
2,C1,E1
3,C2,E2
4,C2,E3
5,C3,E4
6,C4,E5
7,C5,E5
8,C6,
"""
MATCH_TYPES = "{match_id: integer, crm_account_id: varchar(10), erp_customer_id: varchar(10)}"


def _matches(project, materialized, mapping="one_to_one", gate="{medium: '90%'}"):
    project.write("seeds/matches_raw.csv", MATCHES)
    project.write("models/account_matches.sql", "select * from {{ ref('matches_raw') }}\n")
    meta = (
        f"      meta: {{sluice: {{key: match_id, gate: {gate}}}}}\n"
        if materialized == "sluice"
        else ""
    )
    project.write(
        "models/schema.yml",
        f"seeds:\n  - name: matches_raw\n    config: {{column_types: {MATCH_TYPES}}}\n"
        "models:\n"
        "  - name: account_matches\n"
        f"    config:\n      materialized: {materialized}\n{meta}"
        "    columns:\n"
        "      - name: crm_account_id\n"
        "        data_tests:\n"
        "          - sluice.sluice_identity_conflict:\n"
        "              name: crm_to_erp\n"
        f"              arguments: {{maps_to: erp_customer_id, mapping: {mapping}, "
        "source_system: crm, target_system: erp}\n"
        "              config: {store_failures: true}\n",
    )


@SNOWFLAKE_TOO
def test_identity_conflicts_are_found_on_every_row_involved(make_project, engine):
    project = make_project(engine)
    _matches(project, "table")
    result = project.dbt("build", expect=None)
    assert result.status("crm_to_erp") == "warn"
    assert result.result("crm_to_erp")["failures"] == 4
    rows = project.query(
        "select match_id, conflicting_fields, conflict_evidence, conflict_message "
        "from {schema}_dbt_test__audit.crm_to_erp order by match_id"
    )
    assert [(r[0], r[1], json.loads(r[2])) for r in rows] == [
        (3, "crm_account_id", {"erp_customer_id": ["E2", "E3"]}),
        (4, "crm_account_id", {"erp_customer_id": ["E2", "E3"]}),
        (6, "erp_customer_id", {"crm_account_id": ["C4", "C5"]}),
        (7, "erp_customer_id", {"crm_account_id": ["C4", "C5"]}),
    ]
    assert rows[0][3] == "crm vs erp: crm_account_id maps to several erp_customer_id: E2, E3"
    assert rows[2][3] == "crm vs erp: erp_customer_id claimed by several crm_account_id: C4, C5"

    # many-to-one: several accounts may share a customer id, one account may not have two
    _matches(project, "sluice", mapping="many_to_one")
    result = project.dbt("build")
    held = project.query(
        "select record_key, error_class, route, failed_column, failed_value, message "
        "from {schema}.account_matches__quarantine order by record_key"
    )
    assert [(json.loads(r[0])[0], r[1], r[2], r[3], json.loads(r[4])) for r in held] == [
        (
            3,
            "conflicting_identifier",
            "manual_review",
            "crm_account_id",
            {"erp_customer_id": ["E2", "E3"]},
        ),
        (
            4,
            "conflicting_identifier",
            "manual_review",
            "crm_account_id",
            {"erp_customer_id": ["E2", "E3"]},
        ),
    ]
    published = {r[0] for r in project.query("select match_id from {schema}.account_matches")}
    assert published == {1, 2, 5, 6, 7, 8}
    runs = project.query("select rows_in, rows_published, rows_held from {schema}.sluice_runs")
    assert runs == [(8, 6, 2)]


@SNOWFLAKE_TOO
def test_conflicts_drive_the_gate_and_the_counts_agree(make_project, engine, capsys):
    project = make_project(engine)
    _sluice_model(project)
    project.dbt("build")
    before = sorted(project.query("select customer_id, status from {schema}.crm_customers"))
    # six conflicts, medium: over a gate of five rows, the model holds its last good data
    _sluice_model(project, gate="{medium: 5}")
    result = project.dbt("build", expect=1)
    assert result.status("crm_customers") == "error"
    assert sorted(project.query("select customer_id, status from {schema}.crm_customers")) == before
    runs = project.query(
        "select gate_status, gate_message, rows_in, rows_held, rule_counts_json "
        "from {schema}.sluice_runs where gate_status = 'held'"
    )
    assert len(runs) == 1 and "crm_vs_erp" in runs[0][1]
    assert runs[0][2:4] == (11, 6)
    stored = {c["rule_name"]: c["rows"] for c in json.loads(runs[0][4])}
    assert stored["crm_vs_erp"] == len(EXPECTED)

    dirs = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    code = main(["report", "--format", "json,md", *dirs])
    capsys.readouterr()
    assert code in (0, 1)
    impact = json.loads((project.root / "target" / "sluice" / "impact.json").read_text())
    (model,) = [
        m for m in impact["quarantine"]["models"] if m["model_unique_id"].endswith(".crm_customers")
    ]
    assert (model["gate_status"], model["rows_in"], model["rows_held"]) == ("held", 11, 6)
    reported = {c["rule_name"]: c["rows"] for c in model["rule_counts"]}
    assert reported["crm_vs_erp"] == stored["crm_vs_erp"]
    # the report's patterns: conflicts by system pair and field, as many as the quarantine holds
    by_field = [
        (c["source_system"], c["target_system"], c["field"], c["records"], c["models"])
        for c in impact["patterns"]["conflicts"]
    ]
    assert by_field == [
        ("crm", "erp", "amount", 3, ["crm_customers"]),
        ("crm", "erp", "status", 3, ["crm_customers"]),
        ("crm", "erp", "name", 1, ["crm_customers"]),
        ("crm", "erp", "updated_at", 1, ["crm_customers"]),
    ]
    md = (project.root / "target" / "sluice" / "summary.md").read_text()
    assert "| crm vs erp | status | 3 |" in md


def _sluice(project, capsys, *args):
    dirs = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    code = main([*args, *dirs])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_review_shows_a_conflict_side_by_side_and_records_the_side_taken(make_project, capsys):
    project = make_project("duckdb")
    _sluice_model(project)
    project.dbt("build")
    code, out, err = _sluice(project, capsys, "review", "list", "--format", "json")
    assert code == 0, err
    ids = {json.loads(r["record_key"])[0]: r["exception_id"] for r in json.loads(out)}
    assert set(ids) == set(EXPECTED)

    code, out, err = _sluice(project, capsys, "review", "show", ids[8])
    assert code == 0, err
    lines = out.splitlines()
    at = lines.index("conflict (2 fields; decide with --take source|target)")
    assert lines[at + 1].split() == ["field", "source", "(crm)", "target", "(erp)"]
    assert lines[at + 2].split() == ["status", "'active'", "'closed'"]
    assert lines[at + 3].split() == ["amount", "'10.00'", "'12.00'"]
    code, out, err = _sluice(project, capsys, "review", "show", ids[8], "--format", "json")
    assert json.loads(out)["conflict"] == [
        {"field": "status", "source": "active", "target": "closed"},
        {"field": "amount", "source": "10.00", "target": "12.00"},
    ]

    decide = ["review", "release", "--by", "ana", "--reason", "ERP is right"]
    # refused, nothing recorded: a field the conflict does not have, a field without a side
    code, _, err = _sluice(project, capsys, *decide, ids[8], "--take", "name=source")
    assert code == 2 and "not a conflicting field" in err and "status, amount" in err
    code, _, err = _sluice(project, capsys, *decide, ids[8], "--take", "status=target")
    assert code == 2 and "no side for field amount" in err
    code, _, err = _sluice(project, capsys, *decide, ids[8], "--take", "erp")
    assert code == 2 and "expected source, target" in err
    assert project.query("select count(*) from {schema}.sluice_decisions") == [(0,)]

    take = ["--take", "status=target", "--take", "amount=source"]
    code, out, err = _sluice(project, capsys, *decide, ids[8], *take)
    assert code == 0, err
    assert "take status=target, amount=source" in out
    # the sides taken are a column of their own, the reason is the reviewer's text
    assert project.query("select decision, reason, taken_sides from {schema}.sluice_decisions") == [
        ("release", "ERP is right", '{"status": "target", "amount": "source"}')
    ]
    code, out, err = _sluice(project, capsys, "review", "show", ids[8])
    assert "reason: ERP is right  take status=target, amount=source" in out, out
    code, out, err = _sluice(project, capsys, "review", "show", ids[8], "--format", "json")
    (decision,) = json.loads(out)["decisions"]
    assert decision["taken_sides"] == {"status": "target", "amount": "source"}
    # the next build applies the release (the row is published as it is) and seals the side taken
    project.dbt("build")
    assert 8 in {r[0] for r in project.query("select customer_id from {schema}.crm_customers")}
    assert project.query(
        "select actor, reason from {schema}.sluice_exception_events where event_type = 'decided'"
    ) == [("ana", "ERP is right")]
    code, out, err = _sluice(project, capsys, "audit", "verify")
    assert code == 0, out + err


@pytest.mark.parametrize(
    ("error_class", "failed_value", "fields"),
    [
        (
            "conflicting_record",
            '{"status": {"source": "active", "target": "closed"}, "amount": {"source": null, "target": "1"}}',
            (ConflictField("status", "active", "closed"), ConflictField("amount", None, "1")),
        ),
        ("conflicting_record", "not json", ()),
        ("conflicting_record", '["a"]', ()),
        ("conflicting_record", '{"status": "active"}', ()),
        ("invalid_value", '{"status": {"source": "a", "target": "b"}}', ()),
        ("conflicting_record", None, ()),
    ],
)
def test_conflict_fields_read_the_evidence(error_class, failed_value, fields):
    assert conflict_fields(error_class, failed_value) == fields


def test_takes_name_a_side_per_field_or_for_all():
    fields = (ConflictField("status", "a", "b"), ConflictField("amount", "1", "2"))
    assert taken_sides("x", fields, parse_takes(["target"])) == (
        ("status", "target"),
        ("amount", "target"),
    )
    assert taken_sides("x", fields, parse_takes(["source", "status=target"])) == (
        ("status", "target"),
        ("amount", "source"),
    )
    for bad in (["both"], ["=target"], ["status=left"], ["status=source", "status=target"]):
        with pytest.raises(InputError):
            parse_takes(bad)
    with pytest.raises(InputError, match="is not one"):
        taken_sides("x", (), parse_takes(["source"]))


def test_conflict_patterns_count_records_per_system_pair_and_field():
    at = datetime(2026, 12, 1, tzinfo=UTC)
    later = datetime(2026, 12, 3, tzinfo=UTC)
    groups = [
        ConflictGroup("a", "crm", "erp", ("status",), 300, later),
        ConflictGroup("a", "crm", "erp", ("status", "amount"), 12, at),
        ConflictGroup("b", "crm", "erp", ("status",), 1, later),
        ConflictGroup("c", "shop", "billing", ("amount",), 5, later),
    ]
    assert [
        (c.source_system, c.target_system, c.field, c.records, c.since, c.models)
        for c in conflict_patterns(groups)
    ] == [
        ("crm", "erp", "status", 313, at, ("a", "b")),
        ("crm", "erp", "amount", 12, at, ("a",)),
        ("shop", "billing", "amount", 5, later, ("c",)),
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            "with: ref('erp_customers'), match_on: {customer_id: erp_customer_id}",
            "rule 'crm_vs_erp', key 'compare': a conflict rule needs `compare`",
        ),
        (
            ARGS.replace("tolerance: 0.01", "tolerance: lots"),
            "key 'compare.amount.tolerance': expected a duration like '1 hour'",
        ),
        (
            ARGS.replace("match_on: {customer_id: erp_customer_id}, ", ""),
            "key 'match_on': a conflict rule needs `match_on`",
        ),
    ],
)
def test_a_bad_conflict_rule_is_a_clear_compile_error(make_project, args, expected):
    project = make_project("duckdb")
    _sluice_model(project, args=args)
    result = project.dbt("build", expect=None)
    assert result.returncode != 0
    assert "sluice: model 'crm_customers'" in result.output, result.output[-3000:]
    assert expected in result.output, result.output[-3000:]


# Orders matched on two columns. EU/2 differs on status; the ERP holds US/1 twice, agreeing,
# US/2 twice, one of them refunded (the evidence shows the values that disagree), and US/5
# twice, both disagreeing (their range); US/3 has no amount in the CRM (also a not-null
# failure); EU/4 matches an ERP order on its number only (US/4): no counterpart, no conflict.
CRM_ORDERS = """region,order_no,status,amount
EU,1,paid,10.00
EU,2,paid,10.00
US,1,paid,10.00
US,2,paid,10.00
US,3,paid,
EU,4,paid,10.00
US,5,paid,10.00
"""
ERP_ORDERS = """erp_region,erp_order_no,status,amount
EU,1,paid,10.00
EU,2,open,10.00
US,1,paid,10.00
US,1,paid,10.00
US,2,paid,10.00
US,2,refunded,10.00
US,3,paid,10.00
US,4,open,10.00
US,5,refunded,10.00
US,5,open,10.00
"""
ORDER_CONFLICTS = {
    ("EU", 2): {"status": ("paid", "open")},
    ("US", 2): {"status": ("paid", "refunded")},
    ("US", 3): {"amount": (None, "10.00")},
    ("US", 5): {"status": ("paid", "open .. refunded")},
}


def _orders(project, materialized):
    project.write("seeds/crm_orders_raw.csv", CRM_ORDERS)
    project.write("seeds/erp_orders.csv", ERP_ORDERS)
    types = "status: varchar(10), amount: 'numeric(10,2)'"
    sluice = materialized == "sluice"
    project.write(
        "models/crm_orders.sql",
        "-- depends_on: {{ ref('erp_orders') }}\nselect * from {{ ref('crm_orders_raw') }}\n",
    )
    project.write(
        "models/schema.yml",
        "seeds:\n"
        "  - name: crm_orders_raw\n"
        f"    config: {{column_types: {{region: varchar(2), order_no: integer, {types}}}}}\n"
        "  - name: erp_orders\n"
        "    config: {column_types: {erp_region: varchar(2), erp_order_no: integer, "
        f"{types}}}}}\n"
        "models:\n"
        "  - name: crm_orders\n"
        f"    config:\n      materialized: {materialized}\n"
        + (
            "      meta: {sluice: {key: [region, order_no], gate: {medium: '90%', high: '90%'}}}\n"
            if sluice
            else ""
        )
        + "    data_tests:\n"
        "      - sluice.sluice_conflict:\n"
        "          name: orders_vs_erp\n"
        "          arguments: {with: ref('erp_orders'), "
        "match_on: {region: erp_region, order_no: erp_order_no}, "
        "compare: [status, {column: amount, tolerance: 0.005}], "
        "source_system: crm, target_system: erp}\n"
        "          config: {store_failures: true}\n"
        + (
            "    columns:\n"
            "      - name: amount\n"
            "        data_tests:\n"
            "          - sluice.sluice_not_null:\n"
            "              name: orders_amount_required\n"
            if sluice
            else ""
        ),
    )


@SNOWFLAKE_TOO
def test_a_conflict_rule_matches_on_several_columns(make_project, engine):
    project = make_project(engine)
    _orders(project, "table")
    result = project.dbt("build", expect=None)
    assert result.status("orders_vs_erp") == "warn", result.output[-4000:]
    rows = project.query(
        "select region, order_no, conflict_evidence from {schema}_dbt_test__audit.orders_vs_erp"
    )
    found = {(r[0], r[1]): _evidence(r[2]) for r in rows}
    assert found == ORDER_CONFLICTS

    # as a rule of a sluice model, beside a not-null rule: the same rows held, nothing else
    _orders(project, "sluice")
    project.dbt("build")
    published = set(project.query("select region, order_no from {schema}.crm_orders"))
    assert published == {("EU", 1), ("US", 1), ("EU", 4)}
    held = project.query(
        "select record_key, rule_name, failed_value from {schema}.crm_orders__quarantine"
    )
    conflicts = {tuple(json.loads(r[0])): _evidence(r[2]) for r in held if r[1] == "orders_vs_erp"}
    assert conflicts == ORDER_CONFLICTS
    assert {tuple(json.loads(r[0])) for r in held if r[1] == "orders_amount_required"} == {
        ("US", 3)
    }
    runs = project.query(
        "select rows_in, rows_published, rows_held, rule_counts_json from {schema}.sluice_runs"
    )
    assert [r[:3] for r in runs] == [(7, 3, 4)]
    counts = {c["rule_name"]: c["rows"] for c in json.loads(runs[0][3])}
    assert (counts["orders_vs_erp"], counts["orders_amount_required"]) == (4, 1)


# The package before the sides taken had a column of their own: its decisions' seals do not
# cover one.
BEFORE_TAKEN_SIDES = "35ece33c0f2d657b251e5ad522781e955fa2cac4"


def _decision_columns(project):
    return [
        r[0].lower()
        for r in project.query(
            "select column_name from information_schema.columns "
            "where lower(table_name) = 'sluice_decisions' "
            "and lower(table_schema) = lower('{schema}') order by ordinal_position"
        )
    ]


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_sides_taken_are_sealed_as_their_own_column(make_project, engine, tmp_path, capsys):
    project = make_project(engine)
    _sluice_model(project)
    project.write(
        "packages.yml", f"packages:\n  - local: {_package_at(BEFORE_TAKEN_SIDES, tmp_path)}\n"
    )
    project.dbt("build")
    ids = {
        json.loads(r[0])[0]: r[1]
        for r in project.query(
            "select record_key, exception_id from {schema}.crm_customers__quarantine"
        )
    }
    # a decision written (as a plain project may) and sealed before the column existed
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
        "decision, decided_by, decided_at, reason) values "
        f"('before', '{ids[2]}', 'model.sluice_test.crm_customers', 'release', 'ana', "
        "cast(current_timestamp as timestamp), 'known customer')"
    )
    project.dbt("build")
    assert "taken_sides" not in _decision_columns(project)

    # this release: the build's bookkeeping adds the column, the earlier seals keep verifying
    shutil.rmtree(project.root / "dbt_packages")
    project.write("packages.yml", PACKAGES_YML)
    project._deps_done = False
    project.dbt("build")
    assert _decision_columns(project)[-1] == "taken_sides"
    code, out, err = _sluice(project, capsys, "audit", "verify")
    assert code == 0, out + err

    decide = ["review", "reject", ids[8], "--by", "ana", "--reason", "ERP is right"]
    code, out, err = _sluice(project, capsys, *decide, "--take", "target")
    assert code == 0, err
    ((decision,),) = project.query(
        "select decision_id from {schema}.sluice_decisions where taken_sides is not null"
    )
    project.dbt("build")
    seals = project.query(
        "select hashed_columns from {schema}.sluice_audit_chain "
        "where chain_name = 'decisions' order by sequence_number"
    )
    assert "taken_sides" not in seals[0][0] and seals[-1][0].endswith(",taken_sides")
    code, out, err = _sluice(project, capsys, "audit", "verify")
    assert code == 0, out + err

    export = tmp_path / "trail.jsonl"
    code, out, err = _sluice(project, capsys, "audit", "export", "--output", str(export))
    assert code == 0, err
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    (row,) = [
        x["row"]
        for x in lines
        if x["kind"] == "record"
        and x["chain_name"] == "decisions"
        and x["row"]
        and x["row"]["decision_id"] == decision
    ]
    assert (row["reason"], row["taken_sides"]) == (
        redaction_marker("ERP is right"),  # an export holds the evidence's digest only
        '{"status": "target", "amount": "target"}',
    )

    # an edit of the sides taken is found, though the reason is sealed by its digest
    project.execute(
        "update {schema}.sluice_decisions "
        """set taken_sides = '{"status": "source", "amount": "target"}' """
        f"where decision_id = '{decision}'"
    )
    code, out, err = _sluice(project, capsys, "audit", "verify")
    assert code == 1 and f"sluice_decisions decision_id {decision}" in out + err, out + err
