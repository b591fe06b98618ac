"""Patterns over the recorded history, as pure functions: which rules, sources and models cause
incidents again and again, how long exposures take to recover, and how many rows each sluice
model held back day by day. The package's views in models/history/ compute the same figures in
SQL for BI tools (docs/report.md says how each is defined)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sluice.incidents.model import CloseReason, Incident


@dataclass(frozen=True, slots=True)
class CauseCount:
    """A rule, source, model or test and the incidents it caused in the window."""

    culprit_type: str
    """``rule`` (a breaching sluice rule), else the node's resource type (``source``,
    ``model``, ``test``, ...)."""
    culprit_name: str
    node_unique_id: str
    owner: str | None
    incidents: int
    open_incidents: int
    exposures: tuple[str, ...]
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class Recovery:
    """Time to recovery of the incidents of one exposure, or of one owner's exposures."""

    key: str
    """The exposure's unique id, or the owners."""
    label: str
    recovered: int
    """Incidents closed as recovered in the window."""
    mean_seconds: float | None
    max_seconds: float | None
    open_incidents: int
    open_longest_seconds: float | None
    """How long the oldest open incident has been open."""


@dataclass(frozen=True, slots=True)
class HeldRun:
    """One build of a sluice model (a ``sluice_runs`` row)."""

    model_unique_id: str
    model_name: str
    at: datetime
    rows_held: int
    gate_held: bool


@dataclass(frozen=True, slots=True)
class HeldDay:
    day: date
    rows_held: int
    """Rows held back by the day's last build."""
    max_rows_held: int
    builds: int
    gates_held: int


@dataclass(frozen=True, slots=True)
class HeldSeries:
    model_unique_id: str
    model_name: str
    days: tuple[HeldDay, ...]


@dataclass(frozen=True, slots=True)
class ConflictGroup:
    """Open conflicts between two systems (class ``conflicting_record``) of one sluice model
    that share their conflicting fields: as the quarantine counts them."""

    model_name: str
    source_system: str | None
    target_system: str | None
    fields: tuple[str, ...]
    records: int
    first_seen_at: datetime


@dataclass(frozen=True, slots=True)
class ConflictPattern:
    """One field on which two systems disagree: on how many records, since when, in which
    models ("crm vs erp: status differs on 312 records since Tuesday")."""

    source_system: str
    target_system: str
    field: str
    records: int
    since: datetime
    models: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Patterns:
    since: datetime
    until: datetime
    causes: tuple[CauseCount, ...]
    recovery_by_exposure: tuple[Recovery, ...]
    recovery_by_owner: tuple[Recovery, ...]
    held_rows: tuple[HeldSeries, ...]
    conflicts: tuple[ConflictPattern, ...] = ()

    @property
    def window_days(self) -> float:
        return (self.until - self.since).total_seconds() / 86400.0


def _active(incident: Incident, since: datetime) -> bool:
    """Open at some time at or after ``since``."""
    return incident.is_open or (incident.closed_at or incident.latest.changed_at) >= since


def _newer(at: datetime, owner: str | None, seen_at: datetime, seen: str | None) -> bool:
    """Later wins; at the same time the first owner in order (as the view sorts them)."""
    if at != seen_at:
        return at > seen_at
    return (owner is None, owner or "") < (seen is None, seen or "")


def recurring_causes(incidents: Iterable[Incident], since: datetime) -> tuple[CauseCount, ...]:
    """Per culprit, the incidents it caused that were open at some time at or after ``since``;
    most first."""
    found: dict[tuple[str, str, str], dict[str, Incident]] = {}
    latest: dict[tuple[str, str, str], tuple[datetime, str | None]] = {}
    for incident in incidents:
        if not _active(incident, since):
            continue
        for change in incident.changes:
            for cause in change.causes:
                key = (cause.culprit_type, cause.culprit_name, cause.node_unique_id)
                found.setdefault(key, {})[incident.incident_id] = incident
                seen = latest.get(key)
                if seen is None or _newer(change.changed_at, cause.owner, *seen):
                    latest[key] = (change.changed_at, cause.owner)
    counts = [
        CauseCount(
            culprit_type=key[0],
            culprit_name=key[1],
            node_unique_id=key[2],
            owner=latest[key][1],
            incidents=len(items),
            open_incidents=sum(1 for i in items.values() if i.is_open),
            exposures=tuple(sorted({i.exposure_unique_id for i in items.values()})),
            last_seen_at=latest[key][0],
        )
        for key, items in found.items()
    ]
    return tuple(
        sorted(
            counts,
            key=lambda c: (-c.incidents, -c.last_seen_at.timestamp(), c.culprit_name),
        )
    )


