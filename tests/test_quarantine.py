"""The sluice materialization: every error class and route lands where it should."""

from __future__ import annotations

import json

import pytest

from tests import scenario
from tests.dbt_harness import SNOWFLAKE_TOO

METADATA_COLUMNS = (
    "exception_id, model_name, model_unique_id, record_key, record_copy, rule_name, error_class, "
    "severity, route, owner, source_system, target_system, message, invocation_id, "
    "first_invocation_id, first_seen_at, last_seen_at, attempt_count, status, status_changed_at, row_json"
)


def _row(row_json):
    """The original row; Snowflake names unquoted columns in upper case."""
    return {k.lower(): v for k, v in json.loads(row_json).items()}


@SNOWFLAKE_TOO
def test_every_class_and_route_lands_where_it_should(make_project, engine):
    project = make_project(engine)
    scenario.setup(project)
    result = project.dbt("build")

    assert result.status("orders") == "success"
    assert result.result("orders")["adapter_response"]["code"] == "SLUICE"
    assert result.status("orders_daily") == "success"

    published_keys = {row[0] for row in scenario.published(project)}
    assert published_keys == scenario.PUBLISHED_KEYS
    # the first copy of the duplicate event (by loaded_at) is the one published
    assert [row[5].hour for row in scenario.published(project) if row[0] == 5] == [10]

    rows = project.query(
        f"select {METADATA_COLUMNS}, failed_column, failed_value from {{schema}}.orders__quarantine order by rule_name"
    )
    assert {r[5] for r in rows} == set(scenario.RULES)
    invocation = result.run_results["metadata"]["invocation_id"]
    for row in rows:
        record = dict(
            zip(
                [c.strip() for c in METADATA_COLUMNS.split(",")]
                + ["failed_column", "failed_value"],
                row,
                strict=True,
            )
        )
        error_class, route, key, copy = scenario.RULES[record["rule_name"]]
        assert (
            record["error_class"],
            record["route"],
            record["record_key"],
            record["record_copy"],
        ) == (error_class, route, key, copy)
        assert all(
            record[c] is not None for c in record if c not in ("failed_column", "failed_value")
        ), record
        assert record["source_system"] == "erp" and record["target_system"] == "finance_dw"
        assert record["invocation_id"] == invocation and record["status"] == "open"
        assert record["attempt_count"] == 1
        assert [_row(record["row_json"])["order_id"]] == json.loads(key)
        if record["rule_name"] != "orders_amount_positive":
            assert record["failed_column"]
        if record["rule_name"] not in ("orders_amount_positive", "orders_customer_required"):
            assert (
                record["failed_value"] == _row(record["row_json"])[record["failed_column"]]
                or record["rule_name"] == "orders_event_unique"
            )

    owners = {r[5]: r[9] for r in rows}
    assert owners["orders_customer_required"] == "crm-team"  # the rule's owner wins
    assert owners["orders_status_known"] == "erp-team"  # else the model's

    # the flagged row is published, so its test reports it (as a warning, severity low);
    # the held rows are not in the published relation, so their tests pass without a scan
    assert result.status("orders_amount_positive") == "warn"
    for name in (
        "orders_customer_required",
        "orders_status_known",
        "orders_date_readable",
        "orders_event_unique",
    ):
        assert result.status(name) == "pass", name

    runs = project.query(
        "select gate_status, rows_in, rows_published, rows_held, rows_set_aside, rows_flagged "
        "from {schema}.sluice_runs"
    )
    # every input row is published, held or set aside (the duplicate copy), never two of them
    assert runs == [("passed", 9, 4, 4, 1, 1)]


def test_tests_on_a_sluice_model_read_the_record_instead_of_scanning(make_project):
    project = make_project("duckdb")
    scenario.setup(project)
    project.dbt("build")
    compiled = next(
        (project.root / "target" / "compiled").rglob("orders_status_known.sql")
    ).read_text()
    assert "orders__quarantine" in compiled
    assert '"orders" ' not in compiled and ".orders\n" not in compiled


