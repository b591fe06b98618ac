"""Two builds of one model at once, and a first build killed at each of its writes, on a real
PostgreSQL server with real processes: nothing duplicated, nothing lost, every exception with
its history."""

from __future__ import annotations

import os
import signal
import subprocess
import time

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

ROWS = 20_000

pytestmark = pytest.mark.postgres


def _connect():
    import psycopg2

    return psycopg2.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_DBNAME
    )


def _setup(project, incremental: bool) -> None:
    project.write(
        "models/src.sql",
        "{{ config(materialized='table') }}\n"
        f"select i as id, case when i % 10 = 0 then null else 'v' || i end as v, 1 as loaded "
        f"from generate_series(1, {ROWS}) as t(i)\n",
    )
    body = "select * from {{ ref('src') }}\n"
    if incremental:
        body += (
            "{% if sluice.is_incremental() %}\n"
            "where {{ sluice.batch_filter('loaded > (select max(loaded) from ' ~ this ~ ')') }}\n"
            "{% endif %}\n"
        )
    project.write("models/big.sql", body)
    project.write(
        "models/schema.yml",
        f"""
        models:
          - name: big
            config:
              materialized: sluice
              meta: {{sluice: {{key: id, incremental: {str(incremental).lower()}, gate: {{high: none}}}}}}
            columns:
              - name: v
                data_tests:
                  - sluice.sluice_not_null: {{name: big_v_required, arguments: {{}}}}
        """,
    )


def _start(project, name: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            DBT,
            *args,
            "--profiles-dir",
            str(project.root),
            "--project-dir",
            str(project.root),
            "--target-path",
            f"target_{name}",
            "--log-path",
            f"logs_{name}",
        ],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _check_integrity(project) -> None:
    held = ROWS // 10
    assert project.query(
        "select count(*), count(distinct exception_id) from {schema}.big__quarantine"
    ) == [(held, held)]
    # each status change is recorded once: no duplicated history
    assert project.query(
        "select count(*) from (select exception_id, to_status, invocation_id, count(*) "
        "from {schema}.sluice_exception_events group by 1, 2, 3 having count(*) > 1) as d"
    ) == [(0,)]
    # every exception has its history
    assert exceptions_without_history(project, "big") == 0
    assert project.query("select count(*), count(distinct id) from {schema}.big") == [
        (ROWS - held, ROWS - held)
    ]


@pytest.mark.parametrize("incremental", [False, True], ids=["table", "incremental"])
def test_two_builds_of_one_model_at_once(make_project, incremental):
    project = make_project("postgres")
    _setup(project, incremental)
    project.dbt("run", "-s", "src")
    if incremental:
        project.dbt("run", "-s", "big")  # the table exists: both builds below are incremental
        project.execute("update {schema}.src set loaded = 2")
    first = _start(project, "a", "run", "-s", "big")
    second = _start(project, "b", "run", "-s", "big")
    outputs = [p.communicate(timeout=600)[0] for p in (first, second)]
    codes = [first.returncode, second.returncode]
    # both succeed one after the other (the model's lock), or one fails having written nothing
    assert codes.count(0) >= 1, outputs
    _check_integrity(project)
    runs = project.query("select count(*) from {schema}.sluice_runs")[0][0]
    assert runs == codes.count(0) + (1 if incremental else 0)


@pytest.mark.parametrize(
    "blocked_table", ["sluice_decisions", "sluice_exception_events", "sluice_runs"]
)
def test_a_first_build_killed_at_a_write_leaves_nothing_and_the_rerun_completes(
    make_project, blocked_table
):
    project = make_project("postgres")
    _setup(project, incremental=False)
    project.dbt("run", "-s", "src")
    project.dbt("run", "-s", "src")  # the bookkeeping tables exist (on-run-start)

    # hold a lock on one bookkeeping table: the build blocks exactly at its write there
    holder = _connect()
    cur = holder.cursor()
    cur.execute(f"lock table {project.schema}.{blocked_table} in access exclusive mode")
    proc = _start(project, "k", "run", "-s", "big")
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the build never reached the blocked write"
            # a statement waiting for the holder's lock (pg_stat_activity.query is cut at
            # track_activity_query_size: a long statement may not show the table's name)
            with _connect() as probe, probe.cursor() as pc:
                pc.execute(
                    "select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                    "and %s = any(pg_blocking_pids(pid))",
                    (holder.get_backend_pid(),),
                )
                if pc.fetchone()[0] > 0:
                    break
            time.sleep(0.05)  # polling the server for the blocked statement, bounded above
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        holder.rollback()
        holder.close()

    # the killed build's transaction never committed: no quarantine rows, no published table
    assert not project.relation_exists("big")
    assert not project.relation_exists("big__quarantine") or project.query(
        "select count(*) from {schema}.big__quarantine"
    ) == [(0,)]
    project.dbt("run", "-s", "big")
    _check_integrity(project)


def test_two_first_builds_of_one_model_at_once_both_succeed(make_project):
    """Two first builds of a model, started together: the second one waits for the first one's
    lock and then finds the relation the first one created, rather than failing with
    `relation "big" already exists`. The test holds the model's lock itself until both builds
    wait on it, so that they start from the same state (neither has seen the relation)."""
    project = make_project("postgres")
    _setup(project, incremental=False)
    project.dbt("run", "-s", "src")
    holder = _connect()
    holder.autocommit = True
    cur = holder.cursor()
    cur.execute("select pg_advisory_lock(hashtext('sluice:model.sluice_test.big'))")
    builds = [_start(project, name, "run", "-s", "big") for name in ("a", "b")]
    try:
        deadline = time.monotonic() + 300
        while True:
            for build in builds:
                assert build.poll() is None, build.stdout.read() if build.stdout else ""
            assert time.monotonic() < deadline, "the builds never both waited for the lock"
            cur.execute(
                "select count(*) from pg_locks where locktype = 'advisory' and not granted "
                "and objid::bigint = (hashtext('sluice:model.sluice_test.big')::bigint & 4294967295)"
            )
            if cur.fetchone()[0] == 2:
                break
            time.sleep(0.05)  # polling the server for both waiting builds, bounded above
    finally:
        cur.execute("select pg_advisory_unlock(hashtext('sluice:model.sluice_test.big'))")
        holder.close()
    outputs = [p.communicate(timeout=600)[0] for p in builds]
    assert [p.returncode for p in builds] == [0, 0], outputs
    _check_integrity(project)
    assert project.query("select count(*) from {schema}.sluice_runs") == [(2,)]
