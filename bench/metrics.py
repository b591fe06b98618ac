"""Benchmark: computing the operational metrics on DuckDB, against a plain GROUP BY of the events.

    python bench/metrics.py [--exceptions 1000000] [--events-per-exception 10] [--models 100]
                            [--builds 100] [--repeat 3] [--prom-models 500]

Setup: a DuckDB database with `sluice_runs` (one row per model and build) and
`sluice_exception_events` (EXCEPTIONS exceptions, each with EVENTS_PER_EXCEPTION status events
in successive builds of its model, moving between open, dead_letter and recovered), and a dbt
project installing sluice, whose `sluice_metrics` model is compiled by `dbt compile` (a first
build: the whole history counted at once).

Measured, each the median of REPEAT rounds after a warm-up, sides in a different order every
round, each result written to a temporary table (its row count checked against the warm-up's):
- `group_by`: the plain count of the events per model, rule, invocation and status;
- `sluice_metrics`: the compiled model's SELECT (every build of every model and rule);
- `textfile`: the two queries `sluice metrics --prom` runs (per rule, the oldest open);
- `sluice_metrics_incremental`: after `dbt run -s sluice_metrics` has counted the history and one
  more build of every model has been recorded (a new exception per model and rule opened, the
  open ones of the latest builds recovered), the model's SELECT as an incremental run compiles it
  (the rows of the new build only; the delete+insert that follows is not timed).
Then the textfile rendered for PROM_MODELS models of 8 rules each: its size.
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
from sluice.escalate.metrics import (
    EXCEPTION_COUNTERS,
    ModelFreshness,
    ModelMetrics,
    OperationalMetrics,
    RuleMetrics,
    render_operational,
)
from sluice.warehouse.metrics import _oldest_sql, _rules_sql

WORK = REPO / "bench" / ".work" / "metrics"
STATUSES = ("open", "dead_letter", "open", "recovered")


def _load(
    db: duckdb.DuckDBPyConnection, exceptions: int, per: int, models: int, builds: int
) -> None:
    db.execute(
        "drop table if exists sluice_runs; drop table if exists sluice_exception_events; "
        "drop table if exists sluice_metrics"
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
            null::varchar as gate_message, '[]' as rule_counts_json, 10::bigint as rows_held_open
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


def _add_build(db: duckdb.DuckDBPyConnection, build: int, models: int) -> None:
    """One more build of every model: a new open exception per model and rule, and the
    exceptions whose latest event is into `open` recovered. (The run log has the columns the
    package's hook added by then: the build's start and duration, null here.)"""
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


def _incremental_sql(root: Path, database: Path, builds: int, models: int) -> str | None:
    """The history counted by `dbt run`, one more build recorded, and the SELECT the next
    incremental run of sluice_metrics compiles to."""
    run = run_dbt(root, "run", "-s", "sluice_metrics")
    if run.exit_code != 0:
        print(run.output, file=sys.stderr)
        return None
    with duckdb.connect(str(database)) as db:
        _add_build(db, builds, models)
    run = run_dbt(root, "compile", "-s", "sluice_metrics")
    if run.exit_code != 0:
        print(run.output, file=sys.stderr)
        return None
    return next((root / "target" / "compiled").rglob("sluice_metrics.sql")).read_text()


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
    run = run_dbt(root, "compile", "-s", "sluice_metrics")
    if run.exit_code != 0:
        print(run.output, file=sys.stderr)
        return 1
    compiled = next((root / "target" / "compiled").rglob("sluice_metrics.sql")).read_text()
    sides = {
        "group_by": "select model_unique_id, rule_name, invocation_id, to_status, count(*) as n "
        "from sluice_exception_events group by all",
        "sluice_metrics": compiled,
        "textfile": f"select * from ({_rules_sql('sluice_exception_events')}) as r "
        f"left join ({_oldest_sql('sluice_exception_events')}) as o using (model_unique_id, rule_name)",
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
    rules = tuple(
        RuleMetrics(
            model=f"model_{m:04d}",
            rule=f"model_{m:04d}_rule_{r}",
            severity="medium",
            owner=f"team_{m % 20}",
            system="erp",
            counts={n: 123456 for n, _ in EXCEPTION_COUNTERS},
            open=1234,
            dead_letter=56,
            oldest_open_seconds=123456.789,
        )
        for m in range(args.prom_models)
        for r in range(8)
    )
    models = tuple(
        ModelMetrics(
            model=f"model_{m:04d}",
            system="erp",
            builds=9999,
            rows={n: 123456789 for n in ("in", "published", "held", "set_aside", "flagged")},
            last_build_timestamp=1796600544.746,
            rows_held_last_build=1234,
            last_build_duration_seconds=123.456789,
        )
        for m in range(args.prom_models)
    )
    freshness = tuple(
        ModelFreshness(model=f"model_{m:04d}", lag_seconds=123456.789)
        for m in range(args.prom_models)
    )
    size = len(render_operational(OperationalMetrics(rules, models, freshness)).encode())
    figures = {
        "events": events,
        "exceptions": args.exceptions,
        "seconds": {k: round(v, 3) for k, v in medians.items()},
        "rows": rows,
        "ratio_sluice_metrics": round(medians["sluice_metrics"] / medians["group_by"], 3),
        "ratio_textfile": round(medians["textfile"] / medians["group_by"], 3),
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
