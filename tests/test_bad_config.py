"""Bad configuration fails at compile time with a message naming the model, the rule and the key."""

from __future__ import annotations

import re

import pytest

from tests import scenario


def _edit(project, pattern, replacement):
    path = project.root / "models" / "schema.yml"
    text = path.read_text()
    new = re.sub(pattern, replacement, text, count=1)
    assert new != text, pattern
    path.write_text(new)


CASES = [
    (
        "unknown severity",
        r"sluice_severity: high",
        "sluice_severity: urgent",
        [
            "'orders'",
            "'orders_customer_required'",
            "'sluice_severity'",
            "unknown severity 'urgent'",
        ],
    ),
    (
        "unknown route",
        r"route: flag",
        "route: shred",
        ["'orders'", "'orders_amount_positive'", "'route'", "unknown route 'shred'"],
    ),
    (
        "dead letter is not chosen",
        r"route: flag",
        "route: dead_letter",
        ["'orders'", "'orders_amount_positive'", "'route'", "'dead_letter'"],
    ),
    (
        "unknown class",
        r"( +)route: flag",
        r"\1route: flag\n\1error_class: oops",
        ["'orders'", "'orders_amount_positive'", "'error_class'", "unknown error class 'oops'"],
    ),
    (
        "missing column",
        r"- name: status\n",
        "- name: statuz\n",
        ["'orders'", "'orders_status_known'", "'column_name'", "'statuz' is not a column"],
    ),
    (
        "no key",
        r"key: order_id",
        "description: no key",
        ["'orders'", "'meta.sluice.key'", "record key"],
    ),
    (
        "threshold that is not a number",
        r"gate: \{critical: 0, high: 5, medium: 5\}",
        "gate: {critical: 0, high: lots}",
        ["'orders'", "'gate.high'", "'lots'", "neither a row count nor a share"],
    ),
    (
        "threshold that is a fraction",
        r"gate: \{critical: 0, high: 5, medium: 5\}",
        "gate: {critical: 0, high: 2.5}",
        ["'orders'", "'gate.high'", "'2.5'"],
    ),
    (
        "unknown alert key",
        r"( +)key: order_id",
        r"\1key: order_id\n\1alerts: {error_rate: {above: '2%', for_bulids: 3}}",
        ["'orders'", "'meta.sluice.alerts.error_rate.for_bulids'", "unknown key"],
    ),
    (
        "alert duration that is not one",
        r"( +)key: order_id",
        r"\1key: order_id\n\1alerts: {queue_age: {above: 'soon'}}",
        ["'orders'", "'meta.sluice.alerts.queue_age.above'", "'soon'"],
    ),
    (
        "alert percentage that is not one",
        r"( +)key: order_id",
        r"\1key: order_id\n\1alerts: {error_rate: {above: 'x%'}}",
        ["'orders'", "'meta.sluice.alerts.error_rate.above'", "'x%'", "percentage"],
    ),
    (
        "alert factor that is not a number",
        r"( +)key: order_id",
        r"\1key: order_id\n\1alerts: {rising: {factor: lots, over: '7 days'}}",
        ["'orders'", "'meta.sluice.alerts.rising.factor'", "'lots'", "positive number"],
    ),
    (
        "alert builds that are not whole",
        r"( +)key: order_id",
        r"\1key: order_id\n\1alerts: {error_rate: {above: '2%', for_builds: 1.5}}",
        ["'orders'", "'meta.sluice.alerts.error_rate.for_builds'", "'1.5'", "whole number"],
    ),
    (
        "alert duration of nothing",
        r"( +)key: order_id",
        r"\1key: order_id\n\1alerts: {queue_age: {above: 0}}",
        ["'orders'", "'meta.sluice.alerts.queue_age.above'", "more than 0 seconds"],
    ),
    (
        "unknown gate severity",
        r"gate: \{critical: 0, high: 5, medium: 5\}",
        "gate: {critical: 0, urgent: 5}",
        ["'orders'", "'gate.urgent'", "unknown severity"],
    ),
    (
        "unknown model setting",
        r"( +)key: order_id",
        r"\1key: order_id\n\1gates: {}",
        ["'orders'", "'meta.sluice.gates'", "unknown setting"],
    ),
    (
        "unknown accepted load state",
        r"( +)key: order_id",
        r"\1key: order_id\n\1accepts: [complete, complet]",
        ["'orders'", "'meta.sluice.accepts'", "unknown load state 'complet'"],
    ),
    (
        "batch id column that is not a name",
        r"( +)key: order_id",
        r"\1key: order_id\n\1batch_id_column: 'load batch'",
        ["'orders'", "'meta.sluice.batch_id_column'", "'load batch'"],
    ),
    (
        "batch id column the model selects",
        r"( +)key: order_id",
        r"\1key: order_id\n\1batch_id_column: status",
        ["'orders'", "'meta.sluice.batch_id_column'", "'status' is already a column"],
    ),
]


