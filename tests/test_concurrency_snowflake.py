"""On Snowflake (dbt-snowflake against the fakesnow server), builds of one model at the same
time, as real dbt processes: a build waits for the model's lock row while another session's
transaction holds it, then records and publishes; two first builds of a model at once both
succeed.

The server makes an update of a row that another open transaction has updated wait until that
transaction ends, as Snowflake does (tests/dbt_harness.py, `_emulate_snowflake_ddl`; DuckDB
alone answers it with a conflict error). Each test holds the model's lock row itself, in a
transaction of its own, until the builds wait for it, so that they start from the state it
chose."""

from __future__ import annotations

import time

from tests import scenario

MODEL = "model.sluice_test.orders"
TAKE_LOCK = r"update\s+\S*sluice_locks\b"
SECOND = [
    *scenario.GOOD_ORDERS,
    "7,,paid,15,2024-01-07,2024-01-01 10:00:00",
    "9,C2,paid,9,2024-01-09,2024-01-01 10:00:00",
]


def _orders(project) -> list[tuple]:
    return project.query("select order_id from {schema}.orders order by 1")


def _hold_lock(project, fakesnow_server):
    """A connection whose open transaction holds the model's lock row."""
    conn = fakesnow_server.connect(project.database, project.schema)
    cur = conn.cursor()
    cur.execute("begin transaction")
    cur.execute(
        f"update {project.schema}.sluice_locks set invocation_id = 'held by the test' "
        f"where model_unique_id = '{MODEL}'"
    )
    assert cur.rowcount == 1
    return conn


def _wait_until_waiting(fakesnow_server, builds, count: int) -> None:
    """Until `count` statements have waited for the lock, the builds still running."""
    deadline = time.monotonic() + 300
    while fakesnow_server.lock_waits(TAKE_LOCK) < count:
        for build in builds:
            assert build.poll() is None, f"a build ended (exit {build.returncode}) before waiting"
        assert time.monotonic() < deadline, "the builds never waited for the lock"
        time.sleep(0.05)  # polling the server's log of waits, bounded above


def test_a_second_build_waits_for_the_lock_then_records_and_publishes(
    make_project, fakesnow_server
):
    project = make_project("snowflake")
    scenario.setup(project, orders=scenario.GOOD_ORDERS)
    project.dbt("build")
    scenario.setup(project, orders=SECOND)
    project.dbt("seed")

    holder = _hold_lock(project, fakesnow_server)
    try:
        build = project.start_dbt("run", "-s", "orders")
        project.go(build)
        _wait_until_waiting(fakesnow_server, [build], 1)
        # waiting: nothing of its record is written yet
        assert project.query("select count(*) from {schema}.sluice_runs") == [(1,)]
        assert project.query("select count(*) from {schema}.orders__quarantine") == [(0,)]
    finally:
        holder.cursor().execute("commit")
        holder.close()
    assert build.wait(timeout=600) == 0

    assert _orders(project) == [(1,), (5,), (6,), (9,)]
    assert project.query("select record_key, status from {schema}.orders__quarantine") == [
        ("[7]", "open")
    ]
    assert project.query("select count(*) from {schema}.sluice_runs") == [(2,)]
    # the lock row names the build that took it last, not the test's transaction
    (holder_name,) = project.query(
        f"select invocation_id from {{schema}}.sluice_locks where model_unique_id = '{MODEL}'"
    )[0]
    assert holder_name != "held by the test"


def test_two_first_builds_of_one_model_at_once_both_succeed(make_project, fakesnow_server):
    """Both builds find no published table, write their batches side by side and wait for the
    lock; the one that records second publishes after the other has created the table. Renaming its batch
    to the model's name failed there: the name was taken."""
    project = make_project("snowflake")
    scenario.setup(project, orders=SECOND)
    project.dbt("build")
    # the model's table gone, its bookkeeping and lock row kept: the next builds are first ones
    project.execute(f"drop table {project.schema}.orders")

    holder = _hold_lock(project, fakesnow_server)
    builds = [project.start_dbt("run", "-s", "orders") for _ in range(2)]
    try:
        for build in builds:
            project.go(build)
        _wait_until_waiting(fakesnow_server, builds, 2)
    finally:
        holder.cursor().execute("commit")
        holder.close()
    assert [build.wait(timeout=600) for build in builds] == [0, 0]

    assert _orders(project) == [(1,), (5,), (6,), (9,)]
    assert project.query("select record_key, status from {schema}.orders__quarantine") == [
        ("[7]", "open")
    ]
    assert project.query(
        "select count(*) from {schema}.sluice_runs where gate_status = 'passed'"
    ) == [(3,)]
    assert project.query(
        "select count(*), count(distinct event_id) from {schema}.sluice_exception_events"
    ) == [(1, 1)]
