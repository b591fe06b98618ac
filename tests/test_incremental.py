"""Incremental sluice models merge on the key; only the new batch is evaluated."""

from __future__ import annotations

from tests import scenario
from tests.dbt_harness import SNOWFLAKE_TOO

RAW = """event_id,account,amount,loaded_at
1,A,10,2024-01-01 00:00:00
2,,20,2024-01-01 00:00:00
3,B,30,2024-01-01 00:00:00
"""


@SNOWFLAKE_TOO
def test_incremental_build_merges_on_the_key(make_project, engine):
    project = make_project(engine)
    project.write("seeds/raw_events.csv", RAW)
    project.write(
        "models/events.sql",
        """
        select * from {{ ref('raw_events') }}
        {% if sluice.is_incremental() %}
        where loaded_at > (select max(loaded_at) from {{ this }})
        {% endif %}
        """,
    )
    project.write(
        "models/schema.yml",
        """
        seeds:
          - name: raw_events
            config: {column_types: {event_id: integer, account: varchar(5), amount: integer, loaded_at: timestamp}}
        models:
          - name: events
            config:
              materialized: sluice
              meta: {sluice: {key: event_id, incremental: true, gate: {high: 5}}}
            columns:
              - name: account
                data_tests:
                  - sluice.sluice_not_null: {name: events_account_required, arguments: {}}
        """,
    )
    project.dbt("build")
    assert project.query("select event_id from {schema}.events order by 1") == [(1,), (3,)]

    # a new batch: event 2 is fixed at the source, event 3 changes, event 4 is new and broken
    project.execute(
        "insert into {schema}.raw_events values "
        "(2, 'A', 21, '2024-01-02 00:00:00'), (3, 'B', 31, '2024-01-02 00:00:00'), (4, null, 40, '2024-01-02 00:00:00')"
    )
    result = project.dbt("run", "-s", "events")
    assert "published 2 of 3 rows" in result.result("events")["message"]
    assert project.query("select event_id, amount from {schema}.events order by 1") == [
        (1, 10),
        (2, 21),
        (3, 31),
    ]
    statuses = project.query(
        "select record_key, status from {schema}.events__quarantine order by 1"
    )
    assert statuses == [("[2]", "recovered"), ("[4]", "open")]
    assert project.query("select mode from {schema}.sluice_runs order by finished_at") == [
        ("table",),
        ("incremental",),
    ]

    # --full-refresh rebuilds the table from everything and keeps the quarantine
    # it reads both versions of event 2: the fixed one is published, the broken one (now the
    # record's second copy) is held again; nothing is lost from the quarantine
    project.dbt("run", "-s", "events", "--full-refresh")
    assert project.query(
        "select record_key, record_copy, status from {schema}.events__quarantine order by 1, 2"
    ) == [("[2]", 1, "recovered"), ("[2]", 2, "open"), ("[4]", 1, "open")]
    assert project.query("select event_id, amount from {schema}.events order by 1, 2") == [
        (1, 10),
        (2, 21),
        (3, 30),
        (3, 31),
    ]


@SNOWFLAKE_TOO
def test_incremental_builds_replay_open_exceptions(make_project, engine):
    project = make_project(engine)
    project.write("seeds/raw_events.csv", RAW + "5,,50,2024-01-01 00:00:00\n")
    project.write(
        "models/events.sql",
        """
        select * from {{ ref('raw_events') }}
        {% if sluice.is_incremental() %}
        where {{ sluice.batch_filter("loaded_at > (select max(loaded_at) from " ~ this ~ ")") }}
        {% endif %}
        """,
    )
    project.write(
        "models/schema.yml",
        """
        seeds:
          - name: raw_events
            config: {column_types: {event_id: integer, account: varchar(5), amount: integer, loaded_at: timestamp}}
        models:
          - name: events
            config:
              materialized: sluice
              meta: {sluice: {key: event_id, incremental: true, gate: {high: none}, attempt_interval: 0}}
            columns:
              - name: account
                data_tests:
                  - sluice.sluice_not_null: {name: events_account_required, arguments: {}}
        """,
    )
    project.dbt("build")
    # the source fixes event 2 in place (its loaded_at does not move, so only replay finds it)
    project.execute("update {schema}.raw_events set account = 'C' where event_id = 2")
    result = project.dbt("run", "-s", "events")
    assert "published 1 of 2 rows" in result.result("events")["message"]  # replayed: 2 and 5
    assert project.query("select event_id, account from {schema}.events order by 1") == [
        (1, "A"),
        (2, "C"),
        (3, "B"),
    ]
    assert project.query(
        "select record_key, status, attempt_count from {schema}.events__quarantine order by 1"
    ) == [("[2]", "recovered", 1), ("[5]", "open", 2)]


