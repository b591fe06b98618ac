"""Escalations: one per root-cause failure, with owner, priority and the exposures it reaches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sluice.classify.artifacts import Manifest
from sluice.classify.graph import Graph, exposures_reached
from sluice.classify.model import Failure, FailureClass
from sluice.classify.startup import INVOCATION_TYPE
from sluice.escalate.owners import resolve_owner
from sluice.escalate.priority import exposure_criticality, failure_severity, is_alert, priority
from sluice.retry.config import EscalationSettings


@dataclass(frozen=True, slots=True)
class Escalation:
    unique_id: str
    name: str
    failure_class: str
    status: str
    reason: str
    message: str
    owner: str
    owner_basis: str
    severity: str
    criticality: str | None
    priority: str
    alert: bool
    exposures: tuple[str, ...]
    blocked: tuple[str, ...]
    """Nodes skipped because of this failure."""
    action: str
    rule: str


def escalate(
    failures: Sequence[Failure],
    manifest: Manifest,
    graph: Graph,
    settings: EscalationSettings,
) -> tuple[Escalation, ...]:
    """Escalate each root-cause failure; skipped nodes count towards their root's impact.

    A failure reaches the exposures downstream of itself and of every node it blocked; a failed
    test also reaches those of the node it tested. A dbt invocation that failed before running
    any node reaches every exposure when it is the only failure (nothing was published); beside
    failed nodes it reaches nothing of its own (it only kept their retry from running).
    """
    blocked: dict[str, list[str]] = {}
    for failure in failures:
        for root in failure.root_causes:
            blocked.setdefault(root, []).append(failure.unique_id)
    escalations: list[Escalation] = []
    for failure in failures:
        if not failure.is_root:
            continue
        downstream = blocked.get(failure.unique_id, [])
        impact = [failure.unique_id, *downstream]
        if failure.resource_type in ("test", "unit_test"):
            impact.extend(graph.parents.get(failure.unique_id, ()))  # the data it tested
        reached = exposures_reached(graph, impact)
        if failure.resource_type == INVOCATION_TYPE:
            alone = all(f.resource_type == INVOCATION_TYPE for f in failures if f.is_root)
            reached = tuple(sorted(manifest.exposures)) if alone else ()
        ownership = resolve_owner(
            failure.unique_id,
            manifest,
            graph,
            settings.source_owners,
            settings.default_owner,
            source_first=failure.failure_class is FailureClass.SOURCE_UNAVAILABLE,
        )
        severity = failure_severity(failure, manifest)
        criticality = exposure_criticality(manifest, reached)
        level = priority(severity, criticality)
        escalations.append(
            Escalation(
                unique_id=failure.unique_id,
                name=failure.name,
                failure_class=failure.failure_class.value,
                status=failure.status,
                reason=failure.reason,
                message=failure.message,
                owner=ownership.owner,
                owner_basis=ownership.basis,
                severity=severity,
                criticality=criticality,
                priority=level,
                alert=is_alert(level, settings.alert_min_priority),
                exposures=reached,
                blocked=tuple(sorted(downstream)),
                action=failure.response.action.value,
                rule=failure.response.rule,
            )
        )
    return tuple(sorted(escalations, key=lambda e: (e.priority, e.unique_id)))
