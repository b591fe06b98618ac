"""Benchmark: a sluice model with a field-conflict rule against a plain table model plus the
plain conflict check as a dbt test with store_failures, both through `dbt build` on DuckDB.

    python bench/conflicts.py [--rows 5000000] [--counterpart 1000000] [--repeat 3]
    python bench/conflicts.py --statements [--rows 1000000]
    python bench/conflicts.py --templates [--rows 1000000]

Input: a CRM table of `rows` customers and an ERP table of `counterpart` customers (the first
ids of the CRM's); one in a thousand of the matched customers has another status in the ERP.
Plain side: `select *` as a table, and a singular test `select a.* from crm a join erp b on
a.customer_id = b.erp_customer_id where a.status <> b.status` with store_failures (severity warn,
so both sides exit 0). Sluice side: the same `select *` materialized sluice, with
`sluice.sluice_conflict` comparing `status` (route manual_review: the conflicts are held). Every
timed build must exit 0 and leave the expected rows (bench/_dbt.py: `compare`); sides swap order
each round.

The last line printed is one JSON object: name, rows, counterpart rows, ratio (sluice / plain
wall clock, medians), the load average before and after, and the raw timings.

`--statements`: no timed rounds; one build of each side (after a warm-up build of each), and
the SQL statements it sent for its model and test with the seconds dbt's JSON debug log reports
for each (bench/_dbt.py: `statement_timings`), to see where a side's time goes; the JSON line
then lists them per side, slowest first.

`--templates`: no timed rounds; one build of each side (after a warm-up build of each), and the
Jinja templates it compiled (dbt compiles each macro the first time a process calls it): how
many, their characters and the seconds compiling them took (bench/_dbt.py:
`template_compilations`), the part of a one-model build's fixed cost that grows with the
package's macros.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import duckdb
from _dbt import (
    REPO,
    Side,
    compare,
    duckdb_counts,
    make_duckdb_project,
    run_dbt,
    statement_timings,
    template_compilations,
    write,
)

WORK = REPO / "bench" / ".work" / "conflicts"
CONFLICT = "i % 1000 = 7"


def make_project(root: Path, database: Path) -> None:
    make_duckdb_project(root, "bench_conflicts", database, threads=2)
    write(
        root / "models" / "sources.yml",
        """
        version: 2
        sources:
          - name: raw
            schema: main
            tables: [{name: crm}, {name: erp}]
        models:
          - name: crm_sluice
            config:
              materialized: sluice
              meta: {sluice: {key: customer_id, source_system: crm, target_system: erp}}
            data_tests:
              - sluice.sluice_conflict:
                  name: crm_vs_erp
                  arguments:
                    with: source('raw', 'erp')
                    match_on: {customer_id: erp_customer_id}
                    compare: [status]
        """,
    )
    write(
        root / "models" / "crm_plain.sql",
        "{{ config(materialized='table') }}\nselect * from {{ source('raw', 'crm') }}\n",
    )
    write(root / "models" / "crm_sluice.sql", "select * from {{ source('raw', 'crm') }}\n")
    write(
        root / "tests" / "crm_plain_status_conflict.sql",
        """
        {{ config(store_failures=true, severity='warn') }}
        select a.*
        from {{ ref('crm_plain') }} as a
        join {{ source('raw', 'erp') }} as b on a.customer_id = b.erp_customer_id
        where a.status <> b.status
        """,
    )


def generate(database: Path, rows: int, counterpart: int) -> None:
    with duckdb.connect(str(database)) as conn:
        conn.execute(
            f"""
            create or replace table crm as
            select i as customer_id, case when i % 3 = 0 then 'active' else 'closed' end as status,
              cast(i % 1000 as decimal(12, 2)) as amount
            from range({rows}) as t(i)
            """
        )
        conn.execute(
            f"""
            create or replace table erp as
            select i as erp_customer_id,
              case when {CONFLICT} then 'other' when i % 3 = 0 then 'active' else 'closed' end
                as status
            from range({counterpart}) as t(i)
            """
        )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--counterpart", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--statements", action="store_true", help="time each statement instead")
    parser.add_argument(
        "--templates", action="store_true", help="count the templates each side compiles instead"
    )
    args = parser.parse_args()
    root = WORK / "project"
    database = WORK / "bench.duckdb"
    WORK.mkdir(parents=True, exist_ok=True)
    make_project(root, database)
    run = run_dbt(root, "deps")
    if run.exit_code != 0:
        raise SystemExit(run.output)
    generate(database, args.rows, args.counterpart)
    conflicts = sum(1 for i in range(min(args.rows, args.counterpart)) if i % 1000 == 7)
    sides = {
        "sluice": Side(
            run=lambda: run_dbt(root, "build", "-s", "crm_sluice+"),
            exit_code=0,
            rows=lambda _: duckdb_counts(
                database,
                {
                    "published": "select count(*) from crm_sluice",
                    "held": "select count(*) from crm_sluice__quarantine where status in ('open', 'dead_letter')",
                },
            ),
            expect_rows={"published": args.rows - conflicts, "held": conflicts},
        ),
        "plain": Side(
            run=lambda: run_dbt(root, "build", "-s", "crm_plain+"),
            exit_code=0,
            rows=lambda _: duckdb_counts(
                database,
                {
                    "published": "select count(*) from crm_plain",
                    "failures": "select count(*) from main_dbt_test__audit.crm_plain_status_conflict",
                },
            ),
            expect_rows={"published": args.rows, "failures": conflicts},
        ),
    }
    if args.statements:
        return _statements(root, args)
    if args.templates:
        return _templates(root, args)
    load_before = _load()
    result = compare(sides, args.repeat)
    print(
        json.dumps(
            {
                "name": "conflicts",
                "rows": args.rows,
                "counterpart_rows": args.counterpart,
                "ratio": round(result.ratio("sluice", "plain"), 3),
                "load_average_before": load_before,
                "load_average_after": _load(),
                **result.summary(),
            }
        )
    )
    return 0


def _statements(root: Path, args: argparse.Namespace) -> int:
    """One build of each side after a warm-up, and its statements' seconds, slowest first."""
    load_before = _load()
    out: dict[str, object] = {}
    for side in ("sluice", "plain"):
        select = ("-s", f"crm_{side}+")
        run_dbt(root, "build", *select)
        run, found = statement_timings(root, "build", *select)
        if run.exit_code != 0:
            raise SystemExit(run.output)
        mine = [s for s in found if s.node.split(".")[0] in ("model", "test")]
        out[side] = {
            "wall_seconds": round(run.seconds, 3),
            "statement_seconds": round(sum(s.seconds for s in mine), 3),
            "statements": [
                {
                    "seconds": round(s.seconds, 3),
                    "node": s.node.rsplit(".", 1)[-1],
                    "sql": s.sql[:160],
                }
                for s in sorted(mine, key=lambda s: -s.seconds)
            ],
        }
    print(
        json.dumps(
            {
                "name": "conflicts statements",
                "rows": args.rows,
                "counterpart_rows": args.counterpart,
                "load_average_before": load_before,
                "load_average_after": _load(),
                **out,
            },
            indent=1,
        )
    )
    return 0


def _templates(root: Path, args: argparse.Namespace) -> int:
    """One build of each side after a warm-up, and the templates it compiled."""
    load_before = _load()
    out: dict[str, object] = {}
    for side in ("sluice", "plain"):
        select = ("-s", f"crm_{side}+")
        run_dbt(root, "build", *select)
        compiled = template_compilations(root, "build", *select)
        out[side] = {
            "templates": compiled.templates,
            "characters": compiled.characters,
            "compile_seconds": round(compiled.seconds, 3),
        }
    print(
        json.dumps(
            {
                "name": "conflicts templates",
                "rows": args.rows,
                "counterpart_rows": args.counterpart,
                "load_average_before": load_before,
                "load_average_after": _load(),
                **out,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