def test_replayed_rows_do_not_count_toward_the_gate_again(make_project, engine):
    project = make_project(engine)
    rows = ["event_id,account,amount,loaded_at"] + [
        f"{i},{'' if i == 7 else 'A'},{i},2024-01-01 00:00:00" for i in range(1, 21)
    ]
    project.write("seeds/raw_events.csv", "\n".join(rows) + "\n")
    project.write(
        "models/events.sql",
        """
        select * from {{ ref('raw_events') }}
        {% if sluice.is_incremental() %}
        where {{ sluice.batch_filter("loaded_at > (select max(loaded_at) from " ~ this ~ ")") }}
        {% endif %}
        """,
    )
    project.write(
        "models/schema.yml",
        """
        seeds:
          - name: raw_events
            config: {column_types: {event_id: integer, account: varchar(5), amount: integer, loaded_at: timestamp}}
        models:
          - name: events
            config:
              materialized: sluice
              meta: {sluice: {key: event_id, incremental: true, attempt_interval: 0}}
            columns:
              - name: account
                data_tests:
                  - sluice.sluice_not_null: {name: events_account_required, arguments: {}}
        """,
    )
    project.dbt("build")  # 1 high row of 20 = 5%, under the default 10%
    # the next batch is only the replayed row (100% of the batch), already held: not a new breach
    result = project.dbt("run", "-s", "events")
    assert result.status("events") == "success", result.output[-2000:]
    assert project.query("select attempt_count, status from {schema}.events__quarantine") == [
        (2, "open")
    ]


@SNOWFLAKE_TOO
def test_incremental_builds_replay_dead_letters_and_recover_them_once_fixed(make_project, engine):
    project = make_project(engine)
    project.write("seeds/raw_events.csv", RAW + "5,,50,2024-01-01 00:00:00\n")
    project.write(
        "models/events.sql",
        """
        select * from {{ ref('raw_events') }}
        {% if sluice.is_incremental() %}
        where {{ sluice.batch_filter("loaded_at > (select max(loaded_at) from " ~ this ~ ")") }}
        {% endif %}
        """,
    )
    project.write(
        "models/schema.yml",
        """
        seeds:
          - name: raw_events
            config: {column_types: {event_id: integer, account: varchar(5), amount: integer, loaded_at: timestamp}}
        models:
          - name: events
            config:
              materialized: sluice
              meta: {sluice: {key: event_id, incremental: true, gate: {high: none}, max_attempts: 1}}
            columns:
              - name: account
                data_tests:
                  - sluice.sluice_not_null: {name: events_account_required, arguments: {}}
        """,
    )
    project.dbt("build")  # max_attempts 1: events 2 and 5 go straight to dead_letter
    # the source fixes event 2 in place (its loaded_at does not move, so only replay finds it)
    project.execute("update {schema}.raw_events set account = 'C' where event_id = 2")
    result = project.dbt("run", "-s", "events")
    assert "published 1 of 2 rows" in result.result("events")["message"]  # replayed: 2 and 5
    assert project.query("select event_id, account from {schema}.events order by 1") == [
        (1, "A"),
        (2, "C"),
        (3, "B"),
    ]
    # the fixed dead letter is recovered, with its event; the other stays as it was
    assert project.query(
        "select record_key, status, attempt_count from {schema}.events__quarantine order by 1"
    ) == [("[2]", "recovered", 1), ("[5]", "dead_letter", 1)]
    assert project.query(
        "select from_status, to_status from {schema}.sluice_exception_events "
        f"where record_key = '{scenario.event_key('[2]')}' and event_type = 'status' "
        "order by event_at"
    ) == [(None, "dead_letter"), ("dead_letter", "recovered")]
