"""Which incidents one report opens, updates and closes: a pure function of the incidents
recorded so far and the report's impact.

An incident belongs to one exposure. It opens when the exposure leaves ``healthy``, gets an
``updated`` change when its status or its set of root causes changes, and closes (with its
duration) when the exposure is healthy again or has left the project. Each change is keyed on
the incident and the dbt invocation, so reporting an invocation again changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from sluice.impact import ExposureImpact, ExposureStatus, Impact, RootCause
from sluice.incidents.model import (
    Change,
    CloseReason,
    Incident,
    IncidentCause,
    IncidentChange,
)

_CHANGE_ORDER: Final = {Change.OPENED: 0, Change.UPDATED: 1, Change.CLOSED: 2}
_RANK: Final = {status.value: status.rank for status in ExposureStatus}


def _digest(*parts: str) -> str:
    # length-prefixed, so no two different tuples of parts share an encoding
    encoded = b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)
    return hashlib.sha256(encoded).hexdigest()[:20]


def incident_id_of(exposure_unique_id: str, opened_invocation_id: str) -> str:
    return "inc_" + _digest("incident", exposure_unique_id, opened_invocation_id)


def change_id_of(incident_id: str, invocation_id: str) -> str:
    return _digest("change", incident_id, invocation_id)


def change_order(change: IncidentChange) -> tuple[datetime, int, datetime, str]:
    """The order changes happened in."""
    return (
        change.changed_at,
        _CHANGE_ORDER[change.change_type],
        change.generated_at,
        change.change_id,
    )


def assemble(changes: Iterable[IncidentChange]) -> tuple[Incident, ...]:
    """Incidents from their changes: open ones first (worst status, then oldest), then closed
    ones (latest closed first)."""
    grouped: dict[str, list[IncidentChange]] = {}
    for change in changes:
        grouped.setdefault(change.incident_id, []).append(change)
    incidents = [
        Incident(incident_id, tuple(sorted(items, key=change_order)))
        for incident_id, items in grouped.items()
    ]

    def order(incident: Incident) -> tuple[int, int, float, str]:
        if incident.is_open:
            rank = _RANK.get(incident.latest.status or "", ExposureStatus.UNKNOWN.rank)
            return (0, -rank, incident.opened_at.timestamp(), incident.incident_id)
        closed = incident.latest.closed_at or incident.latest.changed_at
        return (1, 0, -closed.timestamp(), incident.incident_id)

    return tuple(sorted(incidents, key=order))


def _seconds(end: datetime, start: datetime) -> int:
    return round((end - start).total_seconds())


def _owners(exposure: ExposureImpact) -> str | None:
    names = [o.name or o.email for o in exposure.owners if o.name or o.email]
    return ", ".join(dict.fromkeys(n for n in names if n)) or None


def _cause(root: RootCause) -> IncidentCause:
    rules = [r for r in root.breached_rules if r]
    return IncidentCause(
        root_cause_id=root.id,
        kind=root.kind.value,
        effect=root.effect.value,
        node_unique_id=root.node_id,
        node_name=root.node_name,
        resource_type=root.resource_type,
        rule_name=rules[0] if rules else None,
        owner=root.owner,
        owner_basis=root.owner_basis,
        rows_held=root.rows_held,
    )


def track(
    history: Sequence[IncidentChange], impact: Impact, *, at: datetime | None = None
) -> tuple[IncidentChange, ...]:
    """The changes this report records, given every change recorded before (at least those of
    open incidents and of this invocation).

    ``at`` (default: when dbt wrote the run results, else when the report ran) is the time of
    the changes. A history that already holds a later change than ``at`` means this report is
    for an older invocation: nothing is recorded. An exposure with a change of this invocation
    already recorded is left alone (reporting an invocation again writes nothing new).
    """
    when = at or impact.run_generated_at or impact.generated_at
    invocation = impact.invocation_id
    if any(change.changed_at > when for change in history):
        return ()
    recorded = {c.exposure_unique_id for c in history if c.invocation_id == invocation}
    latest: dict[str, IncidentChange] = {}
    for change in sorted((c for c in history if c.invocation_id != invocation), key=change_order):
        latest[change.exposure_unique_id] = change
    open_before = {uid: c for uid, c in latest.items() if c.change_type is not Change.CLOSED}
    roots = {rc.id: rc for rc in impact.root_causes}

    changes: list[IncidentChange] = []
    seen: set[str] = set()
    for exposure in impact.exposures:
        seen.add(exposure.unique_id)
        if exposure.unique_id in recorded:
            continue
        previous = open_before.get(exposure.unique_id)
        healthy = exposure.status is ExposureStatus.HEALTHY
        cause_ids = tuple(dict.fromkeys(r.root_cause_id for r in exposure.reasons))
        causes = tuple(_cause(roots[i]) for i in cause_ids if i in roots)
        fix_owners = ", ".join(dict.fromkeys(c.owner for c in causes if c.owner)) or None
        if healthy and previous is None:
            continue
        if not healthy and previous is not None:
            same = previous.status == exposure.status.value and set(previous.root_cause_ids) == set(
                cause_ids
            )
            if same:
                continue
        if previous is None:
            incident_id = incident_id_of(exposure.unique_id, invocation)
            kind, opened_at, opened_by = Change.OPENED, when, invocation
        else:
            incident_id = previous.incident_id
            kind = Change.CLOSED if healthy else Change.UPDATED
            opened_at, opened_by = previous.opened_at, previous.opened_invocation_id
        changes.append(
            IncidentChange(
                change_id=change_id_of(incident_id, invocation),
                incident_id=incident_id,
                change_type=kind,
                exposure_unique_id=exposure.unique_id,
                exposure_name=exposure.name,
                exposure_label=exposure.label,
                status=exposure.status.value,
                previous_status=previous.status if previous is not None else None,
                criticality=exposure.criticality,
                owners=_owners(exposure),
                fix_owners=fix_owners,
                root_cause_ids=cause_ids,
                rows_held_upstream=exposure.rows_held_upstream,
                opened_at=opened_at,
                changed_at=when,
                closed_at=when if kind is Change.CLOSED else None,
                duration_seconds=_seconds(when, opened_at) if kind is Change.CLOSED else None,
                close_reason=CloseReason.RECOVERED if kind is Change.CLOSED else None,
                invocation_id=invocation,
                opened_invocation_id=opened_by,
                generated_at=impact.generated_at,
                causes=causes,
            )
        )
    for uid, previous in sorted(open_before.items()):
        if uid in seen or uid in recorded:
            continue
        changes.append(
            IncidentChange(
                change_id=change_id_of(previous.incident_id, invocation),
                incident_id=previous.incident_id,
                change_type=Change.CLOSED,
                exposure_unique_id=uid,
                exposure_name=previous.exposure_name,
                exposure_label=previous.exposure_label,
                status=None,
                previous_status=previous.status,
                criticality=previous.criticality,
                owners=previous.owners,
                fix_owners=None,
                root_cause_ids=(),
                rows_held_upstream=0,
                opened_at=previous.opened_at,
                changed_at=when,
                closed_at=when,
                duration_seconds=_seconds(when, previous.opened_at),
                close_reason=CloseReason.EXPOSURE_REMOVED,
                invocation_id=invocation,
                opened_invocation_id=previous.opened_invocation_id,
                generated_at=impact.generated_at,
            )
        )
    return tuple(changes)
