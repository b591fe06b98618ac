"""Benchmark: `sluice retention apply` over closed exceptions past their deletion age, against a
plain `delete` of the same rows from the same tables, on DuckDB.

    python bench/retention.py [--exceptions 1000000] [--open 10000] [--repeat 3]

Setup, once: a sluice model whose source rows all fail a required-field rule, built with dbt
(EXCEPTIONS + OPEN open exceptions and their events); the first EXCEPTIONS rows fixed in the
source and the model built again (those exceptions recovered, one more event each); their
`status_changed_at` set 400 days back. That database is the one both sides start from: it is
copied back before every run (untimed).

Sides:
- retention: `sluice retention apply --vars "{sluice_retention: {delete_after: 365d}}"`, the
  command as a scheduler runs it (its own process, reading the project): the EXCEPTIONS closed
  exceptions deleted from the quarantine, any evidence their events and decisions hold in clear
  redacted (the builds wrote the events' record keys as markers), one `retained` event for the
  model counting them, in one transaction.
- delete: a plain `delete` of the same rows from the same tables in one transaction, in a
  process of its own: the quarantine's closed exceptions closed before the same cut-off, and
  their events and decisions.

Every run must exit 0 and leave the expected rows: the quarantine's remaining rows (the OPEN
open ones) equal on both sides; the events one more on the retention side (its events kept,
plus the model's `retained` event), fewer by theirs on the delete side (bench/_dbt.py `compare`,
sides alternating, medians). Prints the ratio (retention / delete, medians); the last line
printed is one JSON object with the ratio, the load average before and after, and the raw
timings. Target: at most 2x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import duckdb
from _dbt import (
    REPO,
    BenchError,
    Run,
    Side,
    compare,
    dbt_command,
    duckdb_counts,
    make_duckdb_project,
    run_command,
    run_dbt,
    write,
)

WORK = REPO / "bench" / ".work" / "retention"
DATABASE = WORK / "run.duckdb"
BASE = WORK / "base.duckdb"
CLOSED = ("recovered", "rejected", "withdrawn", "released")
POLICY = "{sluice_retention: {delete_after: 365d}}"
COUNTS = {
    "quarantine": "select count(*) from accounts__quarantine",
    "open": "select count(*) from accounts__quarantine where status = 'open'",
    "events": "select count(*) from sluice_exception_events",
    "retained": "select count(*) from sluice_exception_events where event_type = 'retained'",
}

# the plain delete: the same rows, the same tables, one transaction
DELETE = """
import sys, duckdb
cut = sys.argv[2]
closed = "status in ('recovered', 'rejected', 'withdrawn', 'released') and status_changed_at < cast(? as timestamp)"
due = f"select exception_id from accounts__quarantine where {closed}"
with duckdb.connect(sys.argv[1]) as conn:
    conn.execute("begin transaction")
    conn.execute(f"delete from sluice_exception_events where exception_id in ({due})", [cut])
    conn.execute(f"delete from sluice_decisions where exception_id in ({due})", [cut])
    conn.execute(f"delete from accounts__quarantine where {closed}", [cut])
    conn.execute("commit")