@SNOWFLAKE_TOO
def test_values_round_trip_into_the_payload(make_project, engine):
    project = make_project(engine)
    tricky = {
        "quotes": "O'Brien \"Bob\" said: 'hi'",
        "unicode": "Zoë — 東京 🚀",
        "json": '{"vip": true, "tags": ["a", "b"]}',
        "long": "x" * 5000,
        "backslash": "C:\\path\\to\\file",
    }
    lines = ["id,label,note"]
    for i, (label, note) in enumerate(tricky.items(), start=1):
        escaped = note.replace('"', '""')
        lines.append(f'{i},{label},"{escaped}"')
    lines.append(f"{len(tricky) + 1},null_note,")
    project.write("seeds/raw_notes.csv", "\n".join(lines) + "\n")
    project.write("models/notes.sql", "select * from {{ ref('raw_notes') }}\n")
    project.write(
        "models/schema.yml",
        """
        seeds:
          - name: raw_notes
            config:
              column_types: {id: integer, label: varchar(20), note: text}
        models:
          - name: notes
            config:
              materialized: sluice
              meta: {sluice: {key: id}}
            data_tests:
              - sluice.sluice_expression:
                  name: notes_all_held
                  arguments: {expression: "id < 0", sluice_severity: low}
        """,
    )
    project.dbt("build")
    rows = project.query(
        "select record_key, row_json from {schema}.notes__quarantine order by record_key"
    )
    payloads = {json.loads(key)[0]: _row(payload) for key, payload in rows}
    for i, note in enumerate(tricky.values(), start=1):
        assert payloads[i]["note"] == note
    assert payloads[len(tricky) + 1]["note"] is None
    assert set(payloads[1]) == {"id", "label", "note"}


@pytest.mark.parametrize("engine", ["duckdb", "snowflake"], indirect=True)
def test_backslashes_in_rule_literals_stay_backslashes(make_project, engine):
    # Snowflake reads a backslash in a string literal as an escape: '\.' is '.', and a value
    # ending in a backslash would swallow its closing quote
    project = make_project(engine)
    project.write(
        "seeds/raw_paths.csv",
        "id,path,code\n1,C:\\temp\\,12.50\n2,D:\\data,7.5\n3,plain,3\n",
    )
    project.write("models/paths.sql", "select * from {{ ref('raw_paths') }}\n")
    project.write(
        "models/schema.yml",
        r"""
        seeds:
          - name: raw_paths
            config:
              column_types: {id: integer, path: varchar(20), code: varchar(20)}
        models:
          - name: paths
            config:
              materialized: sluice
              meta: {sluice: {key: id, gate: {high: none, medium: none}}}
            columns:
              - name: path
                data_tests:
                  - sluice.sluice_accepted_values:
                      name: paths_known
                      arguments: {values: ['C:\temp\', plain]}
              - name: code
                data_tests:
                  - sluice.sluice_castable:
                      name: paths_code_format
                      arguments: {pattern: '^[0-9]+\.[0-9]{2}$'}
        """,
    )
    project.dbt("build")
    held = project.query(
        "select rule_name, record_key, message from {schema}.paths__quarantine order by 1, 2"
    )
    assert held == [
        ("paths_code_format", "[2]", "code does not match ^[0-9]+\\.[0-9]{2}$"),
        ("paths_code_format", "[3]", "code does not match ^[0-9]+\\.[0-9]{2}$"),
        ("paths_known", "[2]", "path is not one of: C:\\temp\\, plain"),
    ]
    assert project.query("select id, path from {schema}.paths") == [(1, "C:\\temp\\")]


@SNOWFLAKE_TOO
def test_a_reference_holds_only_missing_keys_whatever_the_target_holds(make_project, engine):
    # the target repeats a key and has a NULL key; the child has a matching row, a missing key,
    # a NULL reference, and a row failing another rule whose reference matches twice over
    project = make_project(engine)
    project.write("seeds/raw_lines.csv", "id,customer_id,qty\n1,C1,1\n2,C9,1\n3,,1\n4,C1,-1\n")
    project.write("seeds/customers.csv", "customer_id\nC1\nC1\n\nC2\n")
    project.write(
        "models/lines.sql",
        "-- depends_on: {{ ref('customers') }}\nselect * from {{ ref('raw_lines') }}\n",
    )
    project.write(
        "models/schema.yml",
        """
        seeds:
          - name: raw_lines
            config: {column_types: {id: integer, customer_id: varchar(5), qty: integer}}
          - name: customers
            config: {column_types: {customer_id: varchar(5)}}
        models:
          - name: lines
            config:
              materialized: sluice
              meta: {sluice: {key: id, gate: {high: none, medium: none, low: none}}}
            data_tests:
              - sluice.sluice_expression:
                  name: lines_qty_positive
                  arguments: {expression: "qty > 0"}
            columns:
              - name: customer_id
                data_tests:
                  - sluice.sluice_relationship:
                      name: lines_known_customer
                      arguments: {to: "ref('customers')", field: customer_id}
        """,
    )
    project.dbt("build")
    held = project.query(
        "select rule_name, record_key, record_copy from {schema}.lines__quarantine order by 1, 2"
    )
    assert held == [("lines_known_customer", "[2]", 1), ("lines_qty_positive", "[4]", 1)]
    # each row once: published or held, never both, never repeated by the target's repeated key
    assert project.query("select id from {schema}.lines order by 1") == [(1,), (3,)]


