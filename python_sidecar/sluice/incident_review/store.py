"""What a post-incident review reads from the warehouse: every recorded incident
(:mod:`sluice.warehouse.incidents`), the opening build's ``sluice_runs`` rows, the exception
events of the incident's models from its start on, their exceptions not decided yet (with their
record keys from the quarantines: the history keeps only their markers), the alerts ``sluice
build`` recorded (``sluice_build_alerts``) and the decisions with their approvals
(:mod:`sluice.review.store`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sluice.errors import InputError, SluiceError
from sluice.incident_review.core import (
    DECIDED,
    BuildAlert,
    ExceptionEvent,
    IncidentReview,
    StillOpen,
    cause_models,
    find_incident,
    review,
    span_start,
)
from sluice.incidents import assemble
from sluice.review.store import ReviewStore
from sluice.warehouse import Warehouse, read_runs
from sluice.warehouse.build_record import ALERTS_TABLE
from sluice.warehouse.connection import describe_error
from sluice.warehouse.incidents import read_all_incidents
from sluice.warehouse.records import utc
from sluice.warehouse.sluice_tables import quarantine_relations, query_relation

EVENT_COLUMNS: Final = (
    "event_id",
    "exception_id",
    "model_unique_id",
    "model_name",
    "record_key",
    "record_copy",
    "rule_name",
    "error_class",
    "severity",
    "route",
    "from_status",
    "to_status",
    "coalesce(event_type, 'status')",
    "event_at",
    "invocation_id",
    "actor",
    "reason",
)
_ALERT_COLUMNS: Final = (
    "build_id, node_unique_id, node_name, rule, failure_class, priority, severity, delivered, "
    "recorded_at"
)


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def read_record_keys(wh: Warehouse, models: Sequence[str]) -> dict[str, str]:
    """exception_id -> record key of the exceptions of ``models`` their quarantines still hold:
    the history stores each key as its redaction marker, the quarantine in clear (or as its
    own marker once redacted)."""
    if not models:
        return {}
    keys: dict[str, str] = {}
    sql = (
        "select exception_id, record_key from {relation} "
        f"where model_unique_id in ({_marks(models)})"
    )
    for relation in quarantine_relations(wh):
        keys.update((str(r[0]), str(r[1])) for r in query_relation(wh, relation, sql, (*models,)))
    return keys


def read_events(
    wh: Warehouse, models: Sequence[str], since: datetime, keys: Mapping[str, str]
) -> list[ExceptionEvent]:
    """The exception events of ``models`` at or after ``since``, each with its record key from
    ``keys`` (:func:`read_record_keys`), else the marker the event keeps. A model's summary
    events (retention's: no exception) are not an exception's."""
    project = wh.project
    schema, table = project.sluice_schema(), project.settings.events_table
    if not models or not wh.table_exists(schema, table):
        return []
    rows = wh.query(
        f"select {', '.join(EVENT_COLUMNS)} from {wh.relation(schema, table)} "
        f"where model_unique_id in ({_marks(models)}) and event_at >= %s "
        "and exception_id is not null",
        (*models, _naive(since)),
    )
    return [
        ExceptionEvent(
            event_id=str(r[0]),
            exception_id=str(r[1]),
            model_unique_id=str(r[2]),
            model_name=str(r[3] or r[2]),
            record_key=keys.get(str(r[1]), str(r[4])),
            record_copy=int(r[5] or 1),
            rule_name=str(r[6] or ""),
            error_class=str(r[7] or ""),
            severity=str(r[8] or ""),
            route=str(r[9] or ""),
            from_status=_text(r[10]),
            to_status=_text(r[11]),
            event_type=str(r[12]),
            event_at=utc(r[13]) or since,
            invocation_id=str(r[14]),
            actor=_text(r[15]),
            reason=_text(r[16]),
        )
        for r in rows
    ]


def read_open(wh: Warehouse, models: Sequence[str], keys: Mapping[str, str]) -> list[StillOpen]:
    """The exceptions of ``models`` whose latest status event moved them into ``open`` or
    ``dead_letter``, with their first status event and their record key from ``keys``."""
    project = wh.project
    schema, table = project.sluice_schema(), project.settings.events_table
    if not models or not wh.table_exists(schema, table):
        return []
    events = wh.relation(schema, table)
    status = "coalesce(e.event_type, 'status') = 'status'"
    rows = wh.query(
        "select e.exception_id, e.model_unique_id, e.model_name, e.rule_name, e.record_key, "
        "e.to_status, e.event_at, x.first_at "
        f"from {events} as e inner join ("
        "select e.exception_id, max(e.event_at) as last_at, min(e.event_at) as first_at "
        f"from {events} as e where {status} and e.model_unique_id in ({_marks(models)}) "
        "group by e.exception_id) as x "
        "on e.exception_id = x.exception_id and e.event_at = x.last_at "
        f"where {status} and e.to_status in ('open', 'dead_letter')",
        tuple(models),
    )
    found: dict[str, StillOpen] = {}
    for r in rows:
        since = utc(r[6])
        first = utc(r[7])
        if since is None or first is None:
            continue
        found[str(r[0])] = StillOpen(
            exception_id=str(r[0]),
            model_unique_id=str(r[1]),
            model_name=str(r[2] or r[1]),
            rule_name=str(r[3] or ""),
            record_key=keys.get(str(r[0]), str(r[4])),
            status=str(r[5]),
            since=since,
            first_seen_at=first,
        )
    return list(found.values())


def read_alerts(wh: Warehouse, nodes: Sequence[str], since: datetime) -> list[BuildAlert]:
    """The alerts ``sluice build`` recorded for ``nodes`` at or after ``since``."""
    schema = wh.project.sluice_schema()
    if not nodes or not wh.table_exists(schema, ALERTS_TABLE):
        return []
    rows = wh.query(
        f"select {_ALERT_COLUMNS} from {wh.relation(schema, ALERTS_TABLE)} "
        f"where node_unique_id in ({_marks(nodes)}) and recorded_at >= %s",
        (*nodes, _naive(since)),
    )
    return [
        BuildAlert(
            build_id=str(r[0]),
            node_unique_id=str(r[1]),
            node_name=str(r[2] or r[1]),
            rule=_text(r[3]),
            failure_class=_text(r[4]),
            priority=_text(r[5]),
            severity=_text(r[6]),
            delivered=None if r[7] is None else bool(r[7]),
            recorded_at=utc(r[8]) or since,
        )
        for r in rows
    ]


def read_review(wh: Warehouse, incident_id: str, *, now: datetime | None = None) -> IncidentReview:
    """The review of ``incident_id`` from the warehouse (``now``: default the current time);
    :class:`~sluice.incident_review.core.UnknownIncident` when it is not recorded."""
    when = now or datetime.now(UTC)
    changes = read_all_incidents(wh)
    incident = find_incident(changes, incident_id)
    try:
        runs = read_runs(wh, invocations=[incident.first.opened_invocation_id])
        start = span_start(incident, runs)
        models = cause_models(incident)
        nodes = tuple(dict.fromkeys(c.node_unique_id for c in incident.causes))
        keys = read_record_keys(wh, models)
        events = read_events(wh, models, start, keys)
        alerts = read_alerts(wh, nodes, start)
        open_now = read_open(wh, models, keys)
        decided = {e.exception_id for e in events if e.event_type == DECIDED}
        requests = (
            [q for q in ReviewStore(wh).requests() if q.exception_id in decided] if decided else []
        )
    except SluiceError:
        raise
    except Exception as exc:
        raise InputError(
            f"{wh.description}: cannot read the records of incident {incident_id}: "
            f"{describe_error(exc)}"
        ) from None
    return review(
        incident,
        others=assemble(changes),
        opening_runs=runs,
        events=events,
        alerts=alerts,
        requests=requests,
        open_now=open_now,
        now=when,
    )
