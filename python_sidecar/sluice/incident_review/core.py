"""A post-incident review of one incident, as a pure function of the sealed records: the
incident's changes and root causes (as the report recorded them), the exception events of the
sluice models it names, their builds in ``sluice_runs``, the alerts ``sluice build`` recorded,
and the decisions with their approvals.

The incident's span runs from the start of the build that opened it (its earliest
``run_started_at`` in ``sluice_runs``, else the opening) to its closing (or now, while it is
open). Its events are the exception events of the sluice models among its root causes in that
span: exactly those, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sluice.errors import InputError
from sluice.incidents import CauseCount, Incident, IncidentCause, assemble, recurring_causes
from sluice.incidents.model import IncidentChange
from sluice.review.core import Requested
from sluice.warehouse.records import RunRecord

DECIDED: Final = "decided"


class UnknownIncident(InputError):
    """No incident with this id is recorded (exit code 2)."""


@dataclass(frozen=True, slots=True)
class ExceptionEvent:
    """One row of ``sluice_exception_events``."""

    event_id: str
    exception_id: str
    model_unique_id: str
    model_name: str
    record_key: str
    record_copy: int
    rule_name: str
    error_class: str
    severity: str
    route: str
    from_status: str | None
    to_status: str | None
    event_type: str
    """``status`` (a build moved the exception), ``decided`` (a reviewer's decision applied),
    ``refused``, ..."""
    event_at: datetime
    invocation_id: str
    actor: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class BuildAlert:
    """One row of ``sluice_build_alerts``: an escalation ``sluice build`` sent or recorded."""

    build_id: str
    node_unique_id: str
    node_name: str
    rule: str | None
    failure_class: str | None
    priority: str | None
    severity: str | None
    delivered: bool | None
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Action:
    """A recovery action: a reviewer's decision applied to an exception of the incident, with
    who requested and who approved it."""

    event: ExceptionEvent
    decision_id: str | None
    requested_by: str | None
    approved_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StillOpen:
    """An exception of a sluice model whose latest status is ``open`` or ``dead_letter``."""

    exception_id: str
    model_unique_id: str
    model_name: str
    rule_name: str
    record_key: str
    status: str
    since: datetime
    """Its latest status event."""
    first_seen_at: datetime
    """Its first status event."""


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A culprit of this incident that earlier incidents named too."""

    cause: CauseCount
    """Counted over this incident and the incidents opened before it."""
    earlier: tuple[str, ...]
    """The earlier incidents' ids, oldest first."""


@dataclass(frozen=True, slots=True)
class IncidentReview:
    incident: Incident
    now: datetime
    started_at: datetime
    """The start of the build that opened the incident."""
    ended_at: datetime | None
    """The closing; None while it is open."""
    failed_at: datetime
    """The first event of the incident, else the start of its opening build."""
    detection_seconds: float
    """From ``failed_at`` to the opening."""
    detected_by_rules: tuple[str, ...]
    """The rules whose exceptions the opening build opened, and the breaching rules named."""
    opening_runs: tuple[RunRecord, ...]
    """The builds of the root causes' sluice models in the opening invocation."""
    alerts: tuple[BuildAlert, ...]
    events: tuple[ExceptionEvent, ...]
    actions: tuple[Action, ...]
    still_open: tuple[StillOpen, ...]
    recurring: tuple[Recurrence, ...]

    @property
    def affected_seconds(self) -> float:
        """How long the exposure was (or has been) affected."""
        return ((self.ended_at or self.now) - self.incident.opened_at).total_seconds()

    @property
    def causes(self) -> tuple[IncidentCause, ...]:
        return self.incident.causes

    @property
    def models(self) -> tuple[str, ...]:
        return cause_models(self.incident)


def find_incident(changes: Iterable[IncidentChange], incident_id: str) -> Incident:
    """The incident ``incident_id`` from the recorded changes; :class:`UnknownIncident` when
    none is recorded."""
    for incident in assemble(c for c in changes if c.incident_id == incident_id):
        return incident
    raise UnknownIncident(f"no incident {incident_id!r} is recorded (see sluice report)")


def cause_models(incident: Incident) -> tuple[str, ...]:
    """The nodes among the incident's root causes that are models (their exception events are
    the incident's), in the order they were named."""
    return tuple(
        dict.fromkeys(c.node_unique_id for c in incident.causes if c.resource_type == "model")
    )


def span_start(incident: Incident, opening_runs: Sequence[RunRecord]) -> datetime:
    starts = [r.run_started_at for r in opening_runs if r.run_started_at is not None]
    return min([*starts, incident.opened_at])


def _culprit(cause: IncidentCause) -> tuple[str, str, str]:
    return (cause.culprit_type, cause.culprit_name, cause.node_unique_id)


def _recurring(incident: Incident, others: Sequence[Incident]) -> tuple[Recurrence, ...]:
    earlier = [i for i in others if i.opened_at < incident.opened_at]
    mine = {_culprit(c) for c in incident.causes}
    since = datetime.min.replace(tzinfo=UTC)
    counts = recurring_causes([incident, *earlier], since)
    found: list[Recurrence] = []
    for count in counts:
        key = (count.culprit_type, count.culprit_name, count.node_unique_id)
        if key not in mine or count.incidents < 2:
            continue
        ids = [
            i.incident_id
            for i in sorted(earlier, key=lambda i: i.opened_at)
            if key in {_culprit(c) for c in i.causes}
        ]
        found.append(Recurrence(count, tuple(ids)))
    return tuple(found)


def _actions(events: Sequence[ExceptionEvent], requests: Sequence[Requested]) -> tuple[Action, ...]:
    """The decisions applied to the incident's exceptions, each matched with its request (by
    exception, decision time and author)."""
    by_key = {
        (q.exception_id, q.decided_at, q.decided_by): q
        for q in requests
        if q.decided_at is not None
    }
    found: list[Action] = []
    for event in events:
        if event.event_type != DECIDED:
            continue
        request = by_key.get((event.exception_id, event.event_at, event.actor))
        found.append(
            Action(
                event=event,
                decision_id=request.decision_id if request else None,
                requested_by=(request.requester or request.decided_by) if request else event.actor,
                approved_by=request.approvers if request else (),
            )
        )
    return tuple(found)


def review(
    incident: Incident,
    *,
    others: Sequence[Incident],
    opening_runs: Sequence[RunRecord],
    events: Sequence[ExceptionEvent],
    alerts: Sequence[BuildAlert],
    requests: Sequence[Requested],
    open_now: Sequence[StillOpen],
    now: datetime,
) -> IncidentReview:
    """The review of ``incident``. ``events``: the exception events of its models from the
    start of its span on; ``alerts``: those of its root causes' nodes; ``open_now``: the
    exceptions of its models not decided or recovered now; ``others``: every other recorded
    incident. Still open are those of ``open_now`` first seen before the incident closed."""
    start = span_start(incident, opening_runs)
    end = incident.closed_at
    models = set(cause_models(incident))
    mine = tuple(
        sorted(
            (
                e
                for e in events
                if e.model_unique_id in models
                and e.event_at >= start
                and (end is None or e.event_at <= end)
            ),
            key=lambda e: (
                e.event_at,
                e.event_type != DECIDED,
                e.model_name,
                e.rule_name,
                e.event_id,
            ),
        )
    )
    failed_at = mine[0].event_at if mine else start
    opened_by = incident.first.opened_invocation_id
    rules = [
        e.rule_name
        for e in mine
        if e.invocation_id == opened_by and e.from_status is None and e.event_type == "status"
    ]
    rules += [c.rule_name for c in incident.causes if c.rule_name]
    nodes = {c.node_unique_id for c in incident.causes}
    return IncidentReview(
        incident=incident,
        now=now,
        started_at=start,
        ended_at=end,
        failed_at=failed_at,
        detection_seconds=max(0.0, (incident.opened_at - failed_at).total_seconds()),
        detected_by_rules=tuple(dict.fromkeys(sorted(rules))),
        opening_runs=tuple(r for r in opening_runs if r.model_unique_id in nodes),
        alerts=tuple(
            sorted(
                (
                    a
                    for a in alerts
                    if a.node_unique_id in nodes
                    and a.recorded_at >= start
                    and (end is None or a.recorded_at <= end)
                ),
                key=lambda a: (a.recorded_at, a.node_name),
            )
        ),
        events=mine,
        actions=_actions(mine, requests),
        still_open=tuple(
            sorted(
                (
                    x
                    for x in open_now
                    if x.model_unique_id in models and (end is None or x.first_seen_at <= end)
                ),
                key=lambda x: (x.model_name, x.rule_name, x.record_key, x.exception_id),
            )
        ),
        recurring=_recurring(
            incident, [i for i in others if i.incident_id != incident.incident_id]
        ),
    )
