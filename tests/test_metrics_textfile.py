"""The operational textfile at scale: 500 models of 8 rules, counters near their largest, stay
under 1 MB (node_exporter reads the whole file at every scrape), and the queue depth per
model, severity and owner adds up the rules' own."""

from __future__ import annotations

from collections import Counter

from prometheus_client.parser import text_string_to_metric_families
from sluice.escalate.metrics import (
    EXCEPTION_COUNTERS,
    ModelFreshness,
    ModelMetrics,
    OperationalMetrics,
    RuleMetrics,
    render_operational,
)

MODELS, RULES = 500, 8


def _metrics() -> OperationalMetrics:
    rules = tuple(
        RuleMetrics(
            model=f"model_{m:04d}",
            rule=f"model_{m:04d}_rule_{r}",
            severity=("high", "medium")[r % 2],
            owner=f"team_{m % 20}",
            system="erp",
            counts={name: 123456 for name, _ in EXCEPTION_COUNTERS},
            open=1000 + r,
            dead_letter=56,
            oldest_open_seconds=123456.789,
        )
        for m in range(MODELS)
        for r in range(RULES)
    )
    models = tuple(
        ModelMetrics(
            model=f"model_{m:04d}",
            system="erp",
            builds=9999,
            rows={n: 123456789 for n in ("in", "published", "held", "set_aside", "flagged")},
            last_build_timestamp=1796600544.746,
            rows_held_last_build=1234,
            last_build_duration_seconds=123.456789,
        )
        for m in range(MODELS)
    )
    freshness = tuple(
        ModelFreshness(model=f"model_{m:04d}", lag_seconds=123456.789) for m in range(MODELS)
    )
    return OperationalMetrics(rules, models, freshness)


def test_five_hundred_models_of_eight_rules_stay_under_a_megabyte() -> None:
    metrics = _metrics()
    text = render_operational(metrics)
    assert len(text.encode()) < 1_000_000
    families = {f.name: f for f in text_string_to_metric_families(text)}
    by_rule = families["sluice_exceptions_open"].samples
    assert {(s.labels["model"], s.labels["rule"]): s.value for s in by_rule} == {
        (r.model, r.rule): r.open for r in metrics.rules
    }
    assert {frozenset(s.labels) for s in by_rule} == {frozenset({"model", "rule"})}
    owned: Counter = Counter()
    for r in metrics.rules:
        owned[(r.model, r.severity, r.owner)] += r.open
    by_owner = {
        (s.labels["model"], s.labels["severity"], s.labels["owner"]): s.value
        for s in families["sluice_exceptions_open_by_owner"].samples
    }
    assert by_owner == owned and len(by_owner) == MODELS * 2
