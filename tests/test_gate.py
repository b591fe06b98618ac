"""The publication gate: a breach keeps the last good data, records the evidence, skips downstream."""

from __future__ import annotations

import re

from tests import scenario
from tests.dbt_harness import SNOWFLAKE_TOO

CRITICAL_FAULTS = [
    "9,,paid,5,2024-01-09,2024-01-02 10:00:00",
    "10,,open,6,2024-01-10,2024-01-02 10:00:00",
]


@SNOWFLAKE_TOO
def test_breach_keeps_previous_data_and_skips_downstream(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, orders=scenario.GOOD_ORDERS, required_severity="critical")
    project.dbt("build")
    before = scenario.published(project)
    daily_before = project.query("select * from {schema}.orders_daily order by 1")
    assert {r[0] for r in before} == {1, 5, 6}

    scenario.setup(
        project,
        orders=scenario.GOOD_ORDERS
        + CRITICAL_FAULTS
        + ["11,C1,paid,1,2024-01-11,2024-01-02 10:00:00"],
        required_severity="critical",
    )
    result = project.dbt("build", expect=1)

    assert result.status("orders") == "error"
    message = result.result("orders")["message"]
    for part in (
        "sluice gate held publication",
        "'orders'",
        "orders_customer_required",
        "missing_required_field",
        "critical",
        "2 rows",
        "33.33%",
        "threshold of 0 rows",
    ):
        assert part in message, (part, message)
    assert result.status("orders_daily") == "skipped"
    assert result.status("orders_customer_required") == "skipped"

    # the published relation is exactly as it was; row 11 (valid) was held with the rest
    assert scenario.published(project) == before
    assert project.query("select * from {schema}.orders_daily order by 1") == daily_before
    # the evidence was still written
    held = project.query(
        "select record_key, severity, status from {schema}.orders__quarantine "
        "where rule_name = 'orders_customer_required' order by record_key"
    )
    assert held == [("[10]", "critical", "open"), ("[9]", "critical", "open")]
    runs = project.query(
        "select gate_status, gate_message from {schema}.sluice_runs where gate_status = 'held'"
    )
    assert len(runs) == 1 and "orders_customer_required" in runs[0][1]


def test_breach_on_first_build_publishes_nothing(make_project, engine):
    project = make_project(engine)
    scenario.setup(project, required_severity="critical")
    result = project.dbt("build", expect=1)
    assert result.status("orders") == "error"
    assert not project.relation_exists("orders")
    assert project.query("select count(*) from {schema}.orders__quarantine")[0][0] == len(
        scenario.RULES
    )


def test_share_thresholds_and_project_vars(make_project):
    project = make_project("duckdb")
    # 2 high rows (required customer, readable date) of 9 is 22%: 10% holds, 25% passes
    scenario.setup(project, gate="{critical: 0, high: '10%', medium: 5}")
    project.dbt("seed")
    result = project.dbt("run", "-s", "orders", expect=1)
    assert "threshold of 10% of rows" in result.result("orders")["message"]
    scenario.setup(project, gate="{critical: 0, high: '25%', medium: 5}")
    project.dbt("run", "-s", "orders")
    # project-wide var applies where the model says nothing
    scenario.setup(project, gate="{}")
    result = project.dbt("run", "-s", "orders", "--vars", "{sluice_gate: {high: 0}}", expect=1)
    assert "high: 2 rows" in result.result("orders")["message"]


def test_duplicates_count_toward_the_gate_only_when_configured(make_project):
    project = make_project("duckdb")
    scenario.setup(project, gate="{critical: 0, high: 5, medium: 5, low: 0}")
    project.dbt("seed")
    # low = 0 rows allowed; the only low-severity failures are the flagged row and the duplicate
    result = project.dbt("run", "-s", "orders", expect=1)
    said = result.result("orders")["message"].split("sluice-counts:")[0]  # the sentence
    assert "orders_amount_positive" in said
    assert "orders_event_unique" not in said
    path = project.root / "models" / "schema.yml"
    path.write_text(
        re.sub(
            r"( +)order_by: loaded_at",
            r"\1order_by: loaded_at\n\1count_in_gate: true",
            path.read_text(),
        )
    )
    result = project.dbt("run", "-s", "orders", expect=1)
    assert "orders_event_unique" in result.result("orders")["message"]
