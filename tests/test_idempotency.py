"""Reruns and `dbt retry` never duplicate or lose a record."""

from __future__ import annotations

from tests import scenario


def _quarantine(project):
    return project.query(
        "select exception_id, record_key, record_copy, rule_name, attempt_count, first_invocation_id, invocation_id "
        "from {schema}.orders__quarantine order by rule_name, record_key"
    )


def test_two_builds_on_the_same_input(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, extra_meta="attempt_interval: 0")  # an attempt per build
    first = project.dbt("build")
    published = scenario.published(project)
    before = _quarantine(project)
    second = project.dbt("build")

    assert scenario.published(project) == published
    after = _quarantine(project)
    assert [r[:4] for r in after] == [r[:4] for r in before]
    assert len({(r[1], r[2], r[3]) for r in after}) == len(after) == len(scenario.RULES)
    # one more attempt each; a set-aside duplicate copy counts none
    assert {r[3]: r[4] for r in after} == {
        rule: 1 if rule == "orders_event_unique" else 2 for rule in scenario.RULES
    }
    assert {r[5] for r in after} == {first.run_results["metadata"]["invocation_id"]}
    assert {r[6] for r in after} == {second.run_results["metadata"]["invocation_id"]}
    assert project.query("select count(*) from {schema}.sluice_runs")[0][0] == 2


def test_retry_after_a_held_gate(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, required_severity="critical", extra_meta="attempt_interval: 0")
    project.dbt("build", expect=1)
    before = _quarantine(project)
    retried = project.dbt("retry", expect=1)
    assert retried.status("orders") == "error"
    after = _quarantine(project)
    assert [r[:4] for r in after] == [r[:4] for r in before]
    # one more attempt each; a set-aside duplicate copy counts none
    assert {r[3]: r[4] for r in after} == {
        rule: 1 if rule == "orders_event_unique" else 2 for rule in scenario.RULES
    }
    assert not project.relation_exists("orders")
    # once the source fixes the row, a retry publishes and the exception recovers
    project.execute("update {schema}.raw_orders set customer_id = 'C1' where order_id = 2")
    project.dbt("retry")
    assert {r[0] for r in scenario.published(project)} == scenario.PUBLISHED_KEYS | {2}
    statuses = dict(
        project.query(
            "select rule_name, status from {schema}.orders__quarantine where record_key = '[2]'"
        )
    )
    assert statuses == {"orders_customer_required": "recovered"}
