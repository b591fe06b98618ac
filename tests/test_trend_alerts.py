"""Trend alerts: a model's error rate above its rule for the builds it names fires one webhook
alert with the figures, not again while it holds, and again once it cleared and rose again.
The settings are checked, naming the model or the var and the key."""

from __future__ import annotations

import json
import os

import pytest
from sluice.build import BuildError, build
from sluice.escalate.trends import (
    AlertSettingError,
    BuildRate,
    ModelFigures,
    evaluate,
    model_rules,
    project_rules,
)

from tests import scenario
from tests.test_escalate import Recorder, server  # noqa: F401 - the receiver's fixture

ALERTS = "alerts: {error_rate: {above: '20%', for_builds: 2}}"
LOOSE_GATE = "{critical: 100, high: 100, medium: 100}"


@pytest.fixture
def webhook(server):  # noqa: F811 - the fixture imported above
    """The URL of test_escalate's recording receiver, answering 200."""
    Recorder.status = 200
    return f"http://127.0.0.1:{server.server_port}/hook"


def _received() -> list[dict]:
    return [json.loads(body) for body in Recorder.received]


def _build(project, url: str):
    return build(
        project.root,
        ["--profiles-dir", str(project.root), "--select", "orders"],
        sleeper=lambda _: None,
        report=False,
        max_attempts=1,
        log_dbt_output=True,
        environ={**os.environ, "SLUICE_WEBHOOK_URL": url},
    )


def _trend_alerts(payloads: list[dict]) -> list[dict]:
    return [a for p in payloads for a in p.get("sluice_trend_alerts", [])]


def _seed(project, orders: list[str]) -> None:
    project.write("seeds/raw_orders.csv", scenario.ORDERS_HEADER + "\n" + "\n".join(orders) + "\n")
    project.dbt("seed", "-s", "raw_orders", "--full-refresh")


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_error_rate_alert_fires_once_while_it_holds(make_project, engine, webhook) -> None:
    project = make_project(engine)
    scenario.setup(project, gate=LOOSE_GATE, extra_meta=ALERTS)
    project.dbt("seed")
    faulty = scenario.GOOD_ORDERS + scenario.FAULTY_ORDERS
    sent: list[int] = []
    # (the source's rows, before each build): faulty twice (fires on the second), still faulty
    # (holds: not sent again), clean (clears), faulty twice again (fires again)
    plan = [faulty, faulty, faulty, scenario.GOOD_ORDERS, faulty, faulty]
    for orders in plan:
        _seed(project, orders)
        _build(project, webhook)
        sent.append(len(_trend_alerts(_received())))
    assert sent == [0, 1, 1, 1, 1, 2]
    first, again = _trend_alerts(_received())
    for alert in (first, again):
        assert alert["model"] == "orders" and alert["alert"] == "error_rate"
        assert alert["severity"] == "high" and alert["priority"] == "P3"
        figures = alert["figures"]
        assert figures["above"] == 0.2 and figures["for_builds"] == 2
        # 4 of the 9 rows read are held: missing customer, unknown status, unknown customer,
        # unreadable date
        assert figures["error_rate"] == pytest.approx(4 / 9, abs=1e-6)
    state = json.loads((project.root / "target" / "sluice" / "trend_alerts.json").read_text())
    (key,) = state["sent_and_holding"]
    assert key.endswith(".orders:error_rate")


def test_a_malformed_var_stops_the_build_naming_the_key(make_project, webhook) -> None:
    project = make_project("duckdb")
    scenario.setup(project)
    project.write(
        "dbt_project.yml",
        (project.root / "dbt_project.yml").read_text()
        + "\nvars:\n  sluice_alerts:\n    critical: {error_rate: {above: 'lots'}}\n",
    )
    with pytest.raises(BuildError, match=r"sluice_alerts\.critical: alerts\.error_rate\.above"):
        _build(project, webhook)
    assert Recorder.received == []


def test_a_malformed_model_alert_stops_the_build_before_any_model_runs(
    make_project, webhook
) -> None:
    """A threshold the sidecar could not read after dbt is refused by the start-of-build check:
    nothing runs, the build exits 2 naming the model and the key."""
    project = make_project("duckdb")
    scenario.setup(project, extra_meta="alerts: {error_rate: {above: 'x%'}}")
    project.install_package()
    with pytest.raises(BuildError) as caught:
        _build(project, webhook)
    message = str(caught.value)
    assert "model 'orders'" in message and "'meta.sluice.alerts.error_rate.above'" in message
    assert "'x%'" in message, message
    result = caught.value.result
    assert result is not None and result.exit_code == 2
    assert not project.relation_exists("orders")
    assert _trend_alerts(_received()) == []  # the failure itself is escalated, as any start's


@pytest.mark.parametrize(
    ("alerts", "key"),
    [
        ({"error_rate": {"above": "2"}}, "error_rate.above"),
        ({"error_rate": {"above": "2%", "for_builds": 1.5}}, "error_rate.for_builds"),
        ({"rising": {"factor": 3, "over": "a week"}}, "rising.over"),
        ({"rising": {"over": "7 days"}}, "rising.factor"),
        ({"queue_age": {"above": "2 days", "below": "1 day"}}, "queue_age.below"),
        ({"latency": {"above": "1h"}}, "latency"),
    ],
)
def test_malformed_model_alerts_name_the_model_and_key(alerts, key) -> None:
    with pytest.raises(AlertSettingError, match=rf"model orders: meta\.sluice: alerts\.{key}"):
        model_rules("orders", alerts, "high", {})
    with pytest.raises(AlertSettingError, match=r"var sluice_alerts\.urgent"):
        project_rules({"urgent": {}})


DAY = 86400.0


def _figures(builds, oldest=None) -> ModelFigures:
    return ModelFigures("model.p.orders", "orders", "high", "erp", tuple(builds), oldest)


def test_rules_merge_and_evaluate() -> None:
    scopes = project_rules(
        {
            "default": {"queue_age": {"above": "2 days"}},
            "high": {"rising": {"factor": 3, "over": "7 days"}},
        }
    )
    rules = model_rules("orders", {"queue_age": {"above": "1 day"}}, "high", scopes)
    assert rules.queue_age_above_seconds == DAY and rules.rising_factor == 3
    # a whole number of seconds written as a decimal reads as the package's durations read it
    assert (
        model_rules("orders", {"queue_age": {"above": 3600.0}}, "high", {}).queue_age_above_seconds
        == 3600
    )
    with pytest.raises(AlertSettingError, match=r"alerts\.queue_age\.above: expected a whole"):
        model_rules("orders", {"queue_age": {"above": 0}}, "high", {})
    assert model_rules("orders", None, "low", scopes).rising_factor is None
    # 10% over the last 7 days against 2% over the 7 before: rising; 5% is not 3x 2%
    rising = [BuildRate(100, 10, DAY), BuildRate(100, 2, 8 * DAY)]
    assert [a.kind for a in evaluate(rules, _figures(rising))] == ["rising"]
    calm = [BuildRate(100, 5, DAY), BuildRate(100, 2, 8 * DAY)]
    assert evaluate(rules, _figures(calm)) == []
    (old,) = evaluate(rules, _figures(calm, oldest=1.5 * DAY))
    assert old.kind == "queue_age" and old.figures["oldest_open_seconds"] == 1.5 * DAY
