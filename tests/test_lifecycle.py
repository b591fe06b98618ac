"""The recovery lifecycle: replay, attempt limits, dead letter, reviewers' decisions, history."""

from __future__ import annotations

import re
import uuid

import pytest

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
    """The history (of record ``key``), each record key back in clear: the history holds only
    its marker."""
    where = f"where record_key = '{scenario.event_key(f'[{key}]')}'" if key else ""
    clear = scenario.clear_keys(project)
    return [
        (clear[r[0]], *r[1:])
        for r in project.query(
            "select record_key, rule_name, from_status, to_status, actor, reason, event_type "
            f"from {{schema}}.sluice_exception_events {where} "
            "order by event_at, event_type, to_status"
        )
    ]


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


def test_statuses_a_build_changes_without_decisions_each_leave_one_event(make_project, engine):
    """With no reviewer's decision about the model, a build reads its status events from the
    exceptions whose status it set itself: a fixed row recovering, a vanished row withdrawn,
    both coming back broken, and an exception reaching the attempt limit each leave one event,
    with the time the exception entered the status it leaves."""
    project = make_project(engine)
    scenario.setup(project, extra_meta="max_attempts: 3\n                  attempt_interval: 0")
    project.dbt("build")
    project.execute(
        "create table {schema}.kept_orders as select * from {schema}.raw_orders where order_id = 7"
    )
    project.execute("update {schema}.raw_orders set status = 'paid' where order_id = 3")
    project.execute("delete from {schema}.raw_orders where order_id = 7")
    project.dbt("run", "-s", "orders")
    project.execute("update {schema}.raw_orders set status = 'weird' where order_id = 3")
    project.execute("insert into {schema}.raw_orders select * from {schema}.kept_orders")
    project.dbt("run", "-s", "orders")
    assert project.query("select count(*) from {schema}.sluice_decisions") == [(0,)]

    def path(key, rule):
        return [e[2:4] for e in _events(project, key) if e[1] == rule and e[6] == "status"]

    assert path("2", "orders_customer_required") == [(None, "open"), ("open", "dead_letter")]
    assert path("3", "orders_status_known") == [
        (None, "open"),
        ("open", "recovered"),
        ("recovered", "open"),
    ]
    assert path("7", "orders_date_readable") == [
        (None, "open"),
        ("open", "withdrawn"),
        ("withdrawn", "open"),
    ]
    assert _status(project, "2", "orders_customer_required") == ("dead_letter", 3)
    assert _status(project, "3", "orders_status_known") == ("open", 2)
    # each reopening names when its exception entered the status it leaves
    for key, left in (("3", "recovered"), ("7", "withdrawn")):
        entered, reopened_from = project.query(
            "select max(case when to_status = '" + left + "' then event_at end), "
            "max(case when from_status = '" + left + "' then from_status_at end) "
            "from {schema}.sluice_exception_events "
            f"where record_key = '{scenario.event_key(f'[{key}]')}' and event_type = 'status'"
        )[0]
        assert entered is not None and reopened_from == entered, (key, entered, reopened_from)


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


@pytest.mark.package_models
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


# --- the attempt settings, each where it can be set ---------------------------------------------

QUARANTINED = {  # the rules whose route holds the row and can dead-letter, with their record
    "orders_customer_required [2]",
    "orders_status_known [3]",
    "orders_customer_exists [4]",
    "orders_date_readable [7]",
}


def _rule_argument(project, argument):
    """Adds `argument` to the arguments of the rule orders_status_known (record [3])."""
    path = project.root / "models" / "schema.yml"
    text = path.read_text()
    edited = re.sub(r"( +)values: \[paid, open\]", rf"\g<0>\n\1{argument}", text, count=1)
    assert edited != text
    path.write_text(edited)


def _age(project, column, interval):
    """Moves a timestamp of every exception back, as if `interval` had passed since."""
    project.execute(
        f"update {{schema}}.orders__quarantine set {column} = {column} - interval '{interval}'"
    )


@pytest.mark.parametrize("where", ["var", "model", "rule"])
def test_dead_letter_after_sends_exceptions_open_that_long_to_the_dead_letter(
    make_project, engine, where
):
    project = make_project(engine)
    scenario.setup(project, extra_meta="dead_letter_after: 1 day" if where == "model" else "")
    if where == "rule":
        _rule_argument(project, "dead_letter_after: 1 day")
    flags = ["--vars", "{sluice_dead_letter_after: 1 day}"] if where == "var" else []
    project.dbt("build", *flags)
    project.dbt("run", "-s", "orders", *flags)
    assert set(_attempts(project).values()) == {"open 1"}  # not a day yet, nor a second attempt
    _age(project, "first_seen_at", "25 hours")
    project.dbt("run", "-s", "orders", *flags)
    found = _attempts(project)
    assert set(found) == QUARANTINED | {"orders_amount_positive [8]", "orders_event_unique [5]"}
    # flag and deduplicate never dead-letter; with the rule's setting, only that rule's does
    dead = {"orders_status_known [3]"} if where == "rule" else QUARANTINED
    assert found == {rule: "dead_letter 1" if rule in dead else "open 1" for rule in found}


