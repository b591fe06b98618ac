"""A dbt process killed with SIGKILL in the middle of a sluice model build loses and duplicates
nothing: the model's work is one transaction, and the rerun picks up where it stands."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.dbt_harness import (
    PG_DBNAME,
    PG_HOST,
    PG_PASSWORD,
    PG_PORT,
    PG_USER,
    exceptions_without_history,
)
from tests.dbt_launcher import DBT

ROWS = 400_000


def _setup(project):
    if project.engine == "duckdb":
        source = f"select i as id, case when i % 1000 = 0 then null else 'v' || i end as v from range({ROWS}) t(i)"
    else:
        source = f"select i as id, case when i % 1000 = 0 then null else 'v' || i end as v from generate_series(0, {ROWS - 1}) as t(i)"
    project.write("models/big_source.sql", "{{ config(materialized='table') }}\n" + source + "\n")
    project.write("models/big.sql", "select * from {{ ref('big_source') }}\n")
    project.write(
        "models/schema.yml",
        """
        models:
          - name: big
            config:
              materialized: sluice
              meta: {sluice: {key: id, gate: {high: none}}}
            columns:
              - name: v
                data_tests:
                  - sluice.sluice_not_null: {name: big_v_required, arguments: {}}
                  - sluice.sluice_castable: {name: big_v_pattern, arguments: {pattern: '^v[0-9]+$'}}
        """,
    )


def _dbt_process(project, *args: str, output: bool) -> subprocess.Popen[str]:
    """dbt as a real process in its own session, so that the test can kill all of it."""
    return subprocess.Popen(
        [DBT, *args, "--profiles-dir", str(project.root), "--project-dir", str(project.root)],
        cwd=project.root,
        stdout=subprocess.PIPE if output else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def _wait_for_sluice_statement(project, proc, deadline):
    """Block until the sluice model is executing SQL (seen from the server, or dbt's log)."""
    import psycopg2

    while time.monotonic() < deadline:
        assert proc.poll() is None, "dbt finished before it could be killed"
        if project.engine == "postgres":
            conn = psycopg2.connect(
                host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_DBNAME
            )
            try:
                with conn.cursor() as cur:
                    cur.execute(
                        "select count(*) from pg_stat_activity where state = 'active' and query like '%big__sluice%'"
                    )
                    if cur.fetchone()[0] > 0:
                        return
            finally:
                conn.close()
        else:
            log = project.root / "logs" / "dbt.log"
            if log.exists() and "big__sluice" in log.read_text(errors="replace"):
                return
        time.sleep(0.005)  # polling for the condition above, bounded by the deadline
    raise AssertionError("the sluice model never started")


def test_kill_9_mid_build_then_rerun(make_project, engine):
    project = make_project(engine)
    _setup(project)
    project.dbt("run", "-s", "big_source")
    project.dbt("build", "-s", "big")  # a first, complete build
    first = project.query(
        "select count(*), count(distinct exception_id) from {schema}.big__quarantine"
    )[0]
    assert first[0] == first[1] == ROWS // 1000

    project.execute("update {schema}.big_source set v = null where id % 1000 = 1")
    proc = _dbt_process(project, "--debug", "build", "-s", "big", output=False)
    try:
        _wait_for_sluice_statement(project, proc, time.monotonic() + 120)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # nothing of the killed build is half-written: the first build's record is intact
    after_kill = project.query(
        "select count(*), count(distinct exception_id), max(attempt_count) from {schema}.big__quarantine"
    )[0]
    assert after_kill in ((first[0], first[0], 1), (2 * first[0], 2 * first[0], 2))

    project.dbt("build", "-s", "big")
    rows = project.query(
        "select count(*), count(distinct exception_id), count(distinct record_key || rule_name) from {schema}.big__quarantine"
    )[0]
    expected = 2 * (ROWS // 1000)  # the old faults plus the new ones
    assert rows == (expected, expected, expected)
    events = project.query(
        "select count(*), count(distinct event_id) from {schema}.sluice_exception_events"
    )[0]
    assert events[0] == events[1] == expected
    published = project.query("select count(*) from {schema}.big")[0][0]
    assert published == ROWS - 2 * (ROWS // 1000)


# --- DuckDB: a first build killed at each of its stages ------------------------------------------
# DuckDB has no lock another session could hold a statement on, and no sleep. The build is held
# instead by SQL of the user's own (the model's SQL, a rule's expression, a post-hook) reading a
# named pipe: DuckDB opens it, then waits on it for as long as the test keeps its write end open.
# The test knows the build is there once its own open of the write end returns.

FIRST_ROWS = 20_000


def _first_build_project(project, hold_at: str | None, fifo: Path) -> None:
    held = f"(select count(*) from read_csv('{fifo}', header=false, columns={{'x': 'varchar'}}))"
    post_hook = f'{{{{ config(post_hook="select {held}") }}}}\n' if hold_at == "post_hook" else ""
    where = f"where {held} >= 0" if hold_at == "model_sql" else ""
    project.write(
        "models/src.sql",
        "{{ config(materialized='table') }}\n"
        f"select i as id, case when i % 10 = 0 then null else 'v' || i end as v from range(1, {FIRST_ROWS + 1}) as t(i)\n",
    )
    project.write("models/big.sql", post_hook + f"select * from {{{{ ref('src') }}}} {where}\n")
    expression = f"v <> 'never' or {held} < 0" if hold_at == "rule" else "v <> 'never'"
    project.write(
        "models/schema.yml",
        f"""
        models:
          - name: big
            config:
              materialized: sluice
              meta: {{sluice: {{key: id, gate: {{high: none, medium: none}}}}}}
            columns:
              - name: v
                data_tests:
                  - sluice.sluice_not_null: {{name: big_v_required, arguments: {{}}}}
                  - sluice.sluice_expression:
                      name: big_v_known
                      arguments:
                        expression: "{expression}"
        """,
    )


@pytest.mark.parametrize("hold_at", ["model_sql", "rule", "post_hook"])
def test_a_first_duckdb_build_killed_at_each_stage_leaves_nothing_and_the_rerun_completes(
    make_project, hold_at
):
    """Killed while writing the batch, while auditing it (after DuckDB committed the batch on
    its own, sluice.settle_batch), or after every write of the build but before its commit."""
    project = make_project("duckdb")
    fifo = project.root / "hold.fifo"
    os.mkfifo(fifo)
    _first_build_project(project, None, fifo)
    project.dbt("run", "-s", "src")  # the source and the bookkeeping tables (on-run-start)
    _first_build_project(project, hold_at, fifo)

    proc = _dbt_process(project, "run", "-s", "big", output=True)
    write_end: list[int] = []
    opener = threading.Thread(
        target=lambda: write_end.append(os.open(fifo, os.O_WRONLY)), daemon=True
    )
    opener.start()
    try:
        deadline = time.monotonic() + 300
        while not write_end:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the build never reached the pipe"
            opener.join(timeout=0.2)  # returns as soon as DuckDB opened the pipe
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if not write_end:  # release the opener: it waits for a reader
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
            opener.join(timeout=10)
        for fd in write_end:
            os.close(fd)
    assert proc.returncode == -signal.SIGKILL

    # nothing of the killed build was committed but, once past the write, its unpublished batch
    assert not project.relation_exists("big")
    assert not project.relation_exists("big__quarantine") or project.query(
        "select count(*) from {schema}.big__quarantine"
    ) == [(0,)]
    assert project.query("select count(*) from {schema}.sluice_exception_events") == [(0,)]
    assert project.query("select count(*) from {schema}.sluice_runs") == [(0,)]
    assert project.relation_exists("big__dbt_tmp") == (hold_at != "model_sql")

    _first_build_project(project, None, fifo)
    project.dbt("run", "-s", "big")
    held = FIRST_ROWS // 10
    assert project.query(
        "select count(*), count(distinct exception_id) from {schema}.big__quarantine"
    ) == [(held, held)]
    assert exceptions_without_history(project, "big") == 0
    assert project.query("select count(*), count(distinct id) from {schema}.big") == [
        (FIRST_ROWS - held, FIRST_ROWS - held)
    ]
    assert not project.relation_exists("big__dbt_tmp")
