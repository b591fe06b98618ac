"""Benchmark: replaying open exceptions in an incremental sluice build.

    python bench/replay.py [--rows 5000000] [--open 50000] [--batch 20000] [--repeat 3]

Setup: an incremental sluice model with ROWS published rows and OPEN open exceptions (rows
failing a required-field rule), and a new batch of BATCH rows. Measured side by side: the same
incremental `dbt run` on a copy where the open exceptions are replayed (re-read through
sluice.batch_filter), and on a copy whose quarantine is empty. The last line printed is one JSON
object with name, ratio (replay / empty) and the raw timings.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import time

import duckdb
from _dbt import DBT, REPO, make_duckdb_project, write

WORK = REPO / "bench" / ".work" / "replay"


def dbt(*args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [DBT, *args, "--profiles-dir", str(WORK), "--project-dir", str(WORK), "--quiet"],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - start


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
    subprocess.run(
        [DBT, "deps", "--profiles-dir", str(WORK), "--project-dir", str(WORK), "--quiet"],
        check=True,
    )
    dbt("run", "-s", "events_inc")  # the full build: ROWS - OPEN published, OPEN open exceptions
    with duckdb.connect(str(WORK / "run.duckdb")) as conn:
        open_count = conn.execute(
            "select count(*) from events_inc__quarantine where status = 'open'"
        ).fetchone()[0]
        published = conn.execute("select count(*) from events_inc").fetchone()[0]
        conn.execute(f"""
            insert into events
            select {args.rows} + i, 'B' || i, 1.0, timestamp '2030-01-01' + to_seconds(i), 'new'
            from range({args.batch}) t(i)
        """)
    shutil.copy(WORK / "run.duckdb", WORK / "replay.duckdb")
    with duckdb.connect(str(WORK / "run.duckdb")) as conn:
        conn.execute("delete from events_inc__quarantine")
    shutil.copy(WORK / "run.duckdb", WORK / "empty.duckdb")

    timings: dict[str, list[float]] = {"replay": [], "empty": []}
    for _ in range(args.repeat):
        for name in ("replay", "empty"):  # alternate so background load hits both alike
            shutil.copy(WORK / f"{name}.duckdb", WORK / "run.duckdb")
            timings[name].append(dbt("run", "-s", "events_inc"))
    ratio = statistics.median(timings["replay"]) / statistics.median(timings["empty"])
    print(
        f"replay {statistics.median(timings['replay']):.2f}s, empty quarantine "
        f"{statistics.median(timings['empty']):.2f}s, ratio {ratio:.3f} "
        f"({published} published rows, {open_count} open exceptions, batch {args.batch})"
    )
    print(
        json.dumps(
            {
                "name": "replay",
                "ratio": round(ratio, 3),
                "rows": published,
                "open_exceptions": open_count,
                "timings": {k: [round(t, 3) for t in v] for k, v in timings.items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