@pytest.mark.parametrize(
    "engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_column_named_like_the_engines_row_address_is_data(make_project, engine):
    # held rows leave the batch by their address (DuckDB's rowid, PostgreSQL's ctid); a model
    # with its own `rowid` column (the same value on every row) must lose exactly its held rows
    project = make_project(engine)
    project.write("seeds/raw_items.csv", "rowid,id,qty\n7,1,5\n7,2,-1\n7,3,4\n7,3,-4\n7,4,-2\n")
    project.write("models/items.sql", "select * from {{ ref('raw_items') }}\n")
    project.write(
        "models/schema.yml",
        """
        models:
          - name: items
            config:
              materialized: sluice
              meta: {sluice: {key: id, gate: {high: none, medium: none, low: none}}}
            data_tests:
              - sluice.sluice_expression:
                  name: items_qty_positive
                  arguments: {expression: "qty > 0"}
        """,
    )
    result = project.dbt("build")
    assert result.status("items") == "success"
    assert project.query("select id, qty from {schema}.items order by 1") == [(1, 5), (3, 4)]
    held = project.query(
        "select record_key, record_copy from {schema}.items__quarantine order by 1, 2"
    )
    assert held == [("[2]", 1), ("[3]", 1), ("[4]", 1)]


@pytest.mark.parametrize("adopted", [False, True])
def test_a_rule_reading_a_model_not_upstream_is_refused_before_anything_runs(make_project, adopted):
    """children's relationship rule reads parents, a sluice model children does not depend on:
    with --threads 1 on a fresh warehouse dbt may build children first (a missing relation), on
    an existing one against parents' previous build. Refused at the start, naming the model,
    the rule and the line that fixes it; with that line both build, parents first."""
    project = make_project("duckdb")
    project.write("seeds/raw_parents.csv", "id,name\n1,a\n2,b\n")
    project.write("seeds/raw_children.csv", "id,parent_id\n10,1\n11,2\n12,3\n")
    project.write("models/parents.sql", "select * from {{ ref('raw_parents') }}\n")
    project.write("models/children.sql", "select * from {{ ref('raw_children') }}\n")
    test = (
        "relationships: {arguments: {to: ref('parents'), field: id}}"
        if adopted
        else "sluice.sluice_relationship: {name: children_parent_known, arguments: {to: ref('parents'), field: id}}"
    )
    project.write(
        "models/schema.yml",
        f"""
        models:
          - name: parents
            config: {{materialized: sluice, meta: {{sluice: {{key: id}}}}}}
          - name: children
            config: {{materialized: sluice, meta: {{sluice: {{key: id, gate: {{high: none, medium: none}}}}}}}}
            columns:
              - name: parent_id
                data_tests:
                  - {test}
        """,
    )
    refused = project.dbt("build", "--threads", "1", expect=None)
    assert refused.returncode != 0
    text = " ".join(refused.output.split())
    rule = (
        "relationships_children_parent_id__id__ref_parents_" if adopted else "children_parent_known"
    )
    assert (
        f"sluice: model 'children', rule '{rule}', key 'to': the rule reads model 'parents'" in text
    )
    assert "Add this line to models/children.sql: -- depends_on: {{ ref('parents') }}" in text
    assert not project.relation_exists("children")
    assert not project.relation_exists("parents")

    project.write(
        "models/children.sql",
        "-- depends_on: {{ ref('parents') }}\nselect * from {{ ref('raw_children') }}\n",
    )
    built = project.dbt("build", "--threads", "1")
    assert built.status("children") == "success"
    assert project.query("select record_key from {schema}.children__quarantine") == [("[12]",)]
    assert project.query("select id from {schema}.children order by id") == [(10,), (11,)]
