"""The operational metrics as a Prometheus textfile: per sluice model and rule, the queue
depth; per model, dead letters, the oldest open exception's age, what the builds did to the
exceptions and the rows they read, published and held; latency: per model, its latest build's
duration and its data's freshness lag (from the warehouse's history, as ``sluice_metrics`` has
them), and per source, dbt's last freshness check (from ``sources.json``, an artifact the
warehouse does not have).

The counters (``*_total``) add up the whole history (``sluice_runs``, ``sluice_exception_events``
are append-only), so they only grow from one file to the next. Labels are bounded and stable:
model, rule, severity, owner on the queue depth per rule, model on everything else, and the
model's system (``source_system``) once per model in ``sluice_model_info``; never a record's
key or values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sluice.artifacts import Manifest, SourcesResults
from sluice.escalate.prometheus import family_header, label, number
from sluice.freshness import source_freshness

EXCEPTION_COUNTERS: tuple[tuple[str, str], ...] = (
    ("new", "Exceptions seen for the first time."),
    ("recovered", "Exceptions recovered: the row passed again and was published."),
    ("released", "Exceptions released by a reviewer's decision."),
    ("rejected", "Exceptions rejected by a reviewer's decision."),
    ("dead_lettered", "Exceptions moved to dead_letter (attempt limit or age)."),
    ("retried", "Reviewers' retries applied."),
    ("withdrawn", "Exceptions withdrawn: the record left the source."),
)
ROW_COUNTERS: tuple[tuple[str, str], ...] = (
    ("in", "Rows the model's builds read."),
    ("published", "Rows the model's builds published."),
    ("held", "Rows the model's builds held back."),
    ("set_aside", "Duplicate copies the model's builds set aside."),
    ("flagged", "Rows published but flagged."),
)


@dataclass(frozen=True, slots=True)
class RuleMetrics:
    """One sluice model and rule, over its whole history."""

    model: str
    rule: str
    severity: str
    owner: str
    system: str
    counts: dict[str, int]
    """``EXCEPTION_COUNTERS`` name -> count."""
    open: int
    dead_letter: int
    oldest_open_seconds: float | None


@dataclass(frozen=True, slots=True)
class ModelMetrics:
    """One sluice model, over every recorded build."""

    model: str
    system: str
    rows: dict[str, int]
    """``ROW_COUNTERS`` name -> rows."""
    last_build_timestamp: float
    last_build_duration_seconds: float | None = None
    """The latest build's ``build_duration_seconds`` (None: recorded before that column)."""


@dataclass(frozen=True, slots=True)
class ModelFreshness:
    """A model's latest recorded load (``sluice_load_states``): any model that records one."""

    model: str
    lag_seconds: float | None
    """How old the data its relation held was at that load (``as_of - published_at``); None
    when the relation was never published."""


@dataclass(frozen=True, slots=True)
class SourceLag:
    """A source as dbt's last ``dbt source freshness`` measured it."""

    source: str
    """``<source name>.<table name>``."""
    lag_seconds: float
    """``snapshotted_at - max_loaded_at``: how old its newest row was when checked."""
    checked_timestamp: float
    """``snapshotted_at`` (Unix time)."""


@dataclass(frozen=True, slots=True)
class OperationalMetrics:
    rules: tuple[RuleMetrics, ...]
    models: tuple[ModelMetrics, ...]
    freshness: tuple[ModelFreshness, ...] = ()


def _rule_labels(r: RuleMetrics) -> str:
    return (
        f'model="{label(r.model)}",rule="{label(r.rule)}",severity="{label(r.severity)}",'
        f'owner="{label(r.owner)}"'
    )


