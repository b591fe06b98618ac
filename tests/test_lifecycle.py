"""The recovery lifecycle: replay, attempt limits, dead letter, reviewers' decisions, history."""

from __future__ import annotations

import uuid

from tests import scenario
from tests.dbt_harness import SNOWFLAKE_TOO


def _status(project, key, rule):
    rows = project.query(
        "select status, attempt_count from {schema}.orders__quarantine "
        f"where record_key = '[{key}]' and rule_name = '{rule}'"
    )
    assert len(rows) == 1, rows
    return rows[0]


def _events(project, key=None):
    where = f"where record_key = '[{key}]'" if key else ""
    return project.query(
        "select record_key, rule_name, from_status, to_status, actor, reason, event_type "
        f"from {{schema}}.sluice_exception_events {where} order by event_at, event_type, to_status"
    )


def _decide(project, key, rule, decision, by="ana@finance", reason="checked with the ERP team"):
    exception_id = project.query(
        f"select exception_id from {{schema}}.orders__quarantine where record_key = '[{key}]' and rule_name = '{rule}'"
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
        ("[3]", "orders_status_known", None, "open", "sluice", None, "status"),
        ("[3]", "orders_status_known", "open", "recovered", "sluice", None, "status"),
    ]


def test_attempt_limit_reaches_dead_letter(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, extra_meta="max_attempts: 2\n                  attempt_interval: 0")
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
    # the decision (when the reviewer made it) and its effect (when the build applied it)
    assert [e[2:5] + e[6:] for e in _events(project, "3")] == [
        (None, "open", "sluice", "status"),
        ("open", "dead_letter", "sluice", "status"),
        ("dead_letter", "open", "ana@finance", "decided"),
        ("dead_letter", "open", "sluice", "status"),
    ]


def test_a_retry_settled_in_the_same_build_keeps_its_decided_event(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, extra_meta="max_attempts: 2\n                  attempt_interval: 0")
    project.dbt("build")
    project.dbt("run", "-s", "orders")
    assert _status(project, "3", "orders_status_known") == ("dead_letter", 2)
    # a reviewer retries it and the source is fixed before the next build: the build re-opens
    # it and recovers it at once; the decision is still on record, apart from its effect
    _decide(project, "3", "orders_status_known", "retry", reason="ERP corrected the status")
    project.execute("update {schema}.raw_orders set status = 'paid' where order_id = 3")
    project.dbt("run", "-s", "orders")
    assert _status(project, "3", "orders_status_known")[0] == "recovered"
    assert [e[2:] for e in _events(project, "3")] == [
        (None, "open", "sluice", None, "status"),
        ("open", "dead_letter", "sluice", None, "status"),
        ("dead_letter", "open", "ana@finance", "ERP corrected the status", "decided"),
        ("dead_letter", "recovered", "sluice", None, "status"),
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
    released = [e[2:] for e in _events(project, "4") if e[3] == "released"]
    assert released[0][4] == "decided"  # decided before the build that applied it
    assert sorted(released, key=str) == sorted(
        [
            ("open", "released", "ana@finance", "checked with the ERP team", "decided"),
            ("open", "released", "sluice", None, "status"),
            ("released", "released", "sluice", None, "published"),
        ],
        key=str,
    )

    # rejected stays out for good, even once the source row passes
    project.execute("update {schema}.raw_orders set status = 'paid' where order_id = 3")
    project.dbt("run", "-s", "orders")
    assert 3 not in {r[0] for r in scenario.published(project)}
    assert _status(project, "3", "orders_status_known")[0] == "rejected"


def test_unchanged_builds_change_only_attempts_and_last_seen(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, extra_meta="attempt_interval: 0")
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
    assert dict(
        project.query("select rule_name, attempt_count from {schema}.orders__quarantine")
    ) == {rule: 1 if rule == "orders_event_unique" else 2 for rule in scenario.RULES}
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
    assert "[3]" not in keys and len(keys) == len(scenario.RULES) - 1


def _attempts(project):
    return dict(
        project.query(
            "select rule_name || ' ' || record_key, status || ' ' || cast(attempt_count as varchar) "
            "from {schema}.orders__quarantine"
        )
    )


def test_seven_builds_in_a_row_dead_letter_nothing_under_the_default_interval(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, extra_meta="max_attempts: 2")
    project.dbt("build")
    for _ in range(6):
        project.dbt("run", "-s", "orders")
    # one attempt per hour by default: seven builds in a few minutes are one attempt
    assert set(_attempts(project).values()) == {"open 1"}


def test_flags_and_duplicates_never_dead_letter_and_a_fixed_dead_letter_recovers(
    make_project, engine
):
    project = make_project(engine)
    scenario.setup(project, extra_meta="max_attempts: 2\n                  attempt_interval: 0")
    project.dbt("build")
    for _ in range(3):
        project.dbt("run", "-s", "orders")
    found = _attempts(project)
    assert found["orders_amount_positive [8]"].startswith("open")  # flag: published, recorded
    assert found["orders_event_unique [5]"] == "open 1"  # a set-aside copy counts no attempts
    assert found["orders_status_known [3]"] == "dead_letter 2"
    # the dead-lettered row is fixed at the source: recovered and published, with its event
    project.execute("update {schema}.raw_orders set status = 'paid' where order_id = 3")
    project.dbt("run", "-s", "orders")
    assert _attempts(project)["orders_status_known [3]"].startswith("recovered")
    assert 3 in {r[0] for r in scenario.published(project)}
    assert [e[2:4] for e in _events(project, "3")][-1] == ("dead_letter", "recovered")


def test_a_bad_setting_stops_the_build_before_any_model_runs(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, extra_meta="attempt_interval: 'soon'")
    result = project.dbt("build", expect=2)  # dbt: an error before any node ran
    assert "model 'orders'" in result.output and "attempt_interval" in result.output
    assert "expected a duration" in result.output
    # nothing ran: not the seeds, not the models
    assert result.run_results is None or all(
        r["status"] != "success" for r in result.run_results["results"]
    )
    assert not project.relation_exists("raw_orders")
    assert not project.relation_exists("orders")