def _recovery(
    key: str, label: str, incidents: Sequence[Incident], since: datetime, until: datetime
) -> Recovery:
    durations = [
        i.latest.duration_seconds
        for i in incidents
        if not i.is_open
        and i.latest.close_reason is CloseReason.RECOVERED
        and i.latest.duration_seconds is not None
        and (i.closed_at or i.latest.changed_at) >= since
    ]
    durations = [d for d in durations if d is not None]
    open_ages = [(until - i.opened_at).total_seconds() for i in incidents if i.is_open]
    return Recovery(
        key=key,
        label=label,
        recovered=len(durations),
        mean_seconds=sum(durations) / len(durations) if durations else None,
        max_seconds=max(durations) if durations else None,
        open_incidents=len(open_ages),
        open_longest_seconds=max(open_ages) if open_ages else None,
    )


def recovery(
    incidents: Iterable[Incident], since: datetime, until: datetime
) -> tuple[tuple[Recovery, ...], tuple[Recovery, ...]]:
    """Time to recovery per exposure and per owner (the exposure's owners): incidents that
    recovered in the window (closed at or after ``since``), and those still open."""
    by_exposure: dict[str, list[Incident]] = {}
    labels: dict[str, str] = {}
    by_owner: dict[str, list[Incident]] = {}
    for incident in incidents:
        latest = incident.latest
        uid = latest.exposure_unique_id
        by_exposure.setdefault(uid, []).append(incident)
        labels[uid] = latest.exposure_label or latest.exposure_name
        by_owner.setdefault(latest.owners or "(no owner declared)", []).append(incident)

    def relevant(r: Recovery) -> bool:
        return r.recovered > 0 or r.open_incidents > 0

    def order(r: Recovery) -> tuple[float, float, str]:
        return (-(r.open_longest_seconds or 0.0), -(r.mean_seconds or 0.0), r.label)

    exposures = [_recovery(k, labels[k], v, since, until) for k, v in by_exposure.items()]
    owners = [_recovery(k, k, v, since, until) for k, v in by_owner.items()]
    return (
        tuple(sorted(filter(relevant, exposures), key=order)),
        tuple(sorted(filter(relevant, owners), key=order)),
    )


def held_rows(runs: Iterable[HeldRun], since: datetime) -> tuple[HeldSeries, ...]:
    """Per sluice model and UTC day from ``since`` on: rows held by the day's last build, the
    day's maximum, builds and gates held. Models that never held a row in the window are left
    out."""
    per_day: dict[tuple[str, date], list[HeldRun]] = {}
    names: dict[str, str] = {}
    for run in runs:
        if run.at < since:
            continue
        per_day.setdefault((run.model_unique_id, run.at.date()), []).append(run)
        names[run.model_unique_id] = run.model_name
    series: dict[str, list[HeldDay]] = {}
    for (model, day), items in sorted(per_day.items()):
        items.sort(key=lambda r: r.at)
        series.setdefault(model, []).append(
            HeldDay(
                day=day,
                rows_held=items[-1].rows_held,
                max_rows_held=max(r.rows_held for r in items),
                builds=len(items),
                gates_held=sum(1 for r in items if r.gate_held),
            )
        )
    kept = [
        HeldSeries(model, names[model], tuple(days))
        for model, days in series.items()
        if any(d.max_rows_held > 0 or d.gates_held > 0 for d in days)
    ]
    return tuple(sorted(kept, key=lambda s: (-max(d.max_rows_held for d in s.days), s.model_name)))


def conflict_patterns(groups: Iterable[ConflictGroup]) -> tuple[ConflictPattern, ...]:
    """Open conflicts per system pair and field: the records (a record conflicting on two
    fields counts for each), the earliest first seen, the models; most records first."""
    found: dict[tuple[str, str, str], tuple[int, datetime, set[str]]] = {}
    for g in groups:
        pair = (g.source_system or "source", g.target_system or "target")
        for field_name in g.fields:
            key = (*pair, field_name)
            records, since, models = found.get(key, (0, g.first_seen_at, set()))
            found[key] = (records + g.records, min(since, g.first_seen_at), models | {g.model_name})
    return tuple(
        sorted(
            (
                ConflictPattern(src, tgt, name, records, since, tuple(sorted(models)))
                for (src, tgt, name), (records, since, models) in found.items()
            ),
            key=lambda c: (-c.records, c.source_system, c.target_system, c.field),
        )
    )


def patterns(
    incidents: Iterable[Incident],
    runs: Iterable[HeldRun],
    *,
    until: datetime,
    window: timedelta,
    conflicts: Iterable[ConflictGroup] = (),
) -> Patterns:
    items = tuple(incidents)
    since = until - window
    by_exposure, by_owner = recovery(items, since, until)
    return Patterns(
        since=since,
        until=until,
        causes=recurring_causes(items, since),
        recovery_by_exposure=by_exposure,
        recovery_by_owner=by_owner,
        held_rows=held_rows(runs, since),
        conflicts=conflict_patterns(conflicts),
    )
