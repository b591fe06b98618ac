"""Benchmark: a sluice model with quarantine vs. a plain table model plus the same six checks as
dbt tests with store_failures, both through `dbt build` on DuckDB, measured side by side.

    python bench/quarantine.py [--rows 1000000 5000000] [--repeat 3]

Input: a generated table of N events and a 200k-row customer dimension. Six rules: two required
fields, accepted values, a reference to the dimension, a duplicate event, one business rule.
The last line printed is one JSON object: name, rows, ratio (sluice / plain wall clock, median,
at the largest size) and the raw timings of every size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import duckdb
from _dbt import DBT, REPO, make_duckdb_project, write

WORK = REPO / "bench" / ".work" / "quarantine"
DIM_ROWS = 200_000


def make_project(root: Path) -> None:
    make_duckdb_project(root, "bench_quarantine", root / "bench.duckdb", threads=2)
    write(
        root / "models/sources.yml",
        """
        sources:
          - name: raw
            schema: main
            tables: [{name: events}, {name: customers}]
        """,
    )
    write(root / "models/events_sluice.sql", "select * from {{ source('raw', 'events') }}\n")
    write(root / "models/events_plain.sql", "select * from {{ source('raw', 'events') }}\n")
    write(
        root / "tests/events_plain_amount_positive.sql",
        "{{ config(store_failures=true) }}\nselect * from {{ ref('events_plain') }} where not (amount >= 0)\n",
    )
    write(
        root / "models/schema.yml",
        """
        models:
          - name: events_sluice
            config:
              materialized: sluice
              meta:
                sluice:
                  key: event_id
                  source_system: bench
                  gate: {critical: none, high: none, medium: none, low: none}
            data_tests:
              - sluice.sluice_expression: {arguments: {expression: amount >= 0}}
            columns:
              - name: event_id
                data_tests:
                  - sluice.sluice_unique: {arguments: {order_by: loaded_at}}
              - name: customer_id
                data_tests:
                  - sluice.sluice_not_null: {arguments: {}}
                  - sluice.sluice_relationship: {arguments: {to: "source('raw', 'customers')", field: customer_id}}
              - name: order_id
                data_tests:
                  - sluice.sluice_not_null: {arguments: {}}
              - name: status
                data_tests:
                  - sluice.sluice_accepted_values: {arguments: {values: [placed, shipped, delivered, returned]}}
          - name: events_plain
            config: {materialized: table}
            columns:
              - name: event_id
                data_tests:
                  - unique: {config: {store_failures: true}}
              - name: customer_id
                data_tests:
                  - not_null: {config: {store_failures: true}}
                  - relationships: {arguments: {to: "source('raw', 'customers')", field: customer_id}, config: {store_failures: true}}
              - name: order_id
                data_tests:
                  - not_null: {config: {store_failures: true}}
              - name: status
                data_tests:
                  - accepted_values: {arguments: {values: [placed, shipped, delivered, returned]}, config: {store_failures: true}}
        """,
    )


def generate(root: Path, rows: int) -> None:
    db = root / "bench.duckdb"
    db.unlink(missing_ok=True)
    with duckdb.connect(str(db)) as conn:
        conn.execute(f"""
            create table customers as
            select 'C' || i as customer_id, 'segment_' || (i % 7) as segment
            from range({DIM_ROWS}) t(i)
        """)
        # about 0.1% of rows break each rule; duplicates repeat an earlier event id
        conn.execute(f"""
            create table events as
            select
                case when i % 997 = 5 then i - 1 else i end as event_id,
                case when i % 1009 = 7 then null
                     when i % 1013 = 9 then 'X' || i
                     else 'C' || (i % {DIM_ROWS}) end as customer_id,
                case when i % 1019 = 11 then null else 'O' || (i // 3) end as order_id,
                case when i % 1021 = 13 then 'lost'
                     else ['placed', 'shipped', 'delivered', 'returned'][1 + i % 4] end as status,
                case when i % 1031 = 17 then -1.0 else (i % 500) * 1.25 end as amount,
                timestamp '2024-01-01' + to_seconds(i) as loaded_at,
                'sku_' || (i % 5000) as sku,
                i % 13 as quantity,
                'warehouse_' || (i % 11) as warehouse
            from range({rows}) t(i)
        """)


def timed_build(root: Path, select: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [
            DBT,
            "build",
            "-s",
            select,
            "--profiles-dir",
            str(root),
            "--project-dir",
            str(root),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: the plain tests fail on the injected faults, by design
        raise SystemExit(f"dbt build -s {select} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    make_project(WORK)
    subprocess.run(
        [DBT, "deps", "--profiles-dir", str(WORK), "--project-dir", str(WORK), "--quiet"],
        check=True,
    )
    results = []
    for rows in args.rows:
        generate(WORK, rows)
        timed_build(WORK, "events_sluice")  # warm-up: parse, first quarantine, caches
        timed_build(WORK, "events_plain")
        sluice_t, plain_t = [], []
        for _ in range(args.repeat):  # alternate so background load hits both alike
            sluice_t.append(timed_build(WORK, "events_sluice"))
            plain_t.append(timed_build(WORK, "events_plain"))
        ratio = statistics.median(sluice_t) / statistics.median(plain_t)
        with duckdb.connect(str(WORK / "bench.duckdb"), read_only=True) as conn:
            published = conn.execute("select count(*) from events_sluice").fetchone()[0]
            held = conn.execute("select count(*) from events_sluice__quarantine").fetchone()[0]
        result = {
            "rows": rows,
            "ratio": round(ratio, 3),
            "sluice_s": [round(t, 3) for t in sluice_t],
            "plain_s": [round(t, 3) for t in plain_t],
            "published": published,
            "quarantine_rows": held,
        }
        print(
            f"{rows:>9} rows: sluice {statistics.median(sluice_t):.2f}s, plain {statistics.median(plain_t):.2f}s, ratio {ratio:.3f}"
        )
        results.append(result)
    last = results[-1]
    print(
        json.dumps(
            {"name": "quarantine", "rows": last["rows"], "ratio": last["ratio"], "timings": results}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
