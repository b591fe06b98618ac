"""`sluice review` against real warehouses, through real dbt builds: every filter of `list`,
`show`, decisions by id and in bulk, and refusals that write nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sluice.cli import main
from sluice.warehouse.records import utc

from tests import scenario

# two identical rows without a key: one record (identified by its content), copies 1 and 2
NULL_KEY_ROWS = [",C1,paid,1,2024-01-09,2024-01-01 10:00:00"] * 2
EXTRA_META = "max_attempts: 2\n                  attempt_interval: 0"


def _review(project, capsys, *args):
    code = main(
        ["review", *args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    )
    out = capsys.readouterr()
    return code, out.out, out.err


def _listed(project, capsys, *args):
    code, out, err = _review(project, capsys, "list", "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)


def _keys(rows):
    return sorted((r["record_key"], r["record_copy"], r["rule_name"]) for r in rows)


def _decisions(project):
    return sorted(
        project.query(
            "select decision_id, exception_id, model_unique_id, decision, decided_by, "
            "decided_at, reason from {schema}.sluice_decisions"
        ),
        key=str,
    )


def _setup(project):
    scenario.setup(
        project,
        orders=scenario.GOOD_ORDERS + scenario.FAULTY_ORDERS + NULL_KEY_ROWS,
        extra_meta=EXTRA_META,
    )


ALL_EXCEPTIONS = [(key, copy, rule) for rule, (_, _, key, copy) in scenario.RULES.items()]


def test_list_show_and_decide_through_builds(make_project, engine, capsys):
    project = make_project(engine)
    _setup(project)
    project.dbt("build")

    # list: open by default, every route, with the copy number
    opened = _listed(project, capsys)
    null_key = next(r["record_key"] for r in opened if r["rule_name"] == "sluice_record_key")
    assert null_key.startswith("[null]#")
    assert _keys(opened) == sorted(
        [*ALL_EXCEPTIONS, (null_key, 1, "sluice_record_key"), (null_key, 2, "sluice_record_key")]
    )
    assert {r["status"] for r in opened} == {"open"}
    assert next(r for r in opened if r["record_key"] == "[2]")["failed_value"] is None
    ids = {(r["record_key"], r["record_copy"]): r["exception_id"] for r in opened}

    # every filter
    assert _keys(_listed(project, capsys, "--route", "manual_review")) == [
        ("[4]", 1, "orders_customer_exists")
    ]
    assert _keys(_listed(project, capsys, "--rule", "orders_status_known")) == [
        ("[3]", 1, "orders_status_known")
    ]
    assert len(_listed(project, capsys, "--model", "orders")) == len(opened)
    assert len(_listed(project, capsys, "--model", "model.sluice_test.orders")) == len(opened)
    assert _listed(project, capsys, "--model", "customers") == []
    assert _listed(project, capsys, "--status", "dead_letter") == []
    first_build = max(utc(r["status_changed_at"]) for r in opened)
    after_first = (first_build + timedelta(microseconds=1)).isoformat()
    assert _listed(project, capsys, "--since", after_first) == []
    assert len(_listed(project, capsys, "--since", first_build.date().isoformat())) == len(opened)

    # text: copies told apart, NULL shown as NULL, never Python's None
    code, out, _ = _review(project, capsys, "list")
    assert code == 0
    assert f"record {null_key} copy 2" in out and "record [5] copy 2" in out
    assert "customer_id = NULL" in out and "status = 'weird'" in out
    assert "None" not in out

    # show: the exception, the evidence, the row, the history
    code, out, err = _review(project, capsys, "show", ids[("[4]", 1)])
    assert code == 0, err
    assert "record          [4]  copy 1" in out
    assert "failed_column   customer_id" in out and "failed_value    'C9'" in out
    assert '"customer_id": "C9"' in out and '"order_id": 4' in out
    assert "(new) -> open" in out and "by sluice" in out and "None" not in out
    code, out, _ = _review(project, capsys, "show", ids[(null_key, 2)])
    assert "failed_value    NULL" in out and '"order_id": null' in out

    # decisions: one by id, one in bulk by rule
    code, out, err = _review(
        project, capsys, "release", ids[("[4]", 1)], "--by", "ana", "--reason", "new customer"
    )
    assert code == 0, err
    assert "decided: release of 1 exception by ana" in out and "next build" in out
    code, out, err = _review(
        project, capsys, "reject", "--status", "open", "--rule", "orders_status_known",
        "--by", "ana", "--reason", "a test order",
    )  # fmt: skip
    assert code == 0, err
    assert "decided: reject of 1 exception" in out and "record [3] copy 1" in out
    assert sorted((d[1:5] + d[6:] for d in _decisions(project)), key=str) == sorted(
        [
            (ids[("[4]", 1)], "model.sluice_test.orders", "release", "ana", "new customer"),
            (ids[("[3]", 1)], "model.sluice_test.orders", "reject", "ana", "a test order"),
        ],
        key=str,
    )
    assert all(utc(d[5]) > first_build for d in _decisions(project))  # stored as UTC
    # not applied yet: show says it is pending
    code, out, _ = _review(project, capsys, "show", ids[("[4]", 1)])
    assert "pending decisions" in out and "release by ana  reason: new customer" in out

    project.dbt("run", "-s", "orders")  # second attempt: quarantine routes reach dead_letter
    assert _keys(_listed(project, capsys, "--status", "released,rejected")) == [
        ("[3]", 1, "orders_status_known"),
        ("[4]", 1, "orders_customer_exists"),
    ]
    dead = _listed(project, capsys, "--status", "dead_letter")
    assert _keys(dead) == sorted(
        [
            ("[2]", 1, "orders_customer_required"),
            ("[7]", 1, "orders_date_readable"),
            (null_key, 1, "sluice_record_key"),
            (null_key, 2, "sluice_record_key"),
        ]
    )
    assert _keys(_listed(project, capsys)) == [
        ("[5]", 2, "orders_event_unique"),
        ("[8]", 1, "orders_amount_positive"),
    ]
    everything = _listed(project, capsys, "--status", "all")
    assert len(everything) == len(opened)
    # changed since the first build: all but the two still open
    assert len(_listed(project, capsys, "--status", "all", "--since", after_first)) == 6

    # the whole history of the released exception: decided and applied apart
    code, out, _ = _review(project, capsys, "show", ids[("[4]", 1)], "--format", "json")
    shown = json.loads(out)
    assert shown["exception"]["status"] == "released" and shown["pending_decisions"] == []
    assert shown["row"]["customer_id"] == "C9"
    assert [
        (e["event_type"], e["from_status"], e["to_status"], e["actor"], e["reason"])
        for e in shown["events"]
    ] == [
        ("status", None, "open", "sluice", None),
        ("decided", "open", "released", "ana", "new customer"),
        ("status", "open", "released", "sluice", None),
        ("published", "released", "released", "sluice", None),
    ]
    assert all(e["event_at"].endswith("+00:00") for e in shown["events"])

    # refusals: exit 2, the reason on stderr, nothing written
    before = _decisions(project)
    for args, message in [
        ([ids[("[8]", 1)], ids[("[4]", 1)]], f"{ids[('[4]', 1)]} (orders, record [4] copy 1"),
        (["--status", "all", "--model", "orders"], "6 of the 8 exception(s)"),
        (["--status", "open", "--model", "customers"], "no exception matches"),
        (["--rule", "orders_amount_positive"], "a bulk decision needs --status too"),
        ([], "nothing to decide on"),
        ([ids[("[8]", 1)], "--status", "open"], "ids or filters, not both"),
        (["--status", "dead_letter"], "applies only to open exceptions, not dead_letter"),
        (["--status", "open", "--route", "nowhere"], "--route 'nowhere': unknown route"),
        (["--status", "open", "--since", "yesterday"], "--since 'yesterday' is not a date"),
        (["nope"], "no exception 'nope'"),
    ]:
        code, out, err = _review(project, capsys, "release", *args, "--by", "a", "--reason", "r")
        assert (code, out) == (2, ""), (args, out, err)
        assert message in err, (args, err)
        assert _decisions(project) == before, args
    code, _, err = _review(
        project,
        capsys,
        "retry",
        "--status",
        "all",
        "--model",
        "orders",
        "--by",
        "a",
        "--reason",
        "r",
    )
    assert code == 2 and "only dead_letter, rejected or released" in err
    assert ids[("[8]", 1)] in err and ids[("[2]", 1)] not in err
    code, _, err = _review(project, capsys, "retry", ids[("[2]", 1)], "--by", "a")
    assert code == 2 and "needs a reason" in err
    code, _, err = _review(project, capsys, "show", "nope")
    assert code == 2 and "no exception 'nope'" in err
    assert _decisions(project) == before

    # bulk retry: of one rule's dead letters (both copies), and of two ids
    code, out, err = _review(
        project, capsys, "retry", "--status", "dead_letter", "--rule", "sluice_record_key",
        "--by", "bo", "--reason", "loader fixed",
    )  # fmt: skip
    assert code == 0, err
    assert "decided: retry of 2 exceptions by bo" in out
    code, out, err = _review(
        project,
        capsys,
        "retry",
        ids[("[3]", 1)],
        ids[("[4]", 1)],
        "--by",
        "bo",
        "--reason",
        "again",
    )
    assert code == 0 and "decided: retry of 2 exceptions" in out
    assert len(_decisions(project)) == len(before) + 4
    # and at the source: the flagged amount is corrected, order 2 is deleted
    project.execute("update {schema}.raw_orders set amount = 3 where order_id = 8")
    project.execute("delete from {schema}.raw_orders where order_id = 2")
    project.dbt("run", "-s", "orders")
    assert _keys(_listed(project, capsys)) == sorted(
        [
            ("[3]", 1, "orders_status_known"),
            ("[4]", 1, "orders_customer_exists"),
            ("[5]", 2, "orders_event_unique"),
            (null_key, 1, "sluice_record_key"),
            (null_key, 2, "sluice_record_key"),
        ]
    )
    assert _keys(_listed(project, capsys, "--status", "dead_letter")) == [
        ("[7]", 1, "orders_date_readable")
    ]
    assert _keys(_listed(project, capsys, "--status", "recovered")) == [
        ("[8]", 1, "orders_amount_positive")
    ]
    assert _keys(_listed(project, capsys, "--status", "withdrawn")) == [
        ("[2]", 1, "orders_customer_required")
    ]
    assert _listed(project, capsys, "--status", "released,rejected") == []


def test_list_refuses_bad_filters(make_project, capsys):
    project = make_project("duckdb")
    _setup(project)
    project.dbt("build")
    for args, message in [
        (["--status", "opened"], "unknown status 'opened'"),
        (["--status", "all,open"], "'all' cannot be combined"),
        (["--route", "dead"], "--route 'dead': unknown route"),
        (["--since", "2024-99-01"], "is not a date"),
        (["--model", " "], "--model is empty"),
    ]:
        code, out, err = _review(project, capsys, "list", *args)
        assert (code, out) == (2, ""), args
        assert message in err, (args, err)


def test_no_build_yet_is_a_clear_error(make_project, capsys):
    project = make_project("duckdb")
    scenario.setup(project)
    code, _, err = _review(project, capsys, "list")
    assert code == 2 and "run dbt build first" in err


@pytest.mark.parametrize("action", ["release", "reject", "retry"])
def test_decisions_need_an_author_and_a_reason_before_anything_is_read(
    make_project, capsys, action
):
    project = make_project("duckdb")  # no build: nothing to read, nothing to write
    scenario.setup(project)
    code, _, err = _review(project, capsys, action, "someid", "--reason", "r")
    assert code == 2 and "needs its author" in err
    code, _, err = _review(project, capsys, action, "someid", "--by", "ana", "--reason", " ")
    assert code == 2 and "needs a reason" in err
    assert not (project.root / "test.duckdb").exists()


SNOWFLAKE_PROFILES = """
shop:
  target: sf
  outputs:
    sf:
      type: snowflake
      account: fake_account
      user: reviewer
      password: not-a-secret
      role: transformer
      database: analytics_db
      warehouse: transforming
      schema: analytics
      threads: 1
