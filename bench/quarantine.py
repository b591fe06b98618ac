"""Benchmark: a sluice model with quarantine vs. a plain table model plus the same six checks as
dbt tests with store_failures, both through `dbt build` on DuckDB, measured side by side.

    python bench/quarantine.py [--rows 1000000 5000000] [--repeat 3]

Input: a generated table of N events and a 200k-row customer dimension. Six rules: two required
fields, accepted values, a reference to the dimension, a duplicate event, one business rule.
Every timed build must exit as expected (the plain one 1, its tests failing on the faults; the
sluice one 0) and publish the expected rows (bench/_dbt.py: `compare`); sides swap order each
round. The last line printed is one JSON object: name, rows, ratio (sluice / plain wall clock,
medians, at the largest size) and the raw timings and row counts of every size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import duckdb
from _dbt import (
    REPO,
    Side,
    compare,
    dbt_command,
    dbt_results,
    duckdb_counts,
    make_duckdb_project,
    run_dbt,
    write,
)

WORK = REPO / "bench" / ".work" / "quarantine"
DIM_ROWS = 200_000
# what every `dbt build -s <model>` must exit with: the plain model's dbt tests fail on the
# injected faults, by design; the sluice model holds those rows back and its rules pass
PLAIN_EXIT = 1
SLUICE_EXIT = 0


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


def side(select: str, exit_code: int, rows: int) -> Side:
    """`dbt build -s select`; after each run, the nodes dbt ran and the rows published, checked."""
    db = WORK / "bench.duckdb"
    if select == "events_plain":
        queries = {"published": "select count(*) from events_plain"}
        expect = {"published": rows}  # a table model publishes every row
    else:
        last_run = (
            f"from sluice_runs where model_name = '{select}' order by finished_at desc limit 1"
        )
        queries = {
            "published": f"select count(*) from {select}",
            "quarantine": f"select count(*) from {select}__quarantine",
            "rows_in": f"select rows_in {last_run}",
            "published_not_logged": f"select (select count(*) from {select}) - rows_published {last_run}",
        }
        # the build read every row, and published what its run log says
        expect = {"rows_in": rows, "published_not_logged": 0}
    return Side(
        run=lambda: run_dbt(WORK, "build", "-s", select),
        exit_code=exit_code,
        rows=lambda _run: {**dbt_results(WORK), **duckdb_counts(db, queries)},
        expect_rows=expect,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    make_project(WORK)
    subprocess.run(dbt_command(WORK, "deps"), check=True)
    results = []
    for rows in args.rows:
        generate(WORK, rows)
        sides = {
            "sluice": side("events_sluice", SLUICE_EXIT, rows),
            "plain": side("events_plain", PLAIN_EXIT, rows),
        }
        found = compare(sides, args.repeat)
        sluice_rows = found.rows["sluice"]
        ratio = found.ratio("sluice", "plain")
        result = {
            "rows": rows,
            "ratio": round(ratio, 3),
            "published": sluice_rows["published"],
            "quarantine_rows": sluice_rows["quarantine"],
            **found.summary(),
        }
        print(
            f"{rows:>9} rows: sluice {found.median('sluice'):.2f}s, plain {found.median('plain'):.2f}s (medians), ratio {ratio:.3f}"
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
