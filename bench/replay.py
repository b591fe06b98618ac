"""Benchmark: replaying open exceptions in an incremental sluice build, at several queue depths.

    python bench/replay.py [--engine duckdb|postgres] [--rows N] [--open 5000,50000,500000]
                           [--batch 20000] [--repeat 3]

Defaults: DuckDB, 5M rows, 5k, 50k and 500k open exceptions; PostgreSQL (`--engine postgres`,
the server of tests/pg.sh or the SLUICE_PG_* variables), 1M rows, 50k open, in schemas named
after the run (process id and start time: two runs on one server never share one), dropped
at its end.

Setup, for each number of open exceptions OPEN: an incremental sluice model with ROWS - OPEN
published rows and OPEN open exceptions (rows failing a required-field rule), and a new batch
of BATCH rows in the source. Measured side by side: the same incremental `dbt run` on a copy
where the open exceptions are replayed (re-read through sluice.batch_filter), and on a copy
whose quarantine is empty. Every run must exit 0 and leave the expected rows (the batch
published, the replayed rows still open; bench/_dbt.py `compare`); the sides swap order each
round. After the rounds, one more untimed run of the replay side with dbt's JSON log gives the
size of the largest statement dbt sent. Each depth prints its ratio (replay / empty, medians)
and that size; the last line printed is one JSON object with the worst ratio, the largest
statement, and every depth's figures. Targets: at most 1.10x at 50k and 1.25x at 500k on DuckDB,
1.10x at 50k on PostgreSQL, no statement over 64 KB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
from _dbt import (
    PG,
    REPO,
    BenchError,
    Run,
    Side,
    compare,
    dbt_command,
    dbt_results,
    duckdb_counts,
    make_duckdb_project,
    run_command,
    run_dbt,
    write,
)

WORK = REPO / "bench" / ".work" / "replay"
COUNTS = {
    "published": "select count(*) from {s}events_inc",
    "open": "select count(*) from {s}events_inc__quarantine where status = 'open'",
}
# PostgreSQL schemas, named per run (two runs on one server never share one) and dropped at its end
PG_TAG = f"{os.getpid()}_{int(time.time())}"
PG_SOURCE = f"bench_replay_{PG_TAG}_src"  # the source table, never changed by a run
PG_RUN = f"bench_replay_{PG_TAG}"  # the model's schema, restored from a copy before every run
PG_COPIES = {side: f"bench_replay_{PG_TAG}_copy_{side}" for side in ("replay", "empty")}
DEFAULTS = {"duckdb": (5_000_000, "5000,50000,500000"), "postgres": (1_000_000, "50000")}


def largest_statement(root: Path) -> int:
    """The size in bytes of the largest SQL statement in the project's JSON dbt log."""
    largest = 0
    with (root / "logs" / "dbt.log").open(encoding="utf-8") as log:
        for line in log:
            if '"SQLQuery"' not in line:
                continue
            event = json.loads(line)
            if event.get("info", {}).get("name") == "SQLQuery":
                largest = max(largest, len(event["data"]["sql"].encode("utf-8")))
    if largest == 0:
        raise BenchError(f"no SQL statement in {root / 'logs' / 'dbt.log'}")
    return largest


