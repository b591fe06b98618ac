"""A dbt process killed with SIGKILL in the middle of a sluice model build loses and duplicates
nothing: the model's work is one transaction, and the rerun picks up where it stands."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from tests.dbt_harness import DBT, PG_DBNAME, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER

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
    proc = subprocess.Popen(
        [
            DBT,
            "--debug",
            "build",
            "-s",
            "big",
            "--profiles-dir",
            str(project.root),
            "--project-dir",
            str(project.root),
        ],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
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
