"""Decided rows are no open problem for the report: a row held only because a reviewer rejected
its record, or a duplicate copy set aside, leaves the model's exposures healthy and closes their
incidents, with the warehouse's sluice_runs and from the run results alone (--no-warehouse).
Rows held by an open or dead-lettered failure still make them degraded, and a new failure after
a recovery opens a new incident. Real dbt builds on DuckDB, PostgreSQL and Snowflake semantics.
"""

from __future__ import annotations

import json
import uuid

from sluice.cli import main

from tests.dbt_harness import SNOWFLAKE_TOO, DbtProject

ITEMS = """
seeds:
  - name: raw_items
    config: {column_types: {id: integer, v: integer, note: varchar(10)}}
models:
  - name: items
    config:
      materialized: sluice
      meta: {sluice: {key: id, gate: {critical: 0, medium: none, high: none}, owner: erp-team}}
    columns:
      - name: v
        data_tests:
          - sluice.sluice_expression:
              name: items_v_small
              arguments: {expression: "v < 100", sluice_severity: medium}
      - name: note
        data_tests:
          - sluice.sluice_not_null:
              name: items_note_required
              arguments: {sluice_severity: high, max_attempts: 1}
exposures:
  - name: items_board
    type: dashboard
    owner: {name: Finance, email: finance@example.com}
    depends_on: [ref('items_total')]
"""

EVENTS = """
models:
  - name: events
    config:
      materialized: sluice
      meta: {sluice: {key: id}}
    columns:
      - name: id
        data_tests:
          - sluice.sluice_unique: {name: events_once, arguments: {order_by: [v]}}
exposures:
  - name: events_board
    type: dashboard
    owner: {name: Ops}
    depends_on: [ref('events_count')]
"""


def _report(project: DbtProject, capsys, name: str, *flags: str) -> dict:
    out = project.root / "reports" / name
    code = main(
        [
            "report",
            "--project-dir",
            str(project.root),
            "--profiles-dir",
            str(project.root),
            "--format",
            "json",
            "--output-dir",
            str(out),
            *flags,
        ]
    )
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    doc = json.loads((out / "impact.json").read_text())
    assert code == (1 if doc["summary"]["has_problems"] else 0)
    return doc


def _board(doc: dict) -> tuple[str, list[str]]:
    (board,) = doc["exposures"]
    return board["status"], [r["root_cause_id"] for r in board["reasons"]]


def _incidents(project: DbtProject) -> list[tuple[str, str]]:
    """(incident id, change type) of every change recorded, in order."""
    return [
        (str(i), str(c))
        for i, c in project.query(
            "select incident_id, change_type from {schema}.sluice_incidents "
            "order by changed_at, case change_type when 'opened' then 0 "
            "when 'updated' then 1 else 2 end"
        )
    ]


def _decide(project: DbtProject, model: str, key: str, decision: str) -> None:
    (exception_id,) = project.query(
        f"select exception_id from {{schema}}.{model}__quarantine where record_key = '{key}'"
    )[0]
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
        "decision, decided_by, decided_at, reason) values "
        f"('{uuid.uuid4().hex}', '{exception_id}', 'model.sluice_test.{model}', '{decision}', "
        "'ana@finance', cast(current_timestamp as timestamp), 'checked with the supplier')"
    )


def _last_run(project: DbtProject, model: str) -> tuple[int, ...]:
    rows = project.query(
        "select rows_in, rows_published, rows_held, rows_set_aside, rows_held_open "
        f"from {{schema}}.sluice_runs where model_name = '{model}' order by finished_at"
    )
    return tuple(int(n) for n in rows[-1])


def _payload(result, model: str) -> dict:
    message = result.result(model)["message"]
    return json.loads(message.split("sluice-counts: ", 1)[1].splitlines()[0])