class Engine:
    """Where the bench data lives, and how a side's copy is put back before each run."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = "" if name == "duckdb" else PG_RUN + "."
        self.source_schema = "main" if name == "duckdb" else PG_SOURCE

    def project(self) -> None:
        make_duckdb_project(WORK, "bench_replay", WORK / "run.duckdb", threads=1)
        if self.name == "postgres":
            write(
                WORK / "profiles.yml",
                f"""
                bench:
                  target: dev
                  outputs:
                    dev: {{type: postgres, host: "{PG["host"]}", port: {PG["port"]}, user: "{PG["user"]}", password: "{PG["password"]}", dbname: "{PG["dbname"]}", schema: {PG_RUN}, threads: 1}}
                """,
            )

    def drop_schemas(self) -> None:
        """PostgreSQL: the run's schemas dropped (at its start and at its end)."""
        if self.name == "postgres":
            self.execute(
                [
                    f"drop schema if exists {s} cascade"
                    for s in (PG_SOURCE, PG_RUN, *PG_COPIES.values())
                ]
            )

    def execute(self, statements: list[str], autocommit: bool = False) -> None:
        if self.name == "duckdb":
            with duckdb.connect(str(WORK / "run.duckdb")) as conn:
                for sql in statements:
                    conn.execute(sql)
            return
        import psycopg2

        conn = psycopg2.connect(**PG)
        conn.autocommit = autocommit
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
            if not autocommit:
                conn.commit()
        finally:
            conn.close()

    def counts(self) -> dict[str, int]:
        queries = {name: sql.format(s=self.prefix) for name, sql in COUNTS.items()}
        if self.name == "duckdb":
            return duckdb_counts(WORK / "run.duckdb", queries)
        import psycopg2

        conn = psycopg2.connect(**PG)
        try:
            with conn.cursor() as cur:
                out = {}
                for name, sql in queries.items():
                    cur.execute(sql)
                    row = cur.fetchone()
                    out[name] = -1 if row is None or row[0] is None else int(row[0])
                return out
        finally:
            conn.close()

    def source(self, rows: int, step: int) -> None:
        if self.name == "duckdb":
            (WORK / "run.duckdb").unlink(missing_ok=True)
            series, ts = f"range({rows}) t(i)", "timestamp '2024-01-01' + to_seconds(i)"
            table = "events"
        else:
            series = f"generate_series(0, {rows - 1}) as t(i)"
            ts = "timestamp '2024-01-01' + i * interval '1 second'"
            table = f"{PG_SOURCE}.events"
            self.drop_schemas()
            self.execute([f"create schema {PG_SOURCE}"])
        self.execute(
            [
                f"""
                create table {table} as
                select i as event_id,
                       case when i % {step} = 0 then null else 'A' || (i % 1000) end as account,
                       (i % 700) * 1.5 as amount,
                       {ts} as loaded_at,
                       'payload_' || (i % 97) as payload
                from {series}
                """
            ]
        )

    def add_batch(self, rows: int, batch: int) -> None:
        if self.name == "duckdb":
            new = f"""
                insert into events
                select {rows} + i, 'B' || i, 1.0, timestamp '2030-01-01' + to_seconds(i), 'new'
                from range({batch}) t(i)"""
        else:
            new = f"""
                insert into {PG_SOURCE}.events
                select {rows} + i, 'B' || i, 1.0, timestamp '2030-01-01' + i * interval '1 second', 'new'
                from generate_series(0, {batch - 1}) as t(i)"""
        self.execute(
            [new, *(["analyze " + PG_SOURCE + ".events"] if self.name == "postgres" else [])]
        )

    def keep(self, name: str) -> None:
        """Keep the state as it is now as side `name`'s copy."""
        if self.name == "duckdb":
            shutil.copy(WORK / "run.duckdb", WORK / f"{name}.duckdb")
            return
        self.execute(self._copy_schema(PG_RUN, PG_COPIES[name]))

    def empty_quarantine(self) -> None:
        self.execute([f"delete from {self.prefix}events_inc__quarantine"])

    def prepare(self, name: str) -> Callable[[], None]:
        """Untimed, before each run: the side's copy put back (on PostgreSQL, vacuumed and
        analyzed, so autovacuum does not work for one side while the other is timed)."""

        def put_back() -> None:
            if self.name == "duckdb":
                shutil.copy(WORK / f"{name}.duckdb", WORK / "run.duckdb")
                return
            self.execute(self._copy_schema(PG_COPIES[name], PG_RUN))
            self.execute(
                [f"vacuum analyze {PG_RUN}.{t}" for t in self._tables(PG_RUN)], autocommit=True
            )

        return put_back

    def _tables(self, schema: str) -> list[str]:
        import psycopg2

        conn = psycopg2.connect(**PG)
        try:
            with conn.cursor() as cur:
                cur.execute("select tablename from pg_tables where schemaname = %s", (schema,))
                return sorted(row[0] for row in cur.fetchall())
        finally:
            conn.close()

    def _copy_schema(self, origin: str, copy: str) -> list[str]:
        tables = self._tables(origin)
        return [
            f"drop schema if exists {copy} cascade",
            f"create schema {copy}",
            *(f"create table {copy}.{t} as select * from {origin}.{t}" for t in tables),
        ]