"""


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def setup(exceptions: int, open_: int) -> None:
    """The database both sides start from (see above), kept as BASE."""
    shutil.rmtree(WORK, ignore_errors=True)
    make_duckdb_project(WORK, "bench_retention", DATABASE, threads=2)
    write(
        WORK / "models/schema.yml",
        """
        sources:
          - name: raw
            schema: main
            tables: [{name: accounts_raw}]
        models:
          - name: accounts
            config:
              materialized: sluice
              meta: {sluice: {key: account_id, gate: {critical: none, high: none, medium: none, low: none}}}
            columns:
              - name: owner_email
                data_tests:
                  - sluice.sluice_not_null: {name: accounts_owner_required, arguments: {}}
        """,
    )
    write(WORK / "models/accounts.sql", "select * from {{ source('raw', 'accounts_raw') }}\n")
    total = exceptions + open_
    with duckdb.connect(str(DATABASE)) as conn:
        conn.execute(
            f"""
            create table accounts_raw as
            select i as account_id, cast(null as varchar) as owner_email,
                   'customer ' || i || ' of region ' || (i % 50) as name,
                   (i % 700) * 1.5 as balance
            from range({total}) t(i)
            """
        )
    subprocess.run(dbt_command(WORK, "deps"), check=True)
    for step in ("all failing", "fixed"):
        built = run_dbt(WORK, "run", "-s", "accounts")
        if built.exit_code != 0:
            raise BenchError(
                f"the build ({step}) exited {built.exit_code}:\n{built.output[-4000:]}"
            )
        if step == "all failing":
            with duckdb.connect(str(DATABASE)) as conn:
                conn.execute(
                    f"update accounts_raw set owner_email = 'owner' || account_id || '@example.com' "
                    f"where account_id < {exceptions}"
                )
    with duckdb.connect(str(DATABASE)) as conn:
        conn.execute(
            "update accounts__quarantine set status_changed_at = status_changed_at - interval 400 day "
            "where status = 'recovered'"
        )
    counts = duckdb_counts(
        DATABASE, {**COUNTS, "recovered": COUNTS["quarantine"] + " where status = 'recovered'"}
    )
    if counts["recovered"] != exceptions or counts["open"] != open_:
        raise BenchError(f"setup left {counts}, expected {exceptions} recovered, {open_} open")
    shutil.copy(DATABASE, BASE)


def put_back() -> None:
    shutil.copy(BASE, DATABASE)
    DATABASE.with_suffix(".duckdb.wal").unlink(missing_ok=True)


def retention() -> Run:
    return run_command(
        [
            sys.executable,
            *("-m", "sluice", "retention", "apply"),
            *("--project-dir", str(WORK), "--profiles-dir", str(WORK), "--vars", POLICY),
        ],
        cwd=WORK,
    )


def plain_delete() -> Run:
    cut = (datetime.now(UTC) - timedelta(days=365)).replace(tzinfo=None).isoformat(sep=" ")
    return run_command([sys.executable, "-c", DELETE, str(DATABASE), cut], cwd=WORK)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exceptions", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load_before = load()
    setup(args.exceptions, args.open)
    before = duckdb_counts(BASE, {"events": COUNTS["events"]})["events"]
    with duckdb.connect(str(BASE), read_only=True) as conn:
        due_events = conn.execute(
            "select count(*) from sluice_exception_events where exception_id in "
            "(select exception_id from accounts__quarantine where status = 'recovered')"
        ).fetchone()[0]
    kept = {"quarantine": args.open, "open": args.open}
    sides = {
        "retention": Side(
            run=retention,
            exit_code=0,
            rows=lambda _run: duckdb_counts(DATABASE, COUNTS),
            expect_rows={**kept, "events": before + 1, "retained": 1},
            prepare=put_back,
        ),
        "delete": Side(
            run=plain_delete,
            exit_code=0,
            rows=lambda _run: duckdb_counts(DATABASE, COUNTS),
            expect_rows={**kept, "events": before - due_events, "retained": 0},
            prepare=put_back,
        ),
    }
    found = compare(sides, args.repeat)
    if {k: found.rows["retention"][k] for k in kept} != {k: found.rows["delete"][k] for k in kept}:
        raise BenchError(f"the sides left other quarantines: {found.rows}")
    ratio = found.ratio("retention", "delete")
    load_after = load()
    print(
        f"duckdb, {args.exceptions} closed exceptions past delete_after ({due_events} of their "
        f"events, {args.open} open kept): retention {found.median('retention'):.2f}s, plain "
        f"delete {found.median('delete'):.2f}s (medians), ratio {ratio:.3f}; load average "
        f"{load_before} before, {load_after} after"
    )
    print(
        json.dumps(
            {
                "name": "retention",
                "engine": "duckdb",
                "exceptions": args.exceptions,
                "open": args.open,
                "events_of_the_deleted": due_events,
                "ratio": round(ratio, 3),
                "load_average_before": load_before,
                "load_average_after": load_after,
                **found.summary(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