def test_a_rule_counts_attempts_at_its_own_interval(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, extra_meta="max_attempts: 2")
    _rule_argument(project, "attempt_interval: 0")
    project.dbt("build")
    project.dbt("run", "-s", "orders")
    found = _attempts(project)
    assert found["orders_status_known [3]"] == "dead_letter 2"  # one attempt per build
    assert found["orders_customer_required [2]"] == "open 1"  # the model's default: an hour


def test_the_vars_set_the_interval_and_the_limit_for_every_model(make_project, engine):
    project = make_project(engine)
    scenario.setup(project)
    flags = ["--vars", "{sluice_attempt_interval: 0, sluice_max_attempts: 2}"]
    project.dbt("build", *flags)
    project.dbt("run", "-s", "orders", *flags)
    found = _attempts(project)
    assert {rule: found[rule] for rule in QUARANTINED} == dict.fromkeys(
        QUARANTINED, "dead_letter 2"
    )
    assert found["orders_amount_positive [8]"] == "open 2"  # flag: counted, never dead-lettered
    assert found["orders_event_unique [5]"] == "open 1"  # a set-aside copy counts no attempts


def test_the_next_attempt_counts_once_the_interval_has_passed(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, extra_meta="max_attempts: 3")  # the default interval: an hour
    project.dbt("build")
    project.dbt("run", "-s", "orders")
    assert _attempts(project)["orders_status_known [3]"] == "open 1"
    _age(project, "status_changed_at", "61 minutes")
    project.dbt("run", "-s", "orders")
    assert {rule: _attempts(project)[rule] for rule in QUARANTINED} == dict.fromkeys(
        QUARANTINED, "open 2"
    )
    # the third attempt counts two intervals after the status last changed, not one after the
    # second attempt's build
    project.dbt("run", "-s", "orders")
    assert _attempts(project)["orders_status_known [3]"] == "open 2"
    _age(project, "status_changed_at", "60 minutes")
    project.dbt("run", "-s", "orders")
    found = _attempts(project)
    assert {rule: found[rule] for rule in QUARANTINED} == dict.fromkeys(
        QUARANTINED, "dead_letter 3"
    )
    assert found["orders_amount_positive [8]"] == "open 3"
    assert found["orders_event_unique [5]"] == "open 1"


def test_a_release_while_the_gate_holds_is_decided_then_held_then_published(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, gate="{critical: 0, high: 0, medium: 0}")
    project.dbt("build", expect=1)  # the gate holds: nothing published
    _decide(project, "4", "orders_customer_exists", "release", reason="new customer")
    decided_at = project.query("select decided_at from {schema}.sluice_decisions")[0][0]
    project.dbt("run", "-s", "orders", expect=1)  # held again, with the release applied

    def history():
        gate = dict(project.query("select invocation_id, gate_status from {schema}.sluice_runs"))
        return [
            (kind, before, after, actor, event_at, gate[inv])
            for kind, before, after, actor, event_at, inv in project.query(
                "select event_type, from_status, to_status, actor, event_at, invocation_id "
                "from {schema}.sluice_exception_events "
                f"where record_key = '{scenario.event_key('[4]')}' "
                "order by event_at, event_type"
            )
        ]

    held = history()
    assert [e[:4] + e[5:] for e in held] == [
        ("status", None, "open", "sluice", "held"),
        ("decided", "open", "released", "ana@finance", "held"),
        ("status", "open", "released", "sluice", "held"),
    ]
    assert held[1][4] == decided_at  # the decision at the time the reviewer made it
    assert _status(project, "4", "orders_customer_exists")[0] == "released"
    assert not project.relation_exists("orders")

    project.write(
        "models/schema.yml", scenario.schema_yml(gate="{critical: 0, high: 50, medium: 50}")
    )
    project.dbt("run", "-s", "orders")
    passed = history()
    assert passed[:3] == held
    assert [e[:4] + e[5:] for e in passed[3:]] == [
        ("published", "released", "released", "sluice", "passed")
    ]
    assert 4 in {r[0] for r in scenario.published(project)}


@pytest.mark.package_models
def test_the_summary_shows_the_status_a_decision_ended_in_not_the_one_it_set(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, extra_meta="max_attempts: 1\n                  attempt_interval: 0")
    project.dbt("build")  # max_attempts 1: every held record is dead-lettered at once
    _decide(project, "3", "orders_status_known", "retry")
    project.dbt("build")  # re-opened by the retry, still failing, at the limit again
    assert _status(project, "3", "orders_status_known") == ("dead_letter", 1)
    assert [e[2:5] + e[6:] for e in _events(project, "3")] == [
        (None, "dead_letter", "sluice", "status"),
        ("dead_letter", "open", "ana@finance", "decided"),
    ]
    summary = project.query(
        "select status, exceptions from {schema}.sluice_exception_summary "
        "where error_class = 'invalid_value'"
    )
    assert summary == [("dead_letter", 1)]
