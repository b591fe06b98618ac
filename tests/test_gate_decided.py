"""The gate counts open problems, once per row: a released or rejected record is decided and no
longer counts toward it, and a row breaking several rules of one severity is one row."""

from __future__ import annotations

import uuid

import pytest

from tests.dbt_harness import SNOWFLAKE_TOO

SCHEMA = """
seeds:
  - name: raw_items
    config: {{column_types: {{id: integer, v: integer, note: varchar(10), loaded: integer}}}}
models:
  - name: items
    config:
      materialized: sluice
      meta: {{sluice: {{key: id, gate: {gate}{incremental}}}}}
    columns:
      - name: v
        data_tests:
          - sluice.sluice_expression:
              name: items_v_small
              arguments: {{expression: "v < 100", sluice_severity: critical}}
      - name: note
        data_tests:
          - sluice.sluice_not_null:
              name: items_note_required
              arguments: {{sluice_severity: critical}}
"""

MODEL = """
select id, v, note, loaded from {{ ref('raw_items') }}
{% if sluice.is_incremental() %}
where {{ sluice.batch_filter("loaded > (select max(loaded) from " ~ this ~ ")") }}
{% endif %}
"""


def _setup(project, rows: str, gate: str, incremental: bool = False) -> None:
    project.write("seeds/raw_items.csv", "id,v,note,loaded\n" + rows)
    project.write("models/items.sql", MODEL)
    project.write(
        "models/schema.yml",
        SCHEMA.format(gate=gate, incremental=", incremental: true" if incremental else ""),
    )


def _decide(project, key: int, rule: str, decision: str) -> None:
    exception_id = project.query(
        "select exception_id from {schema}.items__quarantine "
        f"where record_key = '[{key}]' and rule_name = '{rule}'"
    )[0][0]
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
        "decision, decided_by, decided_at, reason) values "
        f"('{uuid.uuid4().hex}', '{exception_id}', 'model.sluice_test.items', '{decision}', "
        "'ana@finance', cast(current_timestamp as timestamp), 'checked with the supplier')"
    )


def _published(project) -> list[int]:
    return [r[0] for r in project.query("select id from {schema}.items order by id")]


@SNOWFLAKE_TOO
def test_a_released_row_is_published_and_no_longer_holds_the_gate(make_project, engine):
    project = make_project(engine)
    _setup(project, "1,5,a,1\n2,500,b,1\n3,7,c,1\n", "{critical: 0}")
    held = project.dbt("build", expect=1)
    assert "sluice gate held publication of model 'items'" in held.output
    assert not project.relation_exists("items")

    _decide(project, 2, "items_v_small", "release")
    project.dbt("run", "-s", "items")  # the release applied: decided, published, gate passes
    assert _published(project) == [1, 2, 3]
    assert project.query(
        "select status from {schema}.items__quarantine where record_key = '[2]'"
    ) == [("released",)]
    # and it stays so on every later build while the row is unchanged
    project.dbt("run", "-s", "items")
    assert _published(project) == [1, 2, 3]


@SNOWFLAKE_TOO
def test_a_rejected_row_stays_out_and_no_longer_holds_the_gate(make_project, engine):
    project = make_project(engine)
    _setup(project, "1,5,a,1\n2,500,b,1\n3,7,c,1\n", "{critical: 0}")
    project.dbt("build", expect=1)
    _decide(project, 2, "items_v_small", "reject")
    project.dbt("run", "-s", "items")
    assert _published(project) == [1, 3]
    assert project.query(
        "select status from {schema}.items__quarantine where record_key = '[2]'"
    ) == [("rejected",)]


def test_a_released_row_does_not_count_toward_an_incremental_gate(make_project, engine):
    project = make_project(engine)
    _setup(project, "1,5,a,1\n2,500,b,1\n3,7,c,1\n", "{critical: 1}", incremental=True)
    project.dbt("build")  # one critical row: within the gate
    assert _published(project) == [1, 3]
    _decide(project, 2, "items_v_small", "release")
    # a new batch with one new critical row: with the released one counted again, two rows
    project.execute("insert into {schema}.raw_items values (4, 900, 'd', 2), (5, 8, 'e', 2)")
    project.dbt("run", "-s", "items")
    assert _published(project) == [1, 2, 3, 5]


@SNOWFLAKE_TOO
def test_a_row_breaking_two_rules_of_one_severity_counts_once(make_project, engine):
    project = make_project(engine)
    # row 2 breaks both critical rules; the gate allows one critical row
    _setup(project, "1,5,a,1\n2,500,,1\n3,7,c,1\n", "{critical: 1}")
    project.dbt("seed")
    result = project.dbt("run", "-s", "items")
    assert "gate passed" in result.output
    assert _published(project) == [1, 3]
    runs = project.query("select rows_in, rows_published, rows_held from {schema}.sluice_runs")
    assert runs == [(3, 2, 1)]


@SNOWFLAKE_TOO
@pytest.mark.parametrize("incremental", [False, True], ids=["table", "incremental"])
def test_releasing_a_set_aside_copy_publishes_it_instead_of_the_kept_one(
    make_project, engine, incremental
):
    project = make_project(engine)
    project.write("seeds/raw_events.csv", "id,v,loaded\n1,a,1\n2,b,1\n2,c,1\n3,d,1\n")
    project.write(
        "models/events.sql",
        """
        select id, v, loaded from {{ ref('raw_events') }}
        {% if sluice.is_incremental() %}
        where {{ sluice.batch_filter("loaded > (select max(loaded) from " ~ this ~ ")") }}
        {% endif %}
        """,
    )
    project.write(
        "models/schema.yml",
        f"""
        models:
          - name: events
            config:
              materialized: sluice
              meta: {{sluice: {{key: id, incremental: {str(incremental).lower()}}}}}
            columns:
              - name: id
                data_tests:
                  - sluice.sluice_unique: {{name: events_once, arguments: {{order_by: [v]}}}}
        """,
    )
    project.dbt("build")
    published = "select id, v from {schema}.events order by id"
    assert project.query(published) == [(1, "a"), (2, "b"), (3, "d")]
    (exception_id,) = project.query(
        "select exception_id from {schema}.events__quarantine where record_key = '[2]'"
    )[0]
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
        f"decision, decided_by, decided_at, reason) values ('d1', '{exception_id}', "
        "'model.sluice_test.events', 'release', 'ana', cast(current_timestamp as timestamp), 'c is right')"
    )
    if incremental:  # the group is read again in the next batch
        project.execute("update {schema}.raw_events set loaded = 2 where id = 2")
    project.dbt("build")
    assert project.query(published) == [(1, "a"), (2, "c"), (3, "d")]
    runs = project.query(
        "select rows_in, rows_published, rows_held, rows_set_aside from {schema}.sluice_runs "
        "order by finished_at"
    )
    assert runs[-1][0] == runs[-1][1] + runs[-1][2] + runs[-1][3]
    assert runs[-1][3] == 1
