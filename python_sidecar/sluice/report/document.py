"""The impact document: one plain, versioned structure behind impact.json, HTML and Markdown.

The layout is documented in docs/impact-schema.md; bump ``SCHEMA_VERSION`` on any change that
removes or retypes a field.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Final

from sluice.freshness import FreshnessStatus, SourceFreshness
from sluice.impact import (
    CRITICALITIES,
    ExposureImpact,
    ExposureStatus,
    Impact,
    ModelQuarantine,
    NodeStatus,
    RootCause,
)

SCHEMA_VERSION: Final = 1

Document = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _exposure(exposure: ExposureImpact) -> Document:
    return {
        "unique_id": exposure.unique_id,
        "name": exposure.name,
        "label": exposure.label,
        "type": exposure.type,
        "url": exposure.url,
        "maturity": exposure.maturity,
        "criticality": exposure.criticality,
        "owners": [{"name": o.name, "email": o.email} for o in exposure.owners],
        "status": exposure.status.value,
        "rows_held_upstream": exposure.rows_held_upstream,
        "data_as_of": iso(exposure.data_as_of),
        "models_built_at": iso(exposure.models_built_at),
        "oldest_source_loaded_at": iso(exposure.oldest_source_loaded_at),
        "oldest_source_id": exposure.oldest_source_id,
        "as_of_complete": exposure.as_of_complete,
        "reasons": [
            {
                "root_cause_id": r.root_cause_id,
                "kind": r.kind.value,
                "effect": r.effect.value,
                "node_id": r.node_id,
                "path": list(r.path),
            }
            for r in exposure.reasons
        ],
    }


def _root_cause(root: RootCause) -> Document:
    return {
        "id": root.id,
        "kind": root.kind.value,
        "effect": root.effect.value,
        "is_problem": root.kind.is_problem,
        "node_id": root.node_id,
        "node_name": root.node_name,
        "resource_type": root.resource_type,
        "status": root.status,
        "message": root.message,
        "failures": root.failures,
        "rows_held": root.rows_held,
        "owner": root.owner,
        "owner_basis": root.owner_basis,
        "entry_nodes": list(root.entry_nodes),
        "affected_nodes": list(root.affected_nodes),
        "affected_exposures": list(root.affected_exposures),
    }


def _node(node: NodeStatus) -> Document:
    return {
        "unique_id": node.unique_id,
        "name": node.name,
        "resource_type": node.resource_type,
        "run_status": node.run_status,
        "problem": node.problem.value if node.problem else None,
        "caused_by": list(node.caused_by),
        "message": node.message,
        "completed_at": iso(node.completed_at),
        "rows_held": node.rows_held,
        "rows_flagged": node.rows_flagged,
        "gate_status": node.gate_status,
        "invocation_id": node.invocation_id,
        "command": node.command,
        "result_at": iso(node.result_at),
    }


def _source(source: SourceFreshness) -> Document:
    return {
        "unique_id": source.unique_id,
        "source_name": source.source_name,
        "name": source.name,
        "relation_name": source.relation_name,
        "status": source.status.value,
        "max_loaded_at": iso(source.max_loaded_at),
        "snapshotted_at": iso(source.snapshotted_at),
        "age_seconds": source.age_seconds,
        "warn_after": source.warn_after,
        "error_after": source.error_after,
        "message": source.message,
    }


def _quarantine_model(model: ModelQuarantine) -> Document:
    return {
        "model_unique_id": model.model_unique_id,
        "rows_in": model.rows_in,
        "rows_published": model.rows_published,
        "rows_held": model.rows_held,
        "rows_flagged": model.rows_flagged,
        "gate_status": model.gate_status,
        "gate_message": model.gate_message,
        "last_passed_at": iso(model.last_passed_at),
        "quarantine_relation": model.quarantine_relation,
        "rule_counts": [
            {
                "rule_name": c.rule_name,
                "error_class": c.error_class,
                "severity": c.severity,
                "route": c.route,
                "rows": c.rows,
            }
            for c in model.rule_counts
        ],
    }


def _tally(models: tuple[ModelQuarantine, ...], field: str) -> dict[str, int]:
    """Rows per value of ``field``: severities in severity order, anything else largest first."""
    counts: Counter[str] = Counter()
    for model in models:
        for count in model.rule_counts:
            counts[str(getattr(count, field))] += count.rows
    if field == "severity":
        rank = {name: i for i, name in enumerate(CRITICALITIES)}
        return dict(sorted(counts.items(), key=lambda item: (rank.get(item[0], 99), item[0])))
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def build_document(impact: Impact, *, quarantine_source: str) -> Document:
    """``quarantine_source`` says where the counts came from: ``warehouse`` or ``run_results``."""
    source_counts = Counter(s.status.value for s in impact.sources)
    problem_nodes = [n for n in impact.nodes if n.problem is not None or n.caused_by]
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": iso(impact.generated_at),
        "invocation_id": impact.invocation_id,
        "dbt_version": impact.dbt_version,
        "run_generated_at": iso(impact.run_generated_at),
        "freshness_generated_at": iso(impact.freshness_generated_at),
        "quarantine_source": quarantine_source,
        "warnings": list(impact.warnings),
        "invocations": [
            {"invocation_id": i, "command": c, "generated_at": iso(at)}
            for i, c, at in impact.invocations
        ],
        "summary": {
            "has_problems": impact.has_problems,
            "exposures": impact.status_counts(),
            "exposures_not_healthy": sum(
                1 for e in impact.exposures if e.status is not ExposureStatus.HEALTHY
            ),
            "root_causes": len(impact.root_causes),
            "problems": sum(1 for rc in impact.root_causes if rc.kind.is_problem),
            "rows_held": sum(m.rows_held for m in impact.quarantine),
            "rows_flagged": sum(m.rows_flagged for m in impact.quarantine),
            "gates_held": sum(1 for m in impact.quarantine if m.gate_status == "held"),
            "sources": {
                status.value: source_counts.get(status.value, 0) for status in FreshnessStatus
            },
        },
        "exposures": [_exposure(e) for e in impact.exposures],
        "root_causes": [_root_cause(rc) for rc in impact.root_causes],
        "nodes": [_node(n) for n in problem_nodes],
        "sources": [_source(s) for s in impact.sources],
        "quarantine": {
            "models": [_quarantine_model(m) for m in impact.quarantine],
            "by_error_class": _tally(impact.quarantine, "error_class"),
            "by_severity": _tally(impact.quarantine, "severity"),
            "by_route": _tally(impact.quarantine, "route"),
        },
    }