@SNOWFLAKE_TOO
def test_a_rejected_row_closes_the_incident_and_a_new_failure_opens_another(
    make_project, engine, capsys
):
    project = make_project(engine)
    project.write("seeds/raw_items.csv", "id,v,note\n1,5,a\n2,500,b\n3,7,c\n")
    project.write("models/items.sql", "select id, v, note from {{ ref('raw_items') }}\n")
    project.write("models/items_total.sql", "select sum(v) as v from {{ ref('items') }}\n")
    project.write("models/schema.yml", ITEMS)

    # row 2 breaks a rule: held, open, published without it
    project.dbt("build")
    assert _last_run(project, "items") == (3, 2, 1, 0, 1)
    first = _report(project, capsys, "held")
    assert _board(first) == ("degraded", ["rows_held:model.sluice_test.items"])
    assert [c for _, c in _incidents(project)] == ["opened"]
    assert _board(_report(project, capsys, "held-nowh", "--no-warehouse"))[0] == "degraded"

    # a reviewer rejects it: still held, for good, and decided
    _decide(project, "items", "[2]", "reject")
    built = project.dbt("build")
    assert project.query(
        "select status from {schema}.items__quarantine where record_key = '[2]'"
    ) == [("rejected",)]
    assert _last_run(project, "items") == (3, 2, 1, 0, 0)
    assert "held 1 (1 decided)" in built.result("items")["message"]
    assert _payload(built, "items")["rows_held_open"] == 0
    decided = _report(project, capsys, "rejected")
    assert _board(decided) == ("healthy", [])
    assert decided["root_causes"] == []
    (model,) = decided["quarantine"]["models"]
    assert (model["rows_held"], model["rows_decided"]) == (1, 1)
    assert decided["summary"]["rows_decided"] == 1
    assert decided["incidents"]["open"] == []
    changes = _incidents(project)
    assert [c for _, c in changes] == ["opened", "closed"]
    assert changes[0][0] == changes[1][0]
    nowh = _report(project, capsys, "rejected-nowh", "--no-warehouse")
    assert _board(nowh) == ("healthy", [])
    assert nowh["quarantine"]["models"][0]["rows_decided"] == 1

    # a new row fails a rule at its attempt limit at once: dead-lettered, held, not decided
    project.execute("insert into {schema}.raw_items values (4, 8, null)")
    project.dbt("run", "-s", "items")
    assert project.query(
        "select status from {schema}.items__quarantine where record_key = '[4]'"
    ) == [("dead_letter",)]
    assert _last_run(project, "items") == (4, 2, 2, 0, 1)
    again = _report(project, capsys, "new-failure")
    assert _board(again) == ("degraded", ["rows_held:model.sluice_test.items"])
    changes = _incidents(project)
    assert [c for _, c in changes] == ["opened", "closed", "opened"]
    assert changes[2][0] != changes[0][0]
    assert [i["incident_id"] for i in again["incidents"]["open"]] == [changes[2][0]]
    assert _board(_report(project, capsys, "new-failure-nowh", "--no-warehouse"))[0] == "degraded"


@SNOWFLAKE_TOO
def test_a_duplicate_copy_set_aside_never_degrades_the_exposure(make_project, engine, capsys):
    project = make_project(engine)
    project.write("seeds/raw_events.csv", "id,v\n1,a\n2,b\n2,c\n3,d\n")
    project.write("models/events.sql", "select id, v from {{ ref('raw_events') }}\n")
    project.write("models/events_count.sql", "select count(*) as n from {{ ref('events') }}\n")
    project.write("models/schema.yml", EVENTS)

    # the second copy of 2 is set aside (route deduplicate)
    project.dbt("build")
    assert _last_run(project, "events") == (4, 3, 0, 1, 0)
    for name, flags in (("copies", ()), ("copies-nowh", ("--no-warehouse",))):
        doc = _report(project, capsys, name, *flags)
        assert _board(doc) == ("healthy", []), name
        assert doc["quarantine"]["models"][0]["rows_decided"] == 1, name

    # a reviewer releases that copy: it is published, the kept copy set aside instead
    _decide(project, "events", "[2]", "release")
    project.dbt("build")
    assert project.query("select id, v from {schema}.events order by id") == [
        (1, "a"),
        (2, "c"),
        (3, "d"),
    ]
    assert _last_run(project, "events") == (4, 3, 0, 1, 0)
    for name, flags in (("swapped", ()), ("swapped-nowh", ("--no-warehouse",))):
        doc = _report(project, capsys, name, *flags)
        assert _board(doc) == ("healthy", []), name
    assert project.query("select count(*) from {schema}.sluice_incidents") == [(0,)]
