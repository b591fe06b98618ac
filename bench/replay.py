"""Benchmark: replaying open exceptions in an incremental sluice build.

    python bench/replay.py [--rows 5000000] [--open 50000] [--batch 20000] [--repeat 3]

Setup: an incremental sluice model with ROWS published rows and OPEN open exceptions (rows
failing a required-field rule), and a new batch of BATCH rows. Measured side by side: the same
incremental `dbt run` on a copy where the open exceptions are replayed (re-read through
sluice.batch_filter), and on a copy whose quarantine is empty. Every run must exit 0 and leave
the expected rows (the batch published, the replayed rows still open; bench/_dbt.py `compare`),
the sides swap order each round. The last line printed is one JSON object with name, ratio
(replay / empty, medians) and the raw timings.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess

import duckdb
from _dbt import (
    REPO,
    BenchError,
    Side,
    compare,
    dbt_command,
    dbt_results,
    duckdb_counts,
    make_duckdb_project,
    run_dbt,
    write,
)

WORK = REPO / "bench" / ".work" / "replay"
COUNTS = {
    "published": "select count(*) from events_inc",
    "open": "select count(*) from events_inc__quarantine where status = 'open'",
}


def side(name: str, expect: dict[str, int]) -> Side:
    """The incremental `dbt run`, each time on a fresh copy of the `name` database."""
    return Side(
        run=lambda: run_dbt(WORK, "run", "-s", "events_inc"),
        exit_code=0,
        rows=lambda _run: {**dbt_results(WORK), **duckdb_counts(WORK / "run.duckdb", COUNTS)},
        expect_rows=expect,
        prepare=lambda: shutil.copy(WORK / f"{name}.duckdb", WORK / "run.duckdb"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--open", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    shutil.rmtree(WORK, ignore_errors=True)
    make_duckdb_project(WORK, "bench_replay", WORK / "run.duckdb", threads=1)
    write(
        WORK / "models/sources.yml",
        "sources:\n  - name: raw\n    schema: main\n    tables: [{name: events}]\n",
    )
    write(
        WORK / "models/events_inc.sql",
        """
        select * from {{ source('raw', 'events') }}
        {% if sluice.is_incremental() %}
        where {{ sluice.batch_filter("loaded_at > (select max(loaded_at) from " ~ this ~ ")") }}
        {% endif %}
        """,
    )
    write(
        WORK / "models/schema.yml",
        """
        models:
          - name: events_inc
            config:
              materialized: sluice
              meta: {sluice: {key: event_id, incremental: true, gate: {high: none}}}
            columns:
              - name: account
                data_tests:
                  - sluice.sluice_not_null: {name: events_account_required, arguments: {}}
        """,
    )
    step = args.rows // args.open
    with duckdb.connect(str(WORK / "run.duckdb")) as conn:
        conn.execute(f"""
            create table events as
            select i as event_id,
                   case when i % {step} = 0 then null else 'A' || (i % 1000) end as account,
                   (i % 700) * 1.5 as amount,
                   timestamp '2024-01-01' + to_seconds(i) as loaded_at,
                   'payload_' || (i % 97) as payload
            from range({args.rows}) t(i)
        """)
    subprocess.run(dbt_command(WORK, "deps"), check=True)
    # the full build: ROWS - OPEN published, OPEN open exceptions
    full = run_dbt(WORK, "run", "-s", "events_inc")
    if full.exit_code != 0:
        raise BenchError(f"the full build exited {full.exit_code}:\n{full.output[-4000:]}")
    before = duckdb_counts(WORK / "run.duckdb", COUNTS)
    published, open_count = before["published"], before["open"]
    with duckdb.connect(str(WORK / "run.duckdb")) as conn:
        conn.execute(f"""
            insert into events
            select {args.rows} + i, 'B' || i, 1.0, timestamp '2030-01-01' + to_seconds(i), 'new'
            from range({args.batch}) t(i)
        """)
    shutil.copy(WORK / "run.duckdb", WORK / "replay.duckdb")
    with duckdb.connect(str(WORK / "run.duckdb")) as conn:
        conn.execute("delete from events_inc__quarantine")
    shutil.copy(WORK / "run.duckdb", WORK / "empty.duckdb")

    # the whole batch is valid and published either way; replayed rows still fail and stay open
    after = published + args.batch
    sides = {
        "replay": side("replay", {"published": after, "open": open_count}),
        "empty": side("empty", {"published": after, "open": 0}),
    }
    found = compare(sides, args.repeat)
    ratio = found.ratio("replay", "empty")
    print(
        f"replay {found.median('replay'):.2f}s, empty quarantine "
        f"{found.median('empty'):.2f}s (medians), ratio {ratio:.3f} "
        f"({published} published rows, {open_count} open exceptions, batch {args.batch})"
    )
    print(
        json.dumps(
            {
                "name": "replay",
                "ratio": round(ratio, 3),
                "rows": published,
                "open_exceptions": open_count,
                **found.summary(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
