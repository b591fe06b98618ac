"""Benchmark: computing the operational metrics on DuckDB, against a plain GROUP BY of the events.

    python bench/metrics.py [--exceptions 1000000] [--events-per-exception 10] [--models 100]
                            [--builds 100] [--repeat 3] [--prom-models 500]

Setup: a DuckDB database with `sluice_runs` (one row per model and build) and
`sluice_exception_events` (EXCEPTIONS exceptions, each with EVENTS_PER_EXCEPTION status events
in successive builds of its model, moving between open, dead_letter and recovered), and a dbt
project installing sluice, whose `sluice_metrics` model is compiled by `dbt compile` (a first
build: the whole history counted at once). Compiled before `sluice_rule_queues` exists, the
model counts each build's queue from the events (a history recorded by an earlier version);
that SELECT's result, written as each build records its queue (a row per rule with exceptions
open or dead-lettered or changed by the build, with the severity and owner its exceptions carry,
and the model's row), is the table `sluice_rule_queues`, and compiled again the model reads it.
Both compiled SELECTs must give the same rows (all columns but severity and owner, which a rule
outside the project takes from its exceptions in the one, from the build's events in the other).

Measured, each the median of REPEAT rounds after a warm-up, sides in a different order every
round, each result written to a temporary table (its row count checked against the warm-up's):
- `group_by`: the plain count of the events per model, rule, invocation and status;
- `sluice_metrics`: the compiled model's SELECT (every build of every model and rule), reading
  the recorded queues;
- `sluice_metrics_from_events`: the same, compiled without recorded queues;
- `textfile`: the queries `sluice metrics --prom` runs (per rule its counters; each model's
  latest recorded queue); `textfile_from_events`: without recorded queues;
- `sluice_metrics_incremental`: after `dbt run -s sluice_metrics` has counted the history and one
  more build of every model has been recorded (a new exception per model and rule opened, the
  open ones of the latest builds recovered, its queue recorded), the model's SELECT as an
  incremental run compiles it (the rows of the new build only; the delete+insert that follows
  is not timed).
Then the textfile rendered for PROM_MODELS models of 8 rules each (tests/test_metrics_textfile.py,
`at_scale`): its size.
The last line printed is one JSON object with every figure. Targets: sluice_metrics at most 2x
group_by (the incremental SELECT is given as a ratio too); the textfile under 1 MB for 500 models.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from _dbt import REPO, dbt_command, make_duckdb_project, run_dbt
from sluice.escalate.metrics import render_operational
from sluice.warehouse.metrics import _oldest_sql, _queue_from_events_sql, _queues_sql, _rules_sql

sys.path.insert(0, str(REPO))
from tests.test_metrics_textfile import at_scale  # the textfile sized as the test sizes it

WORK = REPO / "bench" / ".work" / "metrics"
STATUSES = ("open", "dead_letter", "open", "recovered")


def _load(
    db: duckdb.DuckDBPyConnection, exceptions: int, per: int, models: int, builds: int
) -> None:
    db.execute(
        "drop table if exists sluice_runs; drop table if exists sluice_exception_events; "
        "drop table if exists sluice_metrics; drop table if exists sluice_rule_queues"
    )
    db.execute(
        f"""
        create table sluice_runs as
        select 'inv' || b as invocation_id, 'model.bench.m' || m as model_unique_id,
            'm' || m as model_name, 'r' as relation_name, 'q' as quarantine_relation,
            'table' as mode,
            timestamp '2026-01-01' + to_hours(b::bigint) as run_started_at,
            timestamp '2026-01-01' + to_hours(b::bigint) + to_seconds(m::bigint) as finished_at,
            1000::bigint as rows_in, 990::bigint as rows_published, 10::bigint as rows_held,
            0::bigint as rows_flagged, 0::bigint as rows_set_aside, 'passed' as gate_status,
            null::varchar as gate_message, '[]' as rule_counts_json, 10::bigint as rows_held_open,
            null::timestamp as build_started_at, null::decimal(18, 6) as build_duration_seconds
        from range({models}) as t1(m), range({builds}) as t2(b)
        """
    )
    statuses = "['" + "', '".join(STATUSES) + "']"
    db.execute(
        f"""
        create table sluice_exception_events as
        with ex as (
            select i, i % {models} as m, 'rule_' || ((i // {models}) % 8) as rule_name,
                (hash(i) % ({builds} - {per}))::bigint as first_build
            from range({exceptions}) as t(i)
        )
        select
            md5(i || '|' || k) as event_id, 'e' || i as exception_id, 'm' || m as model_name,
            'model.bench.m' || m as model_unique_id, '[' || i || ']' as record_key,
            1 as record_copy, rule_name, 'invalid_value' as error_class, 'medium' as severity,
            'quarantine' as route, 'team_' || (m % 7) as owner,
            case when k = 0 then null else {statuses}[((k - 1) % 4) + 1] end as from_status,
            {statuses}[(k % 4) + 1] as to_status, k as attempt_count,
            'inv' || (first_build + k) as invocation_id,
            timestamp '2026-01-01' + to_hours((first_build + k)::bigint) + to_seconds(m::bigint) as event_at,
            'sluice' as actor, null::varchar as reason, 'status' as event_type,
            case when k > 0 then timestamp '2026-01-01' + to_hours((first_build + k - 1)::bigint)
                + to_seconds(m::bigint) end as from_status_at
        from ex, range({per}) as t2(k)
        """
    )


OWNER = "'team_' || (cast(substr(model_unique_id, 14) as bigint) % 7)"
"""The owner the exceptions of a model carry (`_load`)."""
QUEUE_COLUMNS = (
    "invocation_id, model_unique_id, rule_name, open_at_end, dead_letter_at_end, "
    "oldest_opened_at, severity, owner"
)


def _record_queues(db: duckdb.DuckDBPyConnection, counted: str) -> None:
    """`sluice_rule_queues` as the builds record it, from the rows `counted` (the model's SELECT
    counting the queue from the events): per build, a row per rule with exceptions open or
    dead-lettered or changed by the build, and the model's row (rule NULL)."""
    changed = " + ".join(
        f"m.{c}"
        for c in (
            "new_exceptions",
            "recovered",
            "released",
            "rejected",
            "dead_lettered",
            "withdrawn",
        )
    )
    db.execute(
        f"""
        create or replace table sluice_rule_queues as
        with m as ({counted})
        select {QUEUE_COLUMNS.replace("severity, owner", f"'medium' as severity, {OWNER} as owner")}
        from m where m.open_at_end + m.dead_letter_at_end + {changed} > 0
        union all
        select invocation_id, model_unique_id, null, sum(open_at_end), sum(dead_letter_at_end),
            min(oldest_opened_at), null, null
        from m group by invocation_id, model_unique_id
        """
    )


def _add_build(db: duckdb.DuckDBPyConnection, build: int, models: int) -> None:
    """One more build of every model: a new open exception per model and rule, and the
    exceptions whose latest event is into `open` recovered; its queue recorded as the build
    records it. (The build's start and duration are null here.)"""
    at = f"timestamp '2026-01-01' + to_hours({build}::bigint) + to_seconds(m::bigint)"
    db.execute(
        f"""
        insert into sluice_runs
        select 'inv' || {build}, 'model.bench.m' || m, 'm' || m, 'r', 'q', 'table',
            timestamp '2026-01-01' + to_hours({build}::bigint), {at},
            1000, 990, 10, 0, 0, 'passed', null, '[]', 10, null, null
        from range({models}) as t(m)
        """
    )
    db.execute(
        f"""
        insert into sluice_exception_events
        with latest as (
            select exception_id, arg_max(to_status, event_at) as status,
                max(event_at) as entered_at,
                any_value(model_unique_id) as model_unique_id, any_value(rule_name) as rule_name
            from sluice_exception_events group by exception_id
        ), moved as (
            select exception_id, model_unique_id, rule_name, 'open' as from_status,
                'recovered' as to_status, entered_at
            from latest where status = 'open'
            union all
            select 'new' || m || '_' || r, 'model.bench.m' || m, 'rule_' || r, null, 'open', null
            from range({models}) as t1(m), range(8) as t2(r)
        )
        select md5(exception_id || '|{build}'), exception_id,
            substr(model_unique_id, 13), model_unique_id, '[]', 1, rule_name, 'invalid_value',
            'medium', 'quarantine', 'team', from_status, to_status, 1, 'inv{build}',
            timestamp '2026-01-01' + to_hours({build}::bigint)
                + to_seconds(cast(substr(model_unique_id, 14) as bigint)),
            'sluice', null, 'status', entered_at
        from moved
        """
    )
    db.execute(
        f"""
        insert into sluice_rule_queues
        with latest as (
            select exception_id, arg_max(to_status, event_at) as status,
                max(event_at) as entered_at, any_value(model_unique_id) as model_unique_id,
                any_value(rule_name) as rule_name,
                arg_max(invocation_id, event_at) as last_invocation
            from sluice_exception_events where event_type = 'status' group by exception_id
        ), rules as (
            select model_unique_id, rule_name,
                count(case when status = 'open' then 1 end) as open_at_end,
                count(case when status = 'dead_letter' then 1 end) as dead_letter_at_end,
                min(case when status = 'open' then entered_at end) as oldest_opened_at
            from latest
            where status in ('open', 'dead_letter') or last_invocation = 'inv{build}'
            group by model_unique_id, rule_name
        )
        select 'inv{build}', model_unique_id, rule_name, open_at_end, dead_letter_at_end,
            oldest_opened_at, 'medium', {OWNER}
        from rules
        union all
        select 'inv{build}', model_unique_id, null, sum(open_at_end), sum(dead_letter_at_end),
            min(oldest_opened_at), null, null
        from rules group by model_unique_id
        """
    )


def _incremental_sql(root: Path, database: Path, builds: int, models: int) -> str | None:
    """The history counted by `dbt run`, one more build recorded, and the SELECT the next
    incremental run of sluice_metrics compiles to."""
    run = run_dbt(root, "run", "-s", "sluice_metrics")
    if run.exit_code != 0:
        print(run.output, file=sys.stderr)
        return None
    with duckdb.connect(str(database)) as db:
        _add_build(db, builds, models)
    compiled = _compile(root)
    if "sluice_rule_queues" not in compiled:
        raise SystemExit("the incremental run did not read the recorded queues")
    return compiled


def _compile(root: Path) -> str:
    """The SELECT `dbt compile` makes of sluice_metrics."""
    run = run_dbt(root, "compile", "-s", "sluice_metrics")
    if run.exit_code != 0:
        raise SystemExit(run.output)
    return next((root / "target" / "compiled").rglob("sluice_metrics.sql")).read_text()


def _same_rows(db: duckdb.DuckDBPyConnection, one: str, other: str) -> None:
    """Both SELECTs give the same rows, severity and owner aside."""
    for a, b in ((one, other), (other, one)):
        (extra,) = db.execute(
            f"select count(*) from (select * exclude (severity, owner) from ({a}) "
            f"except all select * exclude (severity, owner) from ({b}))"
        ).fetchone()
        if extra:
            raise SystemExit(f"the two ways of counting differ on {extra} rows")


def _time(db: duckdb.DuckDBPyConnection, sql: str) -> tuple[float, int]:
    db.execute("drop table if exists _bench_out")
    start = time.perf_counter()
    db.execute(f"create temp table _bench_out as {sql}")
    elapsed = time.perf_counter() - start
    return elapsed, db.execute("select count(*) from _bench_out").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exceptions", type=int, default=1_000_000)
    parser.add_argument("--events-per-exception", type=int, default=10)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--builds", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--prom-models", type=int, default=500)
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    database = WORK / "bench.duckdb"
    root = WORK / "project"
    make_duckdb_project(root, "bench_metrics", database, threads=2)
    with duckdb.connect(str(database)) as db:
        _load(db, args.exceptions, args.events_per_exception, args.models, args.builds)
        events = db.execute("select count(*) from sluice_exception_events").fetchone()[0]
    subprocess.run(dbt_command(root, "deps"), check=True)
    from_events = _compile(root)
    with duckdb.connect(str(database)) as db:
        _record_queues(db, from_events)
    compiled = _compile(root)
    if "sluice_rule_queues" not in compiled or "sluice_rule_queues" in from_events:
        raise SystemExit("the model did not read the recorded queues once they were there")
    with duckdb.connect(str(database)) as db:
        _same_rows(db, compiled, from_events)
    events_table = "sluice_exception_events"
    sides = {
        "group_by": "select model_unique_id, rule_name, invocation_id, to_status, count(*) as n "
        f"from {events_table} group by all",
        "sluice_metrics": compiled,
        "sluice_metrics_from_events": from_events,
        "textfile": f"select * from ({_rules_sql(events_table)}) as r "
        f"left join ({_queues_sql('sluice_runs', 'sluice_rule_queues')}) as q "
        "using (model_unique_id, rule_name)",
        "textfile_from_events": f"select * from ({_rules_sql(events_table)}) as r "
        f"left join ({_queue_from_events_sql(events_table)}) as q using (model_unique_id, rule_name) "
        f"left join ({_oldest_sql(events_table)}) as o using (model_unique_id, rule_name)",
    }
    incremental = _incremental_sql(root, database, args.builds, args.models)
    if incremental is None:
        return 1
    sides["sluice_metrics_incremental"] = incremental
    times: dict[str, list[float]] = {name: [] for name in sides}
    with duckdb.connect(str(database)) as db:
        db.execute("set threads = 2")
        rows = {name: _time(db, sql)[1] for name, sql in sides.items()}  # warm-up
        order = list(sides)
        for round_ in range(args.repeat):
            for name in order[round_ % len(order) :] + order[: round_ % len(order)]:
                elapsed, count = _time(db, sides[name])
                if count != rows[name]:
                    raise SystemExit(f"{name}: {count} rows, the warm-up had {rows[name]}")
                times[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in times.items()}
    size = len(render_operational(at_scale(args.prom_models)).encode())
    figures = {
        "events": events,
        "exceptions": args.exceptions,
        "seconds": {k: round(v, 3) for k, v in medians.items()},
        "rows": rows,
        "ratio_sluice_metrics": round(medians["sluice_metrics"] / medians["group_by"], 3),
        "ratio_sluice_metrics_from_events": round(
            medians["sluice_metrics_from_events"] / medians["group_by"], 3
        ),
        "ratio_textfile": round(medians["textfile"] / medians["group_by"], 3),
        "ratio_textfile_from_events": round(
            medians["textfile_from_events"] / medians["group_by"], 3
        ),
        "ratio_sluice_metrics_incremental": round(
            medians["sluice_metrics_incremental"] / medians["group_by"], 3
        ),
        "textfile_bytes": size,
        "prom_models": args.prom_models,
        "load": os.getloadavg(),
    }
    for name, value in medians.items():
        print(f"{name}: {value:.3f} s ({rows[name]} rows)")
    print(f"textfile for {args.prom_models} models x 8 rules: {size} bytes")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
