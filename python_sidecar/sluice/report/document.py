"""The impact document: one plain, versioned structure behind impact.json, HTML and Markdown.

The layout is documented in docs/impact-schema.md; bump ``SCHEMA_VERSION`` on any change that
removes or retypes a field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sluice.freshness import FreshnessStatus, SourceFreshness
from sluice.impact import (
    CRITICALITIES,
    ExposureImpact,
    ExposureStatus,
    Impact,
    ModelQuarantine,
    NodeStatus,
    ProblemKind,
    RootCause,
)
from sluice.incidents import Incident, IncidentChange, Patterns
from sluice.report.oncall import age_text, duration_text, next_step

if TYPE_CHECKING:
    from sluice.report.history import HeldRecord, Review
    from sluice.report.operations import Operations

SCHEMA_VERSION: Final = 1
MAX_CLOSED_INCIDENTS: Final = 20
_ROW_LEVEL: Final = frozenset({ProblemKind.ROWS_HELD, ProblemKind.GATE_HELD})
# sources worst first: failing, unmeasurable, late, fine, not checked
_SOURCE_ORDER: Final = {
    FreshnessStatus.ERROR: 0,
    FreshnessStatus.RUNTIME_ERROR: 1,
    FreshnessStatus.WARN: 2,
    FreshnessStatus.PASS: 3,
    FreshnessStatus.NOT_CHECKED: 4,
}

Document = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _age_seconds(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


def _exposure(exposure: ExposureImpact, now: datetime) -> Document:
    age = _age_seconds(now, exposure.data_as_of)
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
        "data_age_seconds": age,
        "data_age": age_text(age),
        "models_built_at": iso(exposure.models_built_at),
        "oldest_source_loaded_at": iso(exposure.oldest_source_loaded_at),
        "oldest_source_id": exposure.oldest_source_id,
        "as_of_complete": exposure.as_of_complete,
        "accepts": list(exposure.accepts) if exposure.accepts is not None else None,
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


def _root_cause(
    root: RootCause,
    nodes: Mapping[str, NodeStatus],
    held: Sequence[HeldRecord],
) -> Document:
    candidates = [root.node_id, *root.affected_nodes]
    found = [nodes.get(uid) for uid in candidates]
    models = [n.name for n in found if n is not None and n.resource_type == "model"]
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
        "affected_models": list(dict.fromkeys(models)),
        "breached_rules": list(root.breached_rules),
        "held_records": [
            {
                "exception_id": r.exception_id,
                "record_key": r.record_key,
                "record_copy": r.record_copy,
                "rule_name": r.rule_name,
                "severity": r.severity,
                "route": r.route,
                "command": f"sluice review show {r.exception_id}",
            }
            for r in held
        ],
        "next_step": next_step(root),
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


def _source(source: SourceFreshness, now: datetime) -> Document:
    return {
        "unique_id": source.unique_id,
        "source_name": source.source_name,
        "name": source.name,
        "relation_name": source.relation_name,
        "status": source.status.value,
        "max_loaded_at": iso(source.max_loaded_at),
        "loaded_age": age_text(_age_seconds(now, source.max_loaded_at)),
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
        "rows_decided": model.rows_decided,
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


def _change(change: IncidentChange) -> Document:
    return {
        "change_id": change.change_id,
        "incident_id": change.incident_id,
        "change_type": change.change_type.value,
        "exposure_unique_id": change.exposure_unique_id,
        "status": change.status,
        "previous_status": change.previous_status,
        "root_cause_ids": list(change.root_cause_ids),
        "fix_owners": change.fix_owners,
        "rows_held_upstream": change.rows_held_upstream,
        "changed_at": iso(change.changed_at),
        "duration_seconds": change.duration_seconds,
        "close_reason": change.close_reason.value if change.close_reason else None,
        "invocation_id": change.invocation_id,
    }


def _incident(incident: Incident, now: datetime) -> Document:
    latest = incident.latest
    causes = incident.causes if not incident.is_open else latest.causes
    open_for = _age_seconds(now, incident.opened_at) if incident.is_open else None
    duration = latest.duration_seconds if not incident.is_open else None
    return {
        "incident_id": incident.incident_id,
        "exposure_unique_id": latest.exposure_unique_id,
        "exposure_name": latest.exposure_name,
        "exposure_label": latest.exposure_label,
        "criticality": latest.criticality,
        "owners": latest.owners,
        "is_open": incident.is_open,
        "status": latest.status,
        "worst_status": incident.worst_status,
        "opened_at": iso(incident.opened_at),
        "opened_age": age_text(_age_seconds(now, incident.opened_at)),
        "open_for": duration_text(open_for),
        "closed_at": iso(incident.closed_at),
        "close_reason": latest.close_reason.value if latest.close_reason else None,
        "duration_seconds": duration,
        "duration": duration_text(duration),
        "changes": len(incident.changes),
        "last_change": latest.change_type.value,
        "last_changed_at": iso(latest.changed_at),
        "root_causes": [
            {
                "root_cause_id": c.root_cause_id,
                "kind": c.kind,
                "node_unique_id": c.node_unique_id,
                "node_name": c.node_name,
                "rule_name": c.rule_name,
                "owner": c.owner,
            }
            for c in causes
        ],
        "fix_owners": ", ".join(dict.fromkeys(c.owner for c in causes if c.owner)) or None,
        "rows_held_upstream": latest.rows_held_upstream,
        "history": [
            {
                "change_type": c.change_type.value,
                "status": c.status,
                "changed_at": iso(c.changed_at),
            }
            for c in incident.changes
        ],
    }


def _incidents(
    incidents: Sequence[Incident] | None,
    changes: Sequence[IncidentChange],
    now: datetime,
    since: datetime | None,
) -> Document:
    if incidents is None:
        return {"recorded": False, "open": [], "closed": [], "changes": []}
    closed = [
        i
        for i in incidents
        if not i.is_open and (since is None or (i.closed_at or i.latest.changed_at) >= since)
    ]
    return {
        "recorded": True,
        "open": [_incident(i, now) for i in incidents if i.is_open],
        "closed": [_incident(i, now) for i in closed[:MAX_CLOSED_INCIDENTS]],
        "closed_total": len(closed),
        "changes": [_change(c) for c in changes],
    }


def _recoveries(items: Sequence[Any]) -> list[Document]:
    return [
        {
            "key": r.key,
            "label": r.label,
            "recovered": r.recovered,
            "mean_seconds": r.mean_seconds,
            "mean": duration_text(r.mean_seconds),
            "max_seconds": r.max_seconds,
            "max": duration_text(r.max_seconds),
            "open_incidents": r.open_incidents,
            "open_longest_seconds": r.open_longest_seconds,
            "open_longest": duration_text(r.open_longest_seconds),
        }
        for r in items
    ]


def _patterns(found: Patterns | None) -> Document | None:
    if found is None:
        return None
    return {
        "since": iso(found.since),
        "until": iso(found.until),
        "window_days": round(found.window_days, 2),
        "root_causes": [
            {
                "culprit_type": c.culprit_type,
                "culprit_name": c.culprit_name,
                "node_unique_id": c.node_unique_id,
                "owner": c.owner,
                "incidents": c.incidents,
                "open_incidents": c.open_incidents,
                "exposures": list(c.exposures),
                "last_seen_at": iso(c.last_seen_at),
            }
            for c in found.causes
        ],
        "recovery_by_exposure": _recoveries(found.recovery_by_exposure),
        "recovery_by_owner": _recoveries(found.recovery_by_owner),
        "held_rows": [
            {
                "model_unique_id": h.model_unique_id,
                "model_name": h.model_name,
                "days": [
                    {
                        "day": d.day.isoformat(),
                        "rows_held": d.rows_held,
                        "max_rows_held": d.max_rows_held,
                        "builds": d.builds,
                        "gates_held": d.gates_held,
                    }
                    for d in h.days
                ],
            }
            for h in found.held_rows
        ],
        "conflicts": [
            {
                "source_system": c.source_system,
                "target_system": c.target_system,
                "field": c.field,
                "records": c.records,
                "since": iso(c.since),
                "models": list(c.models),
            }
            for c in found.conflicts
        ],
    }


def _operations(found: Operations | None) -> Document | None:
    if found is None:
        return None
    return {
        "built": found.built,
        "relation": found.relation,
        "builds_per_model": found.builds_shown,
        "since": iso(found.since),
        "models": [
            {
                "model_unique_id": m.model_unique_id,
                "model_name": m.model_name,
                "builds": [
                    {
                        "invocation_id": b.invocation_id,
                        "built_at": iso(b.built_at),
                        "rows_held": b.rows_held,
                        "recovered": b.recovered,
                        "open_exceptions": b.open_exceptions,
                        "oldest_open_seconds": b.oldest_open_seconds,
                        "oldest_open": duration_text(b.oldest_open_seconds),
                        "dead_lettered": b.dead_lettered,
                        "dead_letters": b.dead_letters,
                    }
                    for b in m.builds
                ],
            }
            for m in found.models
        ],
        "owners": [
            {
                "owner": o.owner,
                "open_exceptions": o.open_exceptions,
                "oldest_open_seconds": o.oldest_open_seconds,
                "oldest_open": duration_text(o.oldest_open_seconds),
                "recovered": o.recovered,
                "mean_recovery_seconds": o.mean_recovery_seconds,
                "mean_recovery": duration_text(o.mean_recovery_seconds),
                "longest_recovery_seconds": o.longest_recovery_seconds,
                "longest_recovery": duration_text(o.longest_recovery_seconds),
            }
            for o in found.owners
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


def build_document(
    impact: Impact,
    *,
    quarantine_source: str,
    incidents: Sequence[Incident] | None = None,
    incident_changes: Sequence[IncidentChange] = (),
    patterns: Patterns | None = None,
    held_records: Mapping[str, Sequence[HeldRecord]] | None = None,
    reviews: Sequence[Review] | None = None,
    operations: Operations | None = None,
) -> Document:
    """``quarantine_source`` says where the counts came from: ``warehouse`` or ``run_results``.
    ``incidents`` is None when they are not recorded (no warehouse); so are ``reviews``."""
    now = impact.generated_at
    source_counts = Counter(s.status.value for s in impact.sources)
    problem_nodes = [n for n in impact.nodes if n.problem is not None or n.caused_by]
    nodes = {n.unique_id: n for n in impact.nodes}
    held = held_records or {}
    sources = sorted(
        impact.sources,
        key=lambda s: (_SOURCE_ORDER.get(s.status, 9), -(s.age_seconds or 0.0), s.unique_id),
    )
    run_age = _age_seconds(now, impact.run_generated_at)
    incident_doc = _incidents(
        incidents, incident_changes, now, patterns.since if patterns else None
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": iso(impact.generated_at),
        "invocation_id": impact.invocation_id,
        "dbt_version": impact.dbt_version,
        "run_generated_at": iso(impact.run_generated_at),
        "run_age": age_text(run_age),
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
            "rows_decided": sum(m.rows_decided for m in impact.quarantine),
            "rows_flagged": sum(m.rows_flagged for m in impact.quarantine),
            "gates_held": sum(1 for m in impact.quarantine if m.gate_status == "held"),
            "sources": {
                status.value: source_counts.get(status.value, 0) for status in FreshnessStatus
            },
            "incidents_open": len(incident_doc["open"]) if incident_doc["recorded"] else None,
        },
        "exposures": [_exposure(e, now) for e in impact.exposures],
        "root_causes": [
            _root_cause(rc, nodes, held.get(rc.node_id, ()) if rc.kind in _ROW_LEVEL else ())
            for rc in impact.root_causes
        ],
        "nodes": [_node(n) for n in problem_nodes],
        "sources": [_source(s, now) for s in sources],
        "quarantine": {
            "models": [_quarantine_model(m) for m in impact.quarantine],
            "by_error_class": _tally(impact.quarantine, "error_class"),
            "by_severity": _tally(impact.quarantine, "severity"),
            "by_route": _tally(impact.quarantine, "route"),
        },
        "incidents": incident_doc,
        "patterns": _patterns(patterns),
        "review_history": None if reviews is None else [_review(r) for r in reviews],
        "operations": _operations(operations),
    }


def _review(review: Review) -> Document:
    """One decision for auditors: who asked (and whom the warehouse authenticated), under which
    policy, who approved or withdrew it, and when a build applied it."""
    model = review.model_unique_id
    return {
        "decision_id": review.decision_id,
        "decision": review.decision,
        "model_unique_id": model,
        "model_name": model.rsplit(".", 1)[-1],
        "exception_id": review.exception_id,
        "requested_by": review.requested_by,
        "requested_at": iso(review.requested_at),
        "reason": review.reason,
        "requester": {
            "user": review.requester,
            "role": review.requester_role,
            "source": review.identity_source,
            "check": review.identity_check,
        },
        "policy": review.policy,
        "required_approvers": review.required_approvers,
        "approvals": [
            {
                "action": a.action,
                "by": a.by,
                "at": iso(a.at),
                "reason": a.reason,
                "user": a.user,
                "role": a.role,
                "source": a.source,
            }
            for a in review.actions
            if a.action in ("approve", "withdraw")
        ],
        "status": review.status,
        "applied_at": iso(review.applied_at),
        "applied_by_invocation": review.applied_by_invocation,
    }
