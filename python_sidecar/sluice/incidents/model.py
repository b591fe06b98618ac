"""Incidents as frozen data: one change of one incident, the root causes it names, and an
incident put back together from its changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sluice.impact import ExposureStatus


class Change(StrEnum):
    OPENED = "opened"
    """The exposure left ``healthy``."""
    UPDATED = "updated"
    """Its status or its set of root causes changed."""
    CLOSED = "closed"
    """It is healthy again (or no longer in the project)."""


class CloseReason(StrEnum):
    RECOVERED = "recovered"
    EXPOSURE_REMOVED = "exposure_removed"


@dataclass(frozen=True, slots=True)
class IncidentCause:
    """One root cause named by one change of an incident."""

    root_cause_id: str
    kind: str
    effect: str
    node_unique_id: str
    node_name: str
    resource_type: str
    rule_name: str | None
    """The breaching sluice rule for rows held back; the test's name for a failing test."""
    owner: str | None
    """Who owns the fix (:func:`sluice.impact.owners.resolve_owner`)."""
    owner_basis: str | None
    rows_held: int

    @property
    def culprit_type(self) -> str:
        """What to blame when counting incidents: ``rule``, ``source``, ``model``, ..."""
        if self.rule_name:
            return "rule"
        return self.resource_type

    @property
    def culprit_name(self) -> str:
        return self.rule_name or self.node_name


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """One row of the incidents table: an incident opened, updated or closed."""

    change_id: str
    incident_id: str
    change_type: Change
    exposure_unique_id: str
    exposure_name: str
    exposure_label: str | None
    status: str | None
    """The exposure's status after the change (``healthy`` when it recovered; None when the
    exposure left the project)."""
    previous_status: str | None
    criticality: str | None
    owners: str | None
    """The exposure's owners (names, else e-mails), comma-separated."""
    fix_owners: str | None
    """The owners of its root causes, comma-separated."""
    root_cause_ids: tuple[str, ...]
    rows_held_upstream: int
    opened_at: datetime
    changed_at: datetime
    closed_at: datetime | None
    duration_seconds: int | None
    """From opening to closing in whole seconds, on the closing change."""
    close_reason: CloseReason | None
    invocation_id: str
    opened_invocation_id: str
    generated_at: datetime
    """When the report that recorded the change ran."""
    causes: tuple[IncidentCause, ...] = ()


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident as its changes tell it (the latest change last)."""

    incident_id: str
    changes: tuple[IncidentChange, ...]

    @property
    def first(self) -> IncidentChange:
        return self.changes[0]

    @property
    def latest(self) -> IncidentChange:
        return self.changes[-1]

    @property
    def is_open(self) -> bool:
        return self.latest.change_type is not Change.CLOSED

    @property
    def exposure_unique_id(self) -> str:
        return self.latest.exposure_unique_id

    @property
    def opened_at(self) -> datetime:
        return self.first.opened_at

    @property
    def closed_at(self) -> datetime | None:
        return self.latest.closed_at if not self.is_open else None

    @property
    def worst_status(self) -> str | None:
        seen = [
            ExposureStatus(c.status)
            for c in self.changes
            if c.status in _STATUSES and c.status != ExposureStatus.HEALTHY
        ]
        return max(seen, key=lambda s: s.rank).value if seen else None

    @property
    def causes(self) -> tuple[IncidentCause, ...]:
        """Every root cause the incident named, each once (first seen first)."""
        found: dict[str, IncidentCause] = {}
        for change in self.changes:
            for cause in change.causes:
                found.setdefault(cause.root_cause_id, cause)
        return tuple(found.values())


_STATUSES: Final = frozenset(status.value for status in ExposureStatus)
