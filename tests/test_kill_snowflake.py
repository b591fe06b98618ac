"""On Snowflake (dbt-snowflake against the fakesnow server), a build killed with SIGKILL at a
chosen statement: the published table is the old one or the new one, never missing; every
exception in the quarantine has its history; and the rerun records and publishes what the
killed build did not.

The server kills dbt's process group when it is sent the chosen statement, before running it
(`Fakesnow.kill_at`), and aborts the killed session's open transaction as Snowflake aborts a
detached one. The kill points are the statements of the build's critical section: the
quarantine upsert and the events (inside the recording transaction), its COMMIT, and the
publication (ALTER TABLE ... SWAP WITH, after the COMMIT); and the statement after the COMMIT
of the transaction that applied a reviewer's decision."""

from __future__ import annotations

import signal

import pytest
from sluice.cli import main

from tests import scenario
from tests.dbt_harness import exceptions_without_history

# the statement the build is killed before (after dbt's leading query comment)
KILL_POINTS = {
    "quarantine_upsert": r"^\s*(/\*.*?\*/\s*)?update\s+\S*orders__quarantine\b",
    "events": r"^\s*(/\*.*?\*/\s*)?insert\s+into\s+\S*sluice_exception_events\b",
    "commit": r"^\s*(/\*.*?\*/\s*)?commit\b",
    "publication": r"\bswap\s+with\b",
}

SECOND = [
    *scenario.GOOD_ORDERS,
    "7,,paid,15,2024-01-07,2024-01-01 10:00:00",
    "9,C2,paid,9,2024-01-09,2024-01-01 10:00:00",
]


def _orders(project) -> list[tuple]:
    return project.query("select order_id from {schema}.orders order by 1")


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_snowflake_build_killed_at_its_critical_statements(make_project, fakesnow_server, point):
    project = make_project("snowflake")
    scenario.setup(project, orders=scenario.GOOD_ORDERS)
    project.dbt("build")
    assert _orders(project) == [(1,), (5,), (6,)]

    # the second build holds [7] (customer missing) and publishes 9
    scenario.setup(project, orders=SECOND)
    project.dbt("seed")
    proc = project.start_dbt("run", "-s", "orders")
    fakesnow_server.kill_at(KILL_POINTS[point], proc.pid)
    project.go(proc)
    proc.wait(timeout=600)
    assert fakesnow_server.killed(), f"dbt finished without sending the {point} statement"
    assert proc.returncode == -signal.SIGKILL

    # the published table is the first build's: killed before the swap, it was not replaced
    assert _orders(project) == [(1,), (5,), (6,)]
    assert exceptions_without_history(project, "orders") == 0
    quarantined = project.query(
        "select record_key from {schema}.orders__quarantine where status = 'open' order by 1"
    )
    runs = project.query("select count(*) from {schema}.sluice_runs where gate_status = 'passed'")
    if point == "publication":
        # recorded, committed, and not published yet
        assert quarantined == [("[7]",)]
        assert runs == [(2,)]
    else:
        # nothing of the recording transaction stands
        assert quarantined == []
        assert runs == [(1,)]

    project.dbt("run", "-s", "orders")
    assert _orders(project) == [(1,), (5,), (6,), (9,)]
    assert project.query(
        "select record_key, status from {schema}.orders__quarantine order by 1"
    ) == [("[7]", "open")]
    assert exceptions_without_history(project, "orders") == 0
    events = project.query(
        "select count(*), count(distinct event_id) from {schema}.sluice_exception_events "
        f"where record_key = '{scenario.event_key('[7]')}'"
    )[0]
    assert events == (1, 1)
    # the rerun dropped its scratch tables; the killed build's stay, named by its invocation
    # (transient here; with the default temporary kind only its batch stays: README, Engines)
    leftovers = project.query(
        "select table_name from information_schema.tables "
        f"where table_schema = '{project.schema.upper()}' and table_name like 'ORDERS\\_\\_%' "
        "and table_name <> 'ORDERS__QUARANTINE'"
    )
    assert len({name.rsplit("_", 1)[1] for (name,) in leftovers}) <= 1, leftovers


def test_the_emulator_still_refuses_the_default_temporary_scratch_kind(make_project):
    """Why the Snowflake tests run with `sluice_scratch_relation_type: transient`: fakesnow
    refuses a temporary table named with its database and schema (it keeps temporary tables in
    DuckDB's temp catalog), which Snowflake takes and the default kind sends. Once this fails,
    the emulator takes the default kind: drop the var from tests/dbt_harness.py."""
    project = make_project("snowflake")
    project.execute(f"create schema if not exists {project.schema}")
    with pytest.raises(
        Exception, match='TEMPORARY table names can \\*only\\* use the "temp" catalog'
    ):
        project.execute(f"create temporary table {project.database}.{project.schema}.t (a int)")


