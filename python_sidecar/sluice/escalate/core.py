"""Escalations: one per root-cause failure, with owner, priority and the exposures it reaches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sluice.artifacts.models import Manifest
from sluice.classify.graph import Graph, exposures_reached
from sluice.classify.model import Failure, FailureClass
from sluice.classify.startup import INVOCATION_TYPE
from sluice.escalate.priority import RANK, highest_criticality, is_alert, priority, severity_of
from sluice.impact.model import RuleCount
from sluice.impact.owners import resolve_owner
from sluice.retry.config import EscalationSettings

# The severity of a failure by class, when nothing more specific is known.
CLASS_SEVERITY: dict[FailureClass, str] = {
    FailureClass.TRANSIENT: "high",
    FailureClass.SOURCE_UNAVAILABLE: "high",
    FailureClass.SCHEMA_CHANGE: "high",
    FailureClass.AUTHORIZATION: "high",
    FailureClass.DATA_QUALITY: "medium",
    FailureClass.PARTIAL_LOAD: "high",
    FailureClass.DEPENDENCY_FAILED: "low",
    FailureClass.UNKNOWN: "medium",
}


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
    repeated: int = 0
    """Consecutive attempts on which this failure came back the same way, when that stopped
    the retries (0: it did not)."""


def breached_rules(counts: Sequence[RuleCount]) -> list[RuleCount]:
    """The rules that held rows, most severe first, then most rows."""
    failing = [c for c in counts if c.rows > 0]
    return sorted(failing, key=lambda c: (-RANK.get(c.severity, -1), -c.rows, c.rule_name))


def failure_severity(failure: Failure, manifest: Manifest, rules: Sequence[RuleCount] = ()) -> str:
    """A held gate: its most severe breaching rule (from ``sluice_runs``); a failed test: the
    sluice rule's ``sluice_severity``, ``meta.sluice.severity`` or ``meta.severity``;
    otherwise the class's severity."""
    if failure.gate_held and rules:
        found = severity_of(rules[0].severity)
        if found:
            return found
    node = manifest.nodes.get(failure.unique_id)
    if node is not None and failure.failure_class is FailureClass.DATA_QUALITY:
        if node.test_metadata is not None:
            found = severity_of(node.test_metadata.kwargs.get("sluice_severity"))
            if found:
                return found
        for meta in (node.config.meta, node.meta):
            sluice_meta = meta.get("sluice")
            values = [meta.get("severity")]
            if isinstance(sluice_meta, dict):
                values.insert(0, sluice_meta.get("severity"))
            for value in values:
                found = severity_of(value)
                if found:
                    return found
    return CLASS_SEVERITY[failure.failure_class]


def escalate(
    failures: Sequence[Failure],
    manifest: Manifest,
    graph: Graph,
    settings: EscalationSettings,
    *,
    rule_counts: Mapping[str, Sequence[RuleCount]] | None = None,
) -> tuple[Escalation, ...]:
    """Escalate each root-cause failure; skipped nodes count towards their root's impact.

    A failure reaches the exposures downstream of itself and of every node it blocked; a failed
    test also reaches those of the node it tested. A dbt invocation that failed before running
    any node reaches every exposure when it is the only failure (nothing was published); beside
    failed nodes it reaches nothing of its own (it only kept their retry from running).
    ``rule_counts`` (per sluice model, from ``sluice_runs``) name the rules behind a held gate:
    their owner is alerted first.
    """
    counts = rule_counts or {}
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
            impact.extend(graph.parents_of(failure.unique_id))  # the data it tested
        reached = exposures_reached(graph, impact)
        if failure.resource_type == INVOCATION_TYPE:
            alone = all(f.resource_type == INVOCATION_TYPE for f in failures if f.is_root)
            reached = tuple(sorted(manifest.exposures)) if alone else ()
        rules = breached_rules(counts.get(failure.unique_id, ())) if failure.gate_held else []
        ownership = resolve_owner(
            failure.unique_id,
            manifest,
            parents=graph.parents_of(failure.unique_id),
            reached_exposures=exposures_reached(graph, [failure.unique_id]),
            source_owners=settings.source_owners,
            default_owner=settings.default_owner,
            source_first=failure.failure_class is FailureClass.SOURCE_UNAVAILABLE,
            breached_rules=[r.rule_name for r in rules],
        )
        severity = failure_severity(failure, manifest, rules)
        criticality = highest_criticality(manifest, reached)
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
                repeated=failure.repeated,
            )
        )
    return tuple(sorted(escalations, key=lambda e: (e.priority, e.unique_id)))
