"""A record's identity comes from its values: a row with a NULL key part keeps its record when a
column changes type or a column is added, identical copies keep their copy numbers whatever the
order the rows arrive in, a quarantine written with the earlier identity of such rows keeps its
exceptions, and key text does not depend on the session's formats or time zone."""

from __future__ import annotations

import json
import random

import pytest

from tests.dbt_harness import SNOWFLAKE_TOO, DbtProject


def _events_project(project: DbtProject, v_type: str, extra: str = "") -> None:
    """Model `events`, key `id`, one rule on v; `v_type` is v's type in the model, `extra` more
    columns of its select list."""
    project.write(
        "models/events.sql",
        f"select id, name, cast(v as {v_type}) as v{extra} from {{{{ ref('raw_events') }}}}\n",
    )
    project.write(
        "models/schema.yml",
        """
        seeds:
          - name: raw_events
            config: {column_types: {id: integer, name: varchar(20), v: integer}}
        models:
          - name: events
            config:
              materialized: sluice
              meta: {sluice: {key: [id], attempt_interval: 0, gate: {high: none, medium: none, low: none}}}
            columns:
              - name: v
                data_tests:
                  - sluice.sluice_expression:
                      name: events_v_small
                      arguments: {expression: "v < 100"}
        """,
    )


def _quarantine(project: DbtProject, model: str = "events") -> list[tuple]:
    return project.query(
        "select exception_id, record_key, record_copy, rule_name, status, attempt_count "
        f"from {{schema}}.{model}__quarantine order by rule_name, record_key, record_copy"
    )


@SNOWFLAKE_TOO
def test_a_null_key_record_keeps_its_identity_when_types_and_columns_change(make_project, engine):
    project = make_project(engine)
    project.write("seeds/raw_events.csv", "id,name,v\n,ann,5\n,bob,500\n1,ok,5\n")
    _events_project(project, "integer")
    project.dbt("build")
    first = _quarantine(project)
    # two NULL-key rows, each its own record; bob's also fails the rule
    assert [(r[3], r[4], r[5]) for r in first] == [
        ("events_v_small", "open", 1),
        ("sluice_record_key", "open", 1),
        ("sluice_record_key", "open", 1),
    ]
    assert all(r[1].startswith("[null]#v") for r in first)

    # v becomes a double, then a decimal, and a column is added (NULL on the rows): same records,
    # one more attempt each, nothing withdrawn, nothing opened
    for attempt, (v_type, extra) in enumerate(
        [
            ("double precision" if engine == "postgres" else "double", ""),
            ("decimal(12, 2)", ", cast(null as varchar(10)) as note"),
        ],
        start=2,
    ):
        _events_project(project, v_type, extra)
        project.dbt("build")
        assert _quarantine(project) == [
            (eid, key, copy, rule, status, attempt) for eid, key, copy, rule, status, _ in first
        ], v_type
    assert project.query("select id from {schema}.events") == [(1,)]


