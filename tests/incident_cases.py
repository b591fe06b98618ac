"""Incidents built from synthetic impacts: exposures with root causes, tracked report after
report. Shared by the incident tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sluice.impact import (
    ExposureImpact,
    ExposureStatus,
    Impact,
    Owner,
    ProblemKind,
    Reason,
    RootCause,
)
from sluice.incidents import IncidentChange, track

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KIND_OF = {
    "gate_held": ProblemKind.GATE_HELD,
    "rows_held": ProblemKind.ROWS_HELD,
    "error": ProblemKind.ERROR,
    "source_late": ProblemKind.SOURCE_LATE,
}


def root(kind: str, node: str, *, owner: str = "ops", rules: tuple[str, ...] = ()) -> RootCause:
    problem = KIND_OF[kind]
    return RootCause(
        id=f"{kind}:{node}",
        kind=problem,
        node_id=node,
        node_name=node.rsplit(".", 1)[-1],
        resource_type=node.split(".", 1)[0],
        status="error",
        message=None,
        failures=None,
        rows_held=3 if problem in (ProblemKind.ROWS_HELD, ProblemKind.GATE_HELD) else 0,
        owner=owner,
        owner_basis="test",
        entry_nodes=(node,),
        affected_nodes=(),
        affected_exposures=(),
        breached_rules=rules,
    )


def exposure(name: str, *roots: RootCause, owner: str = "Finance") -> ExposureImpact:
    reasons = tuple(
        Reason(r.id, r.kind, r.effect, r.node_id, (r.node_id, f"exposure.shop.{name}"))
        for r in roots
    )
    status = max((r.effect for r in roots), key=lambda s: s.rank, default=ExposureStatus.HEALTHY)
    return ExposureImpact(
        unique_id=f"exposure.shop.{name}",
        name=name,
        label=name.title(),
        type="dashboard",
        url=None,
        maturity=None,
        criticality="high",
        owners=(Owner(owner, None),),
        status=status,
        reasons=reasons,
        rows_held_upstream=sum(r.rows_held for r in roots),
        models_built_at=None,
        oldest_source_loaded_at=None,
        oldest_source_id=None,
        data_as_of=None,
        as_of_complete=True,
    )


def impact(invocation: str, at: datetime, *exposures: ExposureImpact) -> Impact:
    roots: dict[str, RootCause] = {}
    return Impact(
        invocation_id=invocation,
        generated_at=at + timedelta(seconds=30),
        dbt_version="1.11.0",
        run_generated_at=at,
        freshness_generated_at=None,
        exposures=exposures,
        root_causes=tuple(roots.values()),
        nodes=(),
        sources=(),
        quarantine=(),
    )


def with_roots(result: Impact, *roots: RootCause) -> Impact:
    return replace(result, root_causes=roots)


ORDERS = root("rows_held", "model.shop.orders", owner="crm", rules=("orders_customer_required",))
INVOICES = root("gate_held", "model.shop.invoices", owner="billing", rules=("amount_required",))
ERP = root("source_late", "source.shop.erp.orders", owner="erp-team")


def run(
    history: list[IncidentChange],
    invocation: str,
    hours: float,
    *exposures_: ExposureImpact,
    t0: datetime = T0,
) -> tuple[IncidentChange, ...]:
    """One report ``hours`` after ``t0``: the changes it records are added to ``history``."""
    roots = {r.root_cause_id for e in exposures_ for r in e.reasons}
    found = with_roots(
        impact(invocation, t0 + timedelta(hours=hours), *exposures_),
        *(r for r in (ORDERS, INVOICES, ERP) if r.id in roots),
    )
    changes = track(history, found)
    history.extend(changes)
    return changes