def render_operational(metrics: OperationalMetrics, sources: Sequence[SourceLag] = ()) -> str:
    """The queue depth per rule (model, rule, severity, owner); everything else per model
    (model), the model's system once in ``sluice_model_info``, and the sources' freshness per
    source (source): the file stays small (under 1 MB for 500 models of 8 rules). What
    PromQL derives from these (the builds per model from the changes of the latest build's
    time, the rows a build held from the increase of the rows held) is not written again."""
    rules = sorted(metrics.rules, key=lambda r: (r.model, r.rule))
    by_model: dict[str, list[RuleMetrics]] = {}
    for r in rules:
        by_model.setdefault(r.model, []).append(r)
    runs = {m.model: m for m in metrics.models}
    names = sorted(set(by_model) | set(runs))
    systems = {n: runs[n].system if n in runs else by_model[n][0].system for n in names}
    per_model = [f'model="{label(n)}"' for n in names]
    of = [by_model.get(n, []) for n in names]
    ages = [[r.oldest_open_seconds for r in rs if r.oldest_open_seconds is not None] for rs in of]
    built = [runs.get(n) for n in names]
    # (name, type, help, labels, values): one family each, in this order
    families: list[tuple[str, str, str, list[str], Sequence[float | None]]] = [
        ("sluice_model_info", "gauge",
         "The sluice model's source system (always 1; join on model).",
         [f'model="{label(n)}",system="{label(systems[n])}"' for n in names], [1] * len(names)),
        ("sluice_exceptions_open", "gauge",
         "Open exceptions of the rule (the queue depth).",
         [_rule_labels(r) for r in rules], [r.open for r in rules]),
        ("sluice_exceptions_dead_letter", "gauge", "Exceptions of the model in dead_letter.",
         per_model, [sum(r.dead_letter for r in rs) for rs in of]),
        ("sluice_exceptions_oldest_open_age_seconds", "gauge",
         "Age of the model's oldest open exception (since its latest move to open).",
         per_model, [max(a) if a else None for a in ages]),
        *((f"sluice_exceptions_{name}_total", "counter", help_text,
           per_model, [sum(r.counts.get(name, 0) for r in rs) for rs in of])
          for name, help_text in EXCEPTION_COUNTERS),
        *((f"sluice_model_rows_{name}_total", "counter", help_text,
           per_model, [m.rows.get(name, 0) if m else 0 for m in built])
          for name, help_text in ROW_COUNTERS),
        ("sluice_model_last_build_timestamp_seconds", "gauge",
         "When the model's latest build recorded its run (Unix time).",
         per_model, [m.last_build_timestamp if m else None for m in built]),
        *_latency_families(built, per_model, metrics.freshness, sources),
    ]  # fmt: skip
    lines: list[str] = []
    for name, kind, help_text, labels, values in families:
        family_header(lines, name, kind, help_text)
        lines.extend(
            f"{name}{{{where}}} {number(v)}"
            for where, v in zip(labels, values, strict=True)
            if v is not None
        )
    return "\n".join(lines) + "\n"


def _latency_families(
    built: Sequence[ModelMetrics | None],
    per_model: list[str],
    freshness: Sequence[ModelFreshness],
    sources: Sequence[SourceLag],
) -> list[tuple[str, str, str, list[str], Sequence[float | None]]]:
    """The latency families: the latest build's duration per sluice model, the freshness lag
    per model that records its loads, per source the lag dbt's freshness check measured."""
    loads = sorted(freshness, key=lambda f: f.model)
    by_load = [f'model="{label(f.model)}"' for f in loads]
    checked = sorted(sources, key=lambda s: s.source)
    by_source = [f'source="{label(s.source)}"' for s in checked]
    return [
        ("sluice_model_build_duration_seconds", "gauge",
         "How long the model's latest build took, from the start of its materialization to its "
         "record (dbt's clock).",
         per_model, [m.last_build_duration_seconds if m else None for m in built]),
        ("sluice_model_freshness_lag_seconds", "gauge",
         "At the model's latest load: how long before it the data its relation held was "
         "published (0 when that load published).",
         by_load, [f.lag_seconds for f in loads]),
        ("sluice_source_freshness_lag_seconds", "gauge",
         "At dbt's latest source freshness check: the age of the source's newest row "
         "(snapshotted_at - max_loaded_at).",
         by_source, [s.lag_seconds for s in checked]),
        ("sluice_source_freshness_checked_timestamp_seconds", "gauge",
         "When dbt's latest source freshness check measured the source (Unix time).",
         by_source, [s.checked_timestamp for s in checked]),
    ]  # fmt: skip


def source_lags(manifest: Manifest, sources: SourcesResults | None) -> tuple[SourceLag, ...]:
    """Each source dbt's freshness check measured (``sources.json``), named as the manifest
    names it; a source it could not measure (a runtime error, no row) has no lag."""
    return tuple(
        SourceLag(
            source=f"{s.source_name}.{s.name}",
            lag_seconds=(s.snapshotted_at - s.max_loaded_at).total_seconds(),
            checked_timestamp=s.snapshotted_at.timestamp(),
        )
        for s in source_freshness(manifest, sources)
        if s.max_loaded_at is not None and s.snapshotted_at is not None
    )


def source_systems(manifest: Manifest) -> dict[str, str]:
    """Each sluice model's ``meta.sluice.source_system``, by unique id."""
    systems: dict[str, str] = {}
    for unique_id, node in manifest.nodes.items():
        if node.resource_type != "model" or node.config.materialized != "sluice":
            continue
        sluice_meta = node.config.meta.get("sluice")
        system = sluice_meta.get("source_system") if isinstance(sluice_meta, dict) else None
        if isinstance(system, str):
            systems[unique_id] = system
    return systems