"""


def test_review_on_snowflake_semantics(make_project, tmp_path, capsys):
    """The sidecar's statements on Snowflake semantics (dbt-snowflake against fakesnow, in
    process). The package's build itself does not run on fakesnow here (temporary tables in a
    schema, volatile window orders), so the tables of a real DuckDB build are copied in."""
    import duckdb
    import fakesnow

    built = make_project("duckdb")
    _setup(built)
    # the date rule dead-letters at its first failure: a dead letter to list and retry
    schema = built.root / "models" / "schema.yml"
    text = schema.read_text()
    assert "arguments: {data_type: date}" in text
    schema.write_text(
        text.replace(
            "arguments: {data_type: date}", "arguments: {data_type: date, max_attempts: 1}"
        )
    )
    built.dbt("build")
    root = tmp_path / "shop"
    root.mkdir()
    (root / "dbt_project.yml").write_text(
        "name: shop\nprofile: shop\nconfig-version: 2\nvars:\n  sluice_schema: audit\n"
    )
    (root / "profiles.yml").write_text(SNOWFLAKE_PROFILES)
    quarantine = "analytics_db.analytics.orders__quarantine"

    def review(*args):
        code = main(["review", *args, "--project-dir", str(root), "--profiles-dir", str(root)])
        out = capsys.readouterr()
        return code, out.out, out.err

    with fakesnow.patch(), duckdb.connect(str(built.root / "test.duckdb"), read_only=True) as src:
        import snowflake.connector

        conn = snowflake.connector.connect(database="analytics_db")
        cur = conn.cursor()
        cur.execute("create schema if not exists analytics_db.audit")
        cur.execute("create schema if not exists analytics_db.analytics")
        for table, target in [
            ("orders__quarantine", quarantine),
            ("sluice_runs", "analytics_db.audit.sluice_runs"),
            ("sluice_exception_events", "analytics_db.audit.sluice_exception_events"),
            ("sluice_decisions", "analytics_db.audit.sluice_decisions"),
        ]:
            columns = src.execute(
                "select column_name, data_type from information_schema.columns "
                f"where table_name = '{table}' order by ordinal_position"
            ).fetchall()
            cur.execute(f"create table {target} ({', '.join(f'{c} {t}' for c, t in columns)})")
            names = [c for c, _ in columns]
            for row in src.execute(f"select * from main.{table}").fetchall():
                values = dict(zip(names, row, strict=True))
                if "quarantine_relation" in values:
                    values["quarantine_relation"] = quarantine
                cur.execute(
                    f"insert into {target} ({', '.join(values)}) "
                    f"values ({', '.join(['%s'] * len(values))})",
                    list(values.values()),
                )

        def decisions():
            cur.execute("select * from analytics_db.audit.sluice_decisions")
            return sorted(cur.fetchall(), key=str)

        code, out, err = review("list", "--status", "all", "--format", "json")
        assert code == 0, err
        listed = json.loads(out)
        null_key = next(r["record_key"] for r in listed if r["rule_name"] == "sluice_record_key")
        assert _keys(listed) == sorted(
            [
                *ALL_EXCEPTIONS,
                (null_key, 1, "sluice_record_key"),
                (null_key, 2, "sluice_record_key"),
            ]
        )
        ids = {(r["record_key"], r["record_copy"]): r["exception_id"] for r in listed}
        first = max(utc(r["first_seen_at"]) for r in listed)
        code, out, _ = review("list", "--since", (first + timedelta(seconds=1)).isoformat())
        assert code == 0 and out.startswith("0 exceptions")
        code, out, _ = review("list", "--route", "manual_review", "--model", "orders")
        assert out.startswith("1 exception ") and "record [4] copy 1" in out
        code, out, err = review("show", ids[(null_key, 2)])
        assert code == 0, err
        assert f"record          {null_key}  copy 2" in out and '"order_id": null' in out
        assert "(new) -> open" in out and "None" not in out

        before = decisions()
        code, out, err = review(
            "retry",
            "--status",
            "all",
            "--rule",
            "orders_status_known",
            "--by",
            "a",
            "--reason",
            "r",
        )
        assert code == 2 and "is open" in err and out == ""
        assert decisions() == before
        code, out, err = review(
            "release", "--status", "open", "--rule", "sluice_record_key",
            "--by", "ana", "--reason", "keyless rows are fine",
        )  # fmt: skip
        assert code == 0, err
        assert "decided: release of 2 exceptions by ana" in out
        added = [d for d in decisions() if d not in before]
        assert sorted((d[1], d[3], d[4], d[6]) for d in added) == sorted(
            (ids[(null_key, copy)], "release", "ana", "keyless rows are fine") for copy in (1, 2)
        )
        code, out, _ = review("show", ids[(null_key, 1)])
        assert "pending decisions" in out and "release by ana" in out

        # list by rule, open by default or by status
        code, out, err = review("list", "--rule", "orders_status_known", "--format", "json")
        assert code == 0, err
        assert _keys(json.loads(out)) == [("[3]", 1, "orders_status_known")]
        code, out, _ = review("list", "--rule", "orders_date_readable")
        assert out.startswith("0 exceptions")
        code, out, _ = review("list", "--rule", "orders_date_readable", "--status", "dead_letter")
        assert out.startswith("1 exception ") and "record [7] copy 1" in out

        # reject by id, retry in bulk: one decision each, as asked
        before = decisions()
        code, out, err = review("reject", ids[("[3]", 1)], "--by", "ana", "--reason", "a test")
        assert code == 0, err
        assert "decided: reject of 1 exception by ana" in out and "record [3] copy 1" in out
        code, out, err = review(
            "retry", "--status", "dead_letter", "--rule", "orders_date_readable",
            "--by", "bo", "--reason", "date format fixed",
        )  # fmt: skip
        assert code == 0, err
        assert "decided: retry of 1 exception by bo" in out and "record [7] copy 1" in out
        added = [d for d in decisions() if d not in before]
        assert sorted((d[1], d[3], d[4], d[6]) for d in added) == sorted(
            [
                (ids[("[3]", 1)], "reject", "ana", "a test"),
                (ids[("[7]", 1)], "retry", "bo", "date format fixed"),
            ]
        )
        code, out, _ = review("show", ids[("[7]", 1)])
        assert "pending decisions" in out and "retry by bo" in out

        # nothing matches: exit 2, nothing written
        before = decisions()
        for action, args in [
            ("reject", ["--status", "open", "--model", "customers"]),
            ("retry", ["--status", "dead_letter", "--rule", "orders_status_known"]),
        ]:
            code, out, err = review(action, *args, "--by", "a", "--reason", "r")
            assert (code, out) == (2, ""), (action, args, out, err)
            assert "no exception matches" in err, (action, args, err)
        assert decisions() == before