def side(engine: Engine, name: str, expect: dict[str, int]) -> Side:
    """The incremental `dbt run`, each time on a fresh copy of side `name`'s state."""
    return Side(
        run=lambda: run_dbt(WORK, "run", "-s", "events_inc"),
        exit_code=0,
        rows=lambda _run: {**dbt_results(WORK), **engine.counts()},
        expect_rows=expect,
        prepare=engine.prepare(name),
    )


def depth(engine: Engine, rows: int, open_: int, batch: int, repeat: int) -> dict[str, object]:
    """Set up OPEN open exceptions, time both sides, measure the largest statement."""
    shutil.rmtree(WORK, ignore_errors=True)
    engine.project()
    write(
        WORK / "models/sources.yml",
        f"sources:\n  - name: raw\n    schema: {engine.source_schema}\n    tables: [{{name: events}}]\n",
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
    engine.source(rows, rows // open_)
    subprocess.run(dbt_command(WORK, "deps"), check=True)
    # the full build: ROWS - OPEN published, OPEN open exceptions
    full = run_dbt(WORK, "run", "-s", "events_inc")
    if full.exit_code != 0:
        raise BenchError(f"the full build exited {full.exit_code}:\n{full.output[-4000:]}")
    before = engine.counts()
    published, open_count = before["published"], before["open"]
    engine.add_batch(rows, batch)
    engine.keep("replay")
    engine.empty_quarantine()
    engine.keep("empty")

    # the whole batch is valid and published either way; replayed rows still fail and stay open
    after = published + batch
    sides = {
        "replay": side(engine, "replay", {"published": after, "open": open_count}),
        "empty": side(engine, "empty", {"published": after, "open": 0}),
    }
    found = compare(sides, repeat)
    ratio = found.ratio("replay", "empty")

    # the statements of one more replay run, untimed, from dbt's JSON log
    engine.prepare("replay")()
    shutil.rmtree(WORK / "logs", ignore_errors=True)
    logged: Run = run_command(
        [*dbt_command(WORK, "run", "-s", "events_inc"), "--log-format-file", "json"], cwd=WORK
    )
    if logged.exit_code != 0:
        raise BenchError(
            f"the logged replay run exited {logged.exit_code}:\n{logged.output[-4000:]}"
        )
    largest = largest_statement(WORK)
    print(
        f"{engine.name}, {open_count} open exceptions: replay {found.median('replay'):.2f}s, "
        f"empty quarantine {found.median('empty'):.2f}s (medians), ratio {ratio:.3f}, "
        f"largest statement {largest} bytes ({published} published rows, batch {batch})"
    )
    return {
        "open_exceptions": open_count,
        "rows": published,
        "ratio": round(ratio, 3),
        "largest_statement_bytes": largest,
        **found.summary(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=list(DEFAULTS), default="duckdb")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--open", help="comma-separated numbers of open exceptions")
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = args.rows or DEFAULTS[args.engine][0]
    depths = [int(n) for n in (args.open or DEFAULTS[args.engine][1]).split(",")]

    engine = Engine(args.engine)
    try:
        figures = [depth(engine, rows, n, args.batch, args.repeat) for n in depths]
    finally:
        engine.drop_schemas()
    print(
        json.dumps(
            {
                "name": "replay",
                "engine": args.engine,
                "worst_ratio": max(f["ratio"] for f in figures),  # type: ignore[type-var]
                "largest_statement_bytes": max(f["largest_statement_bytes"] for f in figures),  # type: ignore[type-var]
                "depths": figures,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
