"""The operational textfile at scale: 500 models of 8 rules, counters near their largest, stay
under 1 MB (node_exporter reads the whole file at every scrape), every rule's queue depth with
its severity and owner."""

from __future__ import annotations

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


def at_scale(model_count: int = MODELS, rule_count: int = RULES) -> OperationalMetrics:
    """Metrics of `model_count` models of `rule_count` rules each (model names of 10 characters, rule
    names of 17, counters near 10^5 and rows near 10^8; `bench/metrics.py` sizes the same)."""
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
        for m in range(model_count)
        for r in range(rule_count)
    )
    models = tuple(
        ModelMetrics(
            model=f"model_{m:04d}",
            system="erp",
            rows={n: 123456789 for n in ("in", "published", "held", "set_aside", "flagged")},
            last_build_timestamp=1796600544.746,
            last_build_duration_seconds=123.456789,
        )
        for m in range(model_count)
    )
    freshness = tuple(
        ModelFreshness(model=f"model_{m:04d}", lag_seconds=123456.789) for m in range(model_count)
    )
    return OperationalMetrics(rules, models, freshness)


def test_five_hundred_models_of_eight_rules_stay_under_a_megabyte() -> None:
    metrics = at_scale()
    text = render_operational(metrics)
    assert len(text.encode()) < 1_000_000
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {
        (s.labels["model"], s.labels["rule"], s.labels["severity"], s.labels["owner"]): s.value
        for s in families["sluice_exceptions_open"].samples
    } == {(r.model, r.rule, r.severity, r.owner): r.open for r in metrics.rules}
    per_model = families["sluice_model_rows_held"].samples
    assert len(per_model) == MODELS and {frozenset(s.labels) for s in per_model} == {
        frozenset({"model"})
    }