@pytest.mark.parametrize(
    "engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_identical_copies_keep_their_copy_numbers_in_any_input_order(make_project, engine):
    project = make_project(engine)
    rows = ["1,same,5"] * 3 + ["2,same,5"] * 2 + [f"{i},row{i},5" for i in range(3, 40)]
    project.write(
        "models/events.sql",
        # the model's own order differs from build to build
        "select id, name, v from {{ ref('raw_events') }} order by random()\n",
    )
    project.write(
        "models/schema.yml",
        """
        seeds:
          - name: raw_events
            config: {column_types: {id: integer, name: varchar(20), v: integer}}
        models:
          - name: events
            config:
              materialized: sluice
              meta: {sluice: {key: [id], attempt_interval: 0, gate: {high: none, medium: none, low: none}}}
            data_tests:
              - sluice.sluice_unique:
                  name: events_id_unique
                  arguments: {columns: [id]}
        """,
    )
    shuffle = random.Random(7)
    seen = None
    for _ in range(5):
        shuffle.shuffle(rows)
        project.write("seeds/raw_events.csv", "id,name,v\n" + "\n".join(rows) + "\n")
        project.dbt("build")
        held = [(r[1], r[2], r[4]) for r in _quarantine(project)]
        # the repeats held are always the later copies, and no exception opened a second time
        assert held == [("[1]", 2, "open"), ("[1]", 3, "open"), ("[2]", 2, "open")]
        ids = [r[0] for r in _quarantine(project)]
        assert seen is None or ids == seen
        seen = ids
    assert project.query("select count(*) from {schema}.events") == [(39,)]


@SNOWFLAKE_TOO
def test_a_quarantine_keyed_by_the_row_json_keeps_its_exceptions(make_project, engine):
    """Rows with a NULL key part were identified by `#` and the md5 of their row's JSON; the next
    build moves each exception to the identity by values, history and all: no withdrawn and new
    pair, and the audit trail stays intact."""
    project = make_project(engine)
    project.write("seeds/raw_events.csv", "id,name,v\n,ann,5\n,bob,500\n1,ok,5\n2,big,700\n")
    _events_project(project, "integer")
    project.dbt("build")
    # the quarantine and its history as the earlier identity wrote them: '[null]#' || md5(row_json)
    for table in ("sluice_exception_events", "events__quarantine"):
        project.execute(
            f"update {{schema}}.{table} set record_key = '[null]#' || md5(("
            "select q.row_json from {schema}.events__quarantine as q "
            f"where q.exception_id = {{schema}}.{table}.exception_id)), "
            "exception_id = md5('model.sluice_test.events|[null]#' || md5(("
            "select q.row_json from {schema}.events__quarantine as q "
            f"where q.exception_id = {{schema}}.{table}.exception_id)) || '|' || "
            f"cast(record_copy as varchar) || '|' || rule_name) "
            "where record_key like '[null]#v%'"
        )
    old = _quarantine(project)
    assert all("#v" not in r[1] for r in old)
    old_events = project.query("select count(*) from {schema}.sluice_exception_events")[0][0]

    project.dbt("build")
    now = _quarantine(project)
    assert [(r[3], r[4], r[5]) for r in now] == [
        ("events_v_small", "open", 2),
        ("events_v_small", "open", 2),
        ("sluice_record_key", "open", 2),
        ("sluice_record_key", "open", 2),
    ]
    assert [r[1] for r in now if r[1] != "[2]"] and all(
        r[1].startswith("[null]#v") for r in now if r[1] != "[2]"
    )
    # every event moved with its exception; this build wrote no status event (nothing changed)
    assert project.query(
        "select count(*) from {schema}.sluice_exception_events as e "
        "left join {schema}.events__quarantine as q on q.exception_id = e.exception_id "
        "and q.record_key = e.record_key where q.exception_id is null"
    ) == [(0,)]
    assert (
        project.query("select count(*) from {schema}.sluice_exception_events")[0][0] == old_events
    )
    # the next build changes nothing more
    project.dbt("build")
    assert [r[:4] for r in _quarantine(project)] == [r[:4] for r in now]


def _row(payload: str) -> list[str]:
    return [name.lower() for name in json.loads(payload)]


@SNOWFLAKE_TOO
def test_evidence_lists_the_columns_in_the_model_s_order(make_project, engine):
    project = make_project(engine)
    project.write("seeds/raw_events.csv", "id,name,v\n1,zed,500\n")
    _events_project(project, "integer", ", 'x' as a_first, 'y' as b_second")
    project.dbt("build")
    [(payload,)] = project.query("select row_json from {schema}.events__quarantine")
    assert _row(payload) == ["id", "name", "v", "a_first", "b_second"]


@SNOWFLAKE_TOO
def test_castable_dates_and_timestamps_hold_the_same_rows_on_every_engine(make_project, engine):
    project = make_project(engine)
    # d as a date, t as a timestamp: ISO 8601 only, the day existing in its month
    project.write(
        "seeds/raw_texts.csv",
        "id,d,t\n"
        "1,2024-01-03,2024-01-03\n"
        "2,2024-02-30,2024-02-30 10:00:00\n"
        "3,2024-01-03 10:00:00,2024-01-03T10:00:00Z\n"
        "4,03/01/2024,2024-01-03 10:00:00.123456+02:00\n"
        "5,2024-1-3,2024-01-03 24:00:00\n"
        "6,,Jan 3 2024\n"
        "7, 2024-01-03 ,2024-01-03 10:00\n",
    )
    project.write("models/texts.sql", "select id, d, t from {{ ref('raw_texts') }}\n")
    project.write(
        "models/schema.yml",
        """
        seeds:
          - name: raw_texts
            config: {column_types: {id: integer, d: varchar(30), t: varchar(40)}}
        models:
          - name: texts
            config:
              materialized: sluice
              meta: {sluice: {key: [id], gate: {high: none, medium: none, low: none}}}
            columns:
              - name: d
                data_tests:
                  - sluice.sluice_castable: {name: texts_d_date, arguments: {data_type: date}}
              - name: t
                data_tests:
                  - sluice.sluice_castable: {name: texts_t_timestamp, arguments: {data_type: timestamp}}
        """,
    )
    project.dbt("build")
    held = project.query(
        "select rule_name, record_key from {schema}.texts__quarantine order by 1, 2"
    )
    assert held == [
        ("texts_d_date", "[2]"),
        ("texts_d_date", "[3]"),
        ("texts_d_date", "[4]"),
        ("texts_d_date", "[5]"),
        ("texts_t_timestamp", "[2]"),
        ("texts_t_timestamp", "[5]"),
        ("texts_t_timestamp", "[6]"),
    ]


@SNOWFLAKE_TOO
def test_a_held_build_counts_each_row_once_in_the_gate_the_run_and_the_payload(
    make_project, engine
):
    project = make_project(engine)
    # two rows with a NULL key break both not_null(id) and sluice_record_key (both high), one
    # more breaks the rule on v: three rows over a gate of one
    project.write("seeds/raw_events.csv", "id,name,v\n,ann,5\n,bob,500\n1,ok,5\n2,big,700\n")
    _events_project(project, "integer")
    schema = (project.root / "models/schema.yml").read_text()
    project.write(
        "models/schema.yml",
        schema.replace("gate: {high: none, medium: none, low: none}", "gate: {high: 1}")
        .replace('{expression: "v < 100"}', '{expression: "v < 100", sluice_severity: high}')
        .replace(
            "            columns:\n",
            "            columns:\n"
            "              - name: id\n"
            "                data_tests:\n"
            "                  - sluice.sluice_not_null: {name: events_id_required}\n",
        ),
    )
    result = project.dbt("build", expect=1)
    message = result.result("events")["message"]
    assert "high: 3 rows" in message, message
    payload = json.loads(message.split("sluice-counts: ", 1)[1])
    assert (payload["rows_in"], payload["rows_held"], payload["gate_status"]) == (4, 3, "held")
    assert project.query(
        "select rows_in, rows_published, rows_held, gate_status from {schema}.sluice_runs"
    ) == [(4, 0, 3, "held")]