# Found once the model's SQL has run (the columns it returns are known only then): dbt exits 1,
# the model publishes nothing and what depends on it is skipped. Every other case is found by the
# start-of-build check: dbt exits 2 and nothing runs at all, not even the seeds.
AT_THE_MODEL = {"missing column", "batch id column the model selects"}


@pytest.mark.parametrize(
    ("case", "pattern", "replacement", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_config_is_a_clear_compile_error(make_project, case, pattern, replacement, expected):
    project = make_project("duckdb")
    scenario.setup(project)
    _edit(project, pattern, replacement)
    result = project.dbt("build", expect=None)
    assert "Compilation Error" in result.output, result.output[-3000:]
    for part in expected:
        assert part in result.output, (part, result.output[-3000:])
    assert not project.relation_exists("orders")
    if case in AT_THE_MODEL:
        assert result.returncode == 1, result.output[-3000:]
        assert result.status("orders") == "error"
        assert result.status("orders_daily") == "skipped"
    else:
        _assert_nothing_ran(project, result)


def _assert_nothing_ran(project, result):
    assert result.returncode == 2, result.output[-3000:]  # dbt: an error before any node ran
    assert result.run_results is None or all(
        r["status"] != "success" for r in result.run_results["results"]
    )
    assert not project.relation_exists("raw_orders")
    assert not project.relation_exists("customers")


def test_a_broken_sluice_model_outside_the_selection_stops_the_build(make_project, engine):
    """The start-of-build check reads every sluice model in the project, selected or not."""
    project = make_project(engine)
    scenario.setup(project)
    project.write("models/customers_checked.sql", "select * from {{ ref('customers') }}\n")
    project.write(
        "models/customers_checked.yml",
        """
        models:
          - name: customers_checked
            config: {materialized: sluice, meta: {sluice: {key: customer_id, retries: 3}}}
        """,
    )
    result = project.dbt("build", "-s", "+orders", expect=None)
    assert "model 'customers_checked', key 'meta.sluice.retries': unknown setting" in " ".join(
        result.output.split()
    ), result.output[-3000:]
    _assert_nothing_ran(project, result)
    assert not project.relation_exists("orders")


def test_the_package_disabled_as_a_whole_is_named_not_raced(make_project):
    """`models: sluice: +enabled: false` disables the package's on-run-start hooks with its
    models (dbt applies it to the package's hook nodes too): the settings are then never checked
    and parallel models race to create the shared tables. A sluice model refuses to build and
    says which setting to use instead; disabling the package's folders keeps the hooks."""
    project = make_project("duckdb")
    scenario.setup(project)
    path = project.root / "dbt_project.yml"
    folders = path.read_text()
    assert "    history:\n      +enabled: false" in folders  # how the harness leaves them out
    path.write_text(
        folders.replace(
            "models:\n  sluice:\n    history:\n      +enabled: false\n"
            "    metrics:\n      +enabled: false\n",
            "models:\n  sluice:\n    +enabled: false\n",
        )
    )
    result = project.dbt("build", expect=1)
    message = " ".join(result.output.split())
    assert "the sluice package's on-run-start hooks are disabled" in message, message[-3000:]
    assert "models: sluice: history: +enabled: false" in message
    assert result.status("orders") == "error"
    assert not project.relation_exists("orders")

    path.write_text(folders)
    result = project.dbt("build", expect=None)
    assert result.status("orders") == "success", result.output[-3000:]
    assert not project.relation_exists("sluice_load_state")  # the package's own views left out