# the statement that applies reviewers' decisions to the quarantine (after their events)
DECISIONS_APPLIED = r"^\s*(/\*.*?\*/\s*)?update\s+\S*orders__quarantine\s+as\s+q\s+set\s+status\s*="


def test_a_snowflake_build_killed_while_it_applies_a_decision(make_project, fakesnow_server):
    """The decisions a build applies (their `decided` events, then the quarantine's statuses)
    take effect together or not at all: a kill between the two leaves neither, and the rerun
    applies the decision once."""
    project = make_project("snowflake")
    scenario.setup(project, orders=SECOND)
    project.dbt("build")
    assert _orders(project) == [(1,), (5,), (6,), (9,)]
    _decide(project, "release")

    proc = project.start_dbt("run", "-s", "orders")
    fakesnow_server.kill_at(DECISIONS_APPLIED, proc.pid)
    project.go(proc)
    proc.wait(timeout=600)
    assert fakesnow_server.killed(), "dbt finished without applying the decision"
    assert proc.returncode == -signal.SIGKILL

    # neither the decision's event nor its effect stands
    assert project.query(
        "select status from {schema}.orders__quarantine where record_key = '[7]'"
    ) == [("open",)]
    assert project.query(
        "select count(*) from {schema}.sluice_exception_events where event_type = 'decided'"
    ) == [(0,)]

    project.dbt("run", "-s", "orders")
    assert _orders(project) == [(1,), (5,), (6,), (7,), (9,)]
    assert project.query(
        "select status from {schema}.orders__quarantine where record_key = '[7]'"
    ) == [("released",)]
    assert project.query(
        "select event_type, from_status, to_status from {schema}.sluice_exception_events "
        f"where record_key = '{scenario.event_key('[7]')}' and event_type <> 'published' "
        "order by event_type, coalesce(from_status, '')"
    ) == [("decided", "open", "released"), ("status", None, "open"), ("status", "open", "released")]


def _decide(project, decision: str) -> None:
    (exception_id,) = project.query(
        "select exception_id from {schema}.orders__quarantine where record_key = '[7]'"
    )[0]
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
        f"decision, decided_by, decided_at, reason) values ('d1', '{exception_id}', "
        f"'model.sluice_test.orders', '{decision}', 'ana', "
        "dateadd(second, 1, sysdate()), 'checked by hand')"
    )


def _status_without_event(project) -> list[tuple]:
    """Exceptions whose status in the quarantine no `status` event of theirs moved them to."""
    return project.query(
        "select q.record_key, q.status from {schema}.orders__quarantine as q "
        "where not exists (select 1 from {schema}.sluice_exception_events as e "
        "where e.exception_id = q.exception_id and e.event_type = 'status' "
        "and e.to_status = q.status)"
    )


def test_a_snowflake_build_killed_once_a_decision_is_applied_keeps_its_status_event(
    make_project, fakesnow_server, capsys
):
    """The decision applied, its `decided` event and the `status` event of its effect are one
    transaction with the rest of the build's record: a build killed right after the COMMIT
    that applied the decision has written the status event too (a separate transaction for
    the decisions left the rerun, whose statuses at the start already held the decision's
    effect, with no status change to record: the exception lost its `status` event)."""
    project = make_project("snowflake")
    scenario.setup(project, orders=SECOND)
    project.dbt("build")
    _decide(project, "release")

    proc = project.start_dbt("run", "-s", "orders")
    fakesnow_server.kill_at(r".", proc.pid, after=(DECISIONS_APPLIED, KILL_POINTS["commit"]))
    project.go(proc)
    proc.wait(timeout=600)
    assert fakesnow_server.killed(), "dbt finished without committing the decision"
    assert proc.returncode == -signal.SIGKILL
    assert _status_without_event(project) == []

    project.dbt("run", "-s", "orders")
    assert _orders(project) == [(1,), (5,), (6,), (7,), (9,)]
    assert project.query(
        "select status from {schema}.orders__quarantine where record_key = '[7]'"
    ) == [("released",)]
    assert _status_without_event(project) == []
    assert exceptions_without_history(project, "orders") == 0
    assert project.query(
        "select event_type, from_status, to_status from {schema}.sluice_exception_events "
        f"where record_key = '{scenario.event_key('[7]')}' and event_type <> 'published' "
        "order by event_type, coalesce(from_status, '')"
    ) == [("decided", "open", "released"), ("status", None, "open"), ("status", "open", "released")]
    code = main(
        ["audit", "verify", "--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    )
    out = capsys.readouterr().out
    assert code == 0 and "intact" in out, out
