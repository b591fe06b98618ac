"""No statement grows with the quarantine: an incremental build replaying 20,000 open
exceptions sends no statement larger than 64 KB (Snowflake asks for statements under 1 MB, and
a statement that Jinja renders and dbt logs on every build costs in proportion to its size).

The statements are read from dbt's own JSON log (`SQLQuery` events), as dbt sent them."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.dbt_harness import SNOWFLAKE_TOO

OPEN = 20_000
LIMIT = 64 * 1024

# 40,000 rows from digits, on every engine; every other row lacks its account
RAW = """
{{ config(materialized='table') }}
with d as (
  select 0 as n union all select 1 union all select 2 union all select 3 union all select 4
  union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
),
ids as (
  select d1.n + 10 * d2.n + 100 * d3.n + 1000 * d4.n + 10000 * d5.n as id
  from d as d1 cross join d as d2 cross join d as d3 cross join d as d4 cross join d as d5
)
select id, case when mod(id, 2) = 0 then null else 'A' end as account, 1 as loaded
from ids where id < {{ 2 * OPEN }}
""".replace("{{ 2 * OPEN }}", str(2 * OPEN))

MODEL = """
select id, account, loaded from {{ ref('raw_events') }}
{% if sluice.is_incremental() %}
where {{ sluice.batch_filter("loaded > (select max(loaded) from " ~ this ~ ")") }}
{% endif %}
"""

SCHEMA = """
models:
  - name: events_inc
    config:
      materialized: sluice
      meta: {sluice: {key: id, incremental: true, gate: {high: none}}}
    columns:
      - name: account
        data_tests:
          - sluice.sluice_not_null: {name: events_account_required, arguments: {}}
"""


def statement_sizes(root: Path) -> list[int]:
    """The size in bytes of every SQL statement in the project's JSON dbt log."""
    sizes = []
    with (root / "logs" / "dbt.log").open(encoding="utf-8") as log:
        for line in log:
            if '"SQLQuery"' in line:
                event = json.loads(line)
                if event["info"]["name"] == "SQLQuery":
                    sizes.append(len(event["data"]["sql"].encode("utf-8")))
    return sizes


def forget_statistics(project, table: str) -> None:
    """PostgreSQL: the table as autovacuum has not seen it yet, and will not (no statistics, no
    row count; the planner estimates from its pages). Needs a superuser, as the tests connect."""
    oid = f"'{{schema}}.{table}'::regclass"
    project.execute(f"alter table {{schema}}.{table} set (autovacuum_enabled = false)")
    project.execute(f"delete from pg_statistic where starelid = {oid}")
    project.execute(f"update pg_class set reltuples = -1 where oid = {oid}")


def quarantine_scans(project) -> int:
    """PostgreSQL's count of sequential scans of the model's quarantine (rescans included),
    once every session of the project's dbt has ended and reported its counts."""
    app = project.schema
    profile = project.root / "profiles.yml"
    if f"application_name: {app}" not in profile.read_text():
        project.write(
            "profiles.yml",
            profile.read_text().replace(
                "      threads:", f"      application_name: {app}\n      threads:"
            ),
        )
    gone = f"select count(*) from pg_stat_activity where application_name = '{app}'"
    deadline = time.monotonic() + 60
    while project.query(gone) != [(0,)]:
        assert time.monotonic() < deadline, "dbt's sessions did not end"
        time.sleep(0.05)
    scans = (
        "select coalesce(sum(seq_scan), 0) from pg_stat_user_tables"
        " where schemaname = '{schema}' and relname = 'events_inc__quarantine'"
    )
    return int(project.query(scans)[0][0])


@SNOWFLAKE_TOO
def test_a_build_replaying_20000_open_exceptions_sends_no_statement_over_64_kb(
    make_project, engine
):
    project = make_project(engine)
    project.write("models/raw_events.sql", RAW)
    project.write("models/events_inc.sql", MODEL)
    project.write("models/schema.yml", SCHEMA)
    project.dbt("run")
    open_count = "select count(*) from {schema}.events_inc__quarantine where status = 'open'"
    assert project.query(open_count) == [(OPEN,)]

    # ten rows fixed at the source in place: only the replay can read them again
    project.execute("update {schema}.raw_events set account = 'fixed' where id < 20")
    (project.root / "logs" / "dbt.log").unlink(missing_ok=True)
    scans = None
    if engine == "postgres":
        # as a quarantine just filled is, before autovacuum reaches it
        for table in ("events_inc__quarantine", "sluice_exception_events"):
            forget_statistics(project, table)
        scans = quarantine_scans(project)
    project.dbt("run", "-s", "events_inc", "--log-format-file", "json", "--log-level-file", "debug")
    if scans is not None:
        # a nested loop rescans the quarantine once per exception (20,000 times): the build
        # reads it a few times, whatever the planner guessed of a table autovacuum has not seen
        scanned = quarantine_scans(project) - scans
        assert scanned < 100, f"the replay scanned the quarantine {scanned} times"

    sizes = statement_sizes(project.root)
    assert len(sizes) > 10, "dbt's log holds the build's statements"
    assert max(sizes) <= LIMIT, f"largest statement {max(sizes)} bytes"
    assert project.query(open_count) == [(OPEN - 10,)]
    fixed = "select count(*) from {schema}.events_inc where account = 'fixed'"
    assert project.query(fixed) == [(10,)]
