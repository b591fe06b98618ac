"""The recovery lifecycle: replay, attempt limits, dead letter, reviewers' decisions, history."""

from __future__ import annotations

import uuid

from tests import scenario
from tests.dbt_harness import SNOWFLAKE_TOO


def _status(project, key, rule):
    rows = project.query(
        "select status, attempt_count from {schema}.orders__quarantine "
        f"where record_key = '{key}' and rule_name = '{rule}'"
    )
    assert len(rows) == 1, rows
    return rows[0]


def _events(project, key=None):
    where = f"where record_key = '{key}'" if key else ""
    return project.query(
        "select record_key, rule_name, from_status, to_status, actor, reason from {schema}.sluice_exception_events "
        f"{where} order by event_at, to_status"
    )


def _decide(project, key, rule, decision, by="ana@finance", reason="checked with the ERP team"):
    exception_id = project.query(
        f"select exception_id from {{schema}}.orders__quarantine where record_key = '{key}' and rule_name = '{rule}'"
    )[0][0]
    by_sql = "null" if by is None else f"'{by}'"
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, decision, decided_by, decided_at, reason) "
        f"values ('{uuid.uuid4().hex}', '{exception_id}', 'model.sluice_test.orders', '{decision}', {by_sql}, "
        f"cast(current_timestamp as timestamp), '{reason}')"
    )


@SNOWFLAKE_TOO
def test_fixed_rows_recover_and_vanished_rows_are_withdrawn(make_project, engine):
    project = make_project(engine)
    scenario.setup(project)
    project.dbt("build")
    project.execute("update {schema}.raw_orders set status = 'paid' where order_id = 3")
    project.execute("delete from {schema}.raw_orders where order_id = 7")
    project.dbt("run", "-s", "orders")
    assert _status(project, "3", "orders_status_known")[0] == "recovered"
    assert _status(project, "7", "orders_date_readable")[0] == "withdrawn"
    assert 3 in {r[0] for r in scenario.published(project)}
    assert _events(project, "3") == [
        ("3", "orders_status_known", None, "open", "sluice", None),
        ("3", "orders_status_known", "open", "recovered", "sluice", None),
    ]


def test_attempt_limit_reaches_dead_letter(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, extra_meta="max_attempts: 2")
    project.dbt("build")
    assert _status(project, "3", "orders_status_known") == ("open", 1)
    project.dbt("run", "-s", "orders")
    assert _status(project, "3", "orders_status_known") == ("dead_letter", 2)
    project.dbt("run", "-s", "orders")  # no longer retried
    assert _status(project, "3", "orders_status_known") == ("dead_letter", 2)
    assert 3 not in {r[0] for r in scenario.published(project)}
    # a reviewer re-opens it: attempts start again
    _decide(project, "3", "orders_status_known", "retry")
    project.dbt("run", "-s", "orders")
    assert _status(project, "3", "orders_status_known") == ("open", 1)
    assert [e[2:5] for e in _events(project, "3")] == [
        (None, "open", "sluice"),
        ("open", "dead_letter", "sluice"),
        ("dead_letter", "open", "ana@finance"),
    ]


@SNOWFLAKE_TOO
def test_reviewers_release_and_reject(make_project, engine):
    project = make_project(engine)
    scenario.setup(project)
    project.dbt("build")
    # row 4 references an unknown customer: routed to manual review
    assert _status(project, "4", "orders_customer_exists")[0] == "open"
    _decide(project, "4", "orders_customer_exists", "release")
    _decide(project, "3", "orders_status_known", "reject", reason="status weird is a test order")
    _decide(project, "2", "orders_customer_required", "release", by="  ")  # refused: no author
    project.dbt("run", "-s", "orders")

    assert _status(project, "4", "orders_customer_exists")[0] == "released"
    assert _status(project, "3", "orders_status_known")[0] == "rejected"
    assert _status(project, "2", "orders_customer_required")[0] == "open"
    published = {r[0] for r in scenario.published(project)}
    assert 4 in published and 3 not in published and 2 not in published
    released = [e for e in _events(project, "4") if e[3] == "released"]
    assert released == [
        (
            "4",
            "orders_customer_exists",
            "open",
            "released",
            "ana@finance",
            "checked with the ERP team",
        )
    ]

    # rejected stays out for good, even once the source row passes
    project.execute("update {schema}.raw_orders set status = 'paid' where order_id = 3")
    project.dbt("run", "-s", "orders")
    assert 3 not in {r[0] for r in scenario.published(project)}
    assert _status(project, "3", "orders_status_known")[0] == "rejected"


def test_unchanged_builds_change_only_attempts_and_last_seen(make_project, engine):
    project = make_project(engine)
    scenario.setup(project)
    project.dbt("build")
    columns = (
        "exception_id, record_key, rule_name, error_class, severity, route, owner, status, "
        "status_changed_at, first_seen_at, first_invocation_id, row_json, failed_value"
    )
    before = project.query(f"select {columns} from {{schema}}.orders__quarantine order by 1")
    events_before = project.query("select * from {schema}.sluice_exception_events order by 1")
    project.dbt("build")
    assert (
        project.query(f"select {columns} from {{schema}}.orders__quarantine order by 1") == before
    )
    assert (
        project.query("select * from {schema}.sluice_exception_events order by 1") == events_before
    )
    assert {
        r[0] for r in project.query("select attempt_count from {schema}.orders__quarantine")
    } == {2}
    # the summary model reads the history
    summary = project.query(
        "select error_class, status, exceptions from {schema}.sluice_exception_summary order by 1"
    )
    assert sum(r[2] for r in summary) == len(scenario.RULES)


def test_full_refresh_keeps_the_quarantine_unless_told(make_project):
    project = make_project("duckdb")
    scenario.setup(project)
    project.dbt("build")
    project.dbt("run", "-s", "orders", "--full-refresh")
    assert project.query("select count(*) from {schema}.orders__quarantine")[0][0] == len(
        scenario.RULES
    )
    project.execute("update {schema}.raw_orders set status = 'paid' where order_id = 3")
    project.dbt(
        "run", "-s", "orders", "--full-refresh", "--vars", "{sluice_full_refresh_quarantine: true}"
    )
    keys = {r[0] for r in project.query("select record_key from {schema}.orders__quarantine")}
    assert "3" not in keys and len(keys) == len(scenario.RULES) - 1
