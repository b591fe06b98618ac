"""What the report reads from the warehouse beyond ``sluice_runs``' counts: the incidents
recorded so far, each sluice model's held rows over the pattern window, a few held records
of each model that holds rows (with the exception ids a reviewer looks them up by), and the
operational figures of each model's latest builds and of each owner."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sluice.impact import ModelQuarantine
from sluice.incidents import ConflictGroup, HeldRun, IncidentChange
from sluice.report.operations import (
    BUILDS_SHOWN,
    UNOWNED,
    MetricsRow,
    Operations,
    Recovery,
    assemble,
)
from sluice.warehouse import Warehouse, query_relation, relation_exists, runs_table
from sluice.warehouse.incidents import read_incident_history
from sluice.warehouse.records import utc

HELD_RECORDS_SHOWN: Final = 3
_SEVERITY_ORDER: Final = (
    "case severity when 'critical' then 0 when 'high' then 1 when 'medium' then 2 "
    "when 'low' then 3 else 4 end"
)


@dataclass(frozen=True, slots=True)
class HeldRecord:
    """One open exception of a sluice model: a record held back by one rule."""

    exception_id: str
    record_key: str
    record_copy: int
    rule_name: str
    severity: str
    route: str


@dataclass(frozen=True, slots=True)
class ReviewAction:
    """An approval or a withdrawal of a decision, or (``applied``) a build spending an
    override; ``user``, ``role``, ``source``: who the warehouse authenticated."""

    action: str
    by: str | None
    at: datetime | None
    reason: str | None
    user: str | None
    role: str | None
    source: str | None


@dataclass(frozen=True, slots=True)
class Review:
    """One reviewer's decision, its approvals and when it took effect (``sluice_decisions``,
    ``sluice_decision_approvals``, the ``decided`` events and the runs that applied them)."""

    decision_id: str
    decision: str
    model_unique_id: str
    exception_id: str | None
    requested_by: str | None
    requested_at: datetime | None
    reason: str | None
    requester: str | None
    requester_role: str | None
    identity_source: str | None
    identity_check: str | None
    policy: str | None
    """The policy entry recorded with the request (None: recorded before policies)."""
    required_approvers: int | None
    actions: tuple[ReviewAction, ...]
    applied_at: datetime | None
    """When a build applied it (its run's end; an override: when the build spent it)."""
    applied_by_invocation: str | None

    @property
    def status(self) -> str:
        """``applied``, ``withdrawn`` or ``not_applied`` (pending, or overtaken)."""
        if self.applied_at is not None or self.applied_by_invocation is not None:
            return "applied"
        if any(a.action == "withdraw" for a in self.actions):
            return "withdrawn"
        return "not_applied"


@dataclass(frozen=True, slots=True)
class History:
    incidents: tuple[IncidentChange, ...]
    held_runs: tuple[HeldRun, ...]
    held_records: Mapping[str, tuple[HeldRecord, ...]]
    """Per sluice model that holds rows: up to :data:`HELD_RECORDS_SHOWN` open exceptions,
    the most severe first."""
    conflicts: tuple[ConflictGroup, ...] = ()
    """Open conflicts between two systems, per model, system pair and conflicting fields."""
    reviews: tuple[Review, ...] = ()
    """The decisions requested within the window, the latest first."""
    operations: Operations | None = None
    """Each model's latest builds and each owner's queue and recoveries."""


def read_held_runs(wh: Warehouse, since: datetime) -> tuple[HeldRun, ...]:
    """Every ``sluice_runs`` row finished at or after ``since``."""
    table = runs_table(wh)
    if not wh.table_exists(table.schema, table.table):
        return ()
    relation = wh.relation(table.schema, table.table)
    rows = query_relation(
        wh,
        relation,
        "select model_unique_id, model_name, coalesce(finished_at, run_started_at), rows_held, "
        "gate_status from {relation} where coalesce(finished_at, run_started_at) >= %s",
        (_naive(since),),
    )
    runs: list[HeldRun] = []
    for model, name, at, held, gate in rows:
        when = utc(at)
        if when is None:
            continue
        uid = str(model)
        runs.append(
            HeldRun(
                model_unique_id=uid,
                model_name=str(name or uid.rsplit(".", 1)[-1]),
                at=when,
                rows_held=int(held or 0),
                gate_held=gate == "held",
            )
        )
    return tuple(runs)


def _naive(value: datetime) -> datetime:
    """Stored times are naive UTC."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def read_held_records(
    wh: Warehouse, quarantine: Iterable[ModelQuarantine], limit: int = HELD_RECORDS_SHOWN
) -> dict[str, tuple[HeldRecord, ...]]:
    """A few open, held (not flagged) exceptions of each model that holds rows not decided yet
    or whose gate held: the most severe first, then by record key."""
    found: dict[str, tuple[HeldRecord, ...]] = {}
    for model in quarantine:
        relation = model.quarantine_relation
        if not relation or (model.rows_undecided <= 0 and model.gate_status != "held"):
            continue
        if not relation_exists(wh, relation):
            continue
        rows = query_relation(
            wh,
            relation,
            "select exception_id, record_key, record_copy, rule_name, severity, route "
            "from {relation} where status = 'open' and route <> 'flag' and model_unique_id = %s "
            f"order by {_SEVERITY_ORDER}, record_key, record_copy, rule_name limit {int(limit)}",
            (model.model_unique_id,),
        )
        found[model.model_unique_id] = tuple(_record(row) for row in rows)
    return found


def read_conflicts(
    wh: Warehouse, quarantine: Iterable[ModelQuarantine]
) -> tuple[ConflictGroup, ...]:
    """The open conflicts between two systems (``conflicting_record``) of each sluice model
    that holds undecided rows, counted per system pair and conflicting fields (the rule writes
    the fields, in its order, to ``failed_column``)."""
    found: list[ConflictGroup] = []
    for model in quarantine:
        relation = model.quarantine_relation
        if not relation or model.rows_undecided <= 0 or not relation_exists(wh, relation):
            continue
        rows = query_relation(
            wh,
            relation,
            "select source_system, target_system, failed_column, count(distinct record_key), "
            "min(first_seen_at) from {relation} where status = 'open' "
            "and error_class = 'conflicting_record' and model_unique_id = %s "
            "group by source_system, target_system, failed_column",
            (model.model_unique_id,),
        )
        name = model.model_unique_id.rsplit(".", 1)[-1]
        for source, target, fields, records, first_seen in rows:
            when = utc(first_seen)
            if when is None or not fields:
                continue
            found.append(
                ConflictGroup(
                    model_name=name,
                    source_system=None if source is None else str(source),
                    target_system=None if target is None else str(target),
                    fields=tuple(f.strip() for f in str(fields).split(",") if f.strip()),
                    records=int(records or 0),
                    first_seen_at=when,
                )
            )
    return tuple(found)


def _record(row: tuple[Any, ...]) -> HeldRecord:
    return HeldRecord(
        exception_id=str(row[0]),
        record_key=str(row[1]),
        record_copy=int(row[2] or 1),
        rule_name=str(row[3] or ""),
        severity=str(row[4] or ""),
        route=str(row[5] or ""),
    )


_REVIEW_COLUMNS: Final = (
    "decision_id",
    "decision",
    "model_unique_id",
    "exception_id",
    "decided_by",
    "decided_at",
    "reason",
    "authenticated_user",
    "authenticated_role",
    "identity_source",
    "identity_check",
    "policy",
    "required_approvers",
)
_ACTION_COLUMNS: Final = (
    "decision_id",
    "action",
    "approved_by",
    "approved_at",
    "reason",
    "authenticated_user",
    "authenticated_role",
    "identity_source",
)


def _table(wh: Warehouse, table: str) -> tuple[str, set[str]] | None:
    """A package table's relation and its columns, or None when it does not exist."""
    schema = wh.project.sluice_schema()
    if not wh.table_exists(schema, table):
        return None
    return wh.relation(schema, table), set(wh.columns(schema, table))


def read_reviews(wh: Warehouse, since: datetime) -> tuple[Review, ...]:
    """The decisions (on exceptions, and overrides of a gate) requested at or after ``since``,
    with their approvals, withdrawals and when a build applied them; the latest first."""
    settings = wh.project.settings
    decisions = _table(wh, settings.decisions_table)
    if decisions is None:
        return ()
    relation, present = decisions
    select = ", ".join(c if c in present else f"null as {c}" for c in _REVIEW_COLUMNS)
    rows = query_relation(
        wh,
        relation,
        f"select {select} from {{relation}} where decision in "
        "('release', 'reject', 'retry', 'override') and decided_at >= %s",
        (_naive(since),),
    )
    if not rows:
        return ()
    actions: dict[str, list[ReviewAction]] = {}
    approvals = _table(
        wh, wh.project.table_name("sluice_approvals_table", "sluice_decision_approvals")
    )
    if approvals is not None:
        for r in query_relation(
            wh, approvals[0], f"select {', '.join(_ACTION_COLUMNS)} from {{relation}}"
        ):
            actions.setdefault(str(r[0]), []).append(
                ReviewAction(
                    action=str(r[1]),
                    by=_text(r[2]),
                    at=utc(r[3]),
                    reason=_text(r[4]),
                    user=_text(r[5]),
                    role=_text(r[6]),
                    source=_text(r[7]),
                )
            )
    applied = _applied(wh, since)
    reviews = []
    for r in rows:
        values = dict(zip(_REVIEW_COLUMNS, r, strict=True))
        decision_id, at = str(values["decision_id"]), utc(values["decided_at"])
        done = sorted(actions.get(decision_id, []), key=lambda a: (a.at is None, a.at))
        spent = next((a for a in done if a.action == "applied"), None)
        when, invocation = (
            (spent.at, None)
            if spent is not None
            else applied.get((_text(values["exception_id"]) or "", at), (None, None))
        )
        required = values["required_approvers"]
        reviews.append(
            Review(
                decision_id=decision_id,
                decision=str(values["decision"]),
                model_unique_id=str(values["model_unique_id"] or ""),
                exception_id=_text(values["exception_id"]),
                requested_by=_text(values["decided_by"]),
                requested_at=at,
                reason=_text(values["reason"]),
                requester=_text(values["authenticated_user"]),
                requester_role=_text(values["authenticated_role"]),
                identity_source=_text(values["identity_source"]),
                identity_check=_text(values["identity_check"]),
                policy=_text(values["policy"]),
                required_approvers=None if required is None else int(required),
                actions=tuple(done),
                applied_at=when,
                applied_by_invocation=invocation,
            )
        )
    return tuple(
        sorted(reviews, key=lambda v: (v.requested_at is not None, v.requested_at), reverse=True)
    )


def _applied(
    wh: Warehouse, since: datetime
) -> dict[tuple[str, datetime | None], tuple[datetime | None, str | None]]:
    """Per (exception, time decided): when the build that applied the decision ended, and its
    invocation (its ``decided`` event is written where it applies, dated by the decision)."""
    events = _table(wh, wh.project.settings.events_table)
    if events is None or "event_type" not in events[1]:
        return {}
    rows = query_relation(
        wh,
        events[0],
        "select exception_id, event_at, invocation_id, model_unique_id from {relation} "
        "where event_type = 'decided' and event_at >= %s",
        (_naive(since),),
    )
    ended: dict[tuple[str, str], datetime | None] = {}
    runs = runs_table(wh)
    if rows and wh.table_exists(runs.schema, runs.table):
        invocations = sorted({str(r[2]) for r in rows if r[2] is not None})
        marks = ", ".join(["%s"] * len(invocations))
        if invocations:
            for invocation, model, at in query_relation(
                wh,
                wh.relation(runs.schema, runs.table),
                "select invocation_id, model_unique_id, coalesce(finished_at, run_started_at) "
                f"from {{relation}} where invocation_id in ({marks})",
                tuple(invocations),
            ):
                ended[(str(invocation), str(model))] = utc(at)
    return {(str(r[0]), utc(r[1])): (ended.get((str(r[2]), str(r[3]))), _text(r[2])) for r in rows}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# seconds since the epoch of a stored (naive UTC) time, per engine (the default is
# PostgreSQL's; BigQuery and Databricks/Spark have their own function and are not run in CI)
_EPOCH: Final = {
    "duckdb": "epoch({})",
    "snowflake": "date_part(epoch_second, {})",
    "bigquery": "unix_seconds({})",
    "databricks": "unix_timestamp({})",
    "spark": "unix_timestamp({})",
}
_EPOCH_DEFAULT: Final = "extract(epoch from {})"


def read_build_figures(wh: Warehouse, relation: str, builds: int) -> list[MetricsRow]:
    """Each sluice model's latest ``builds`` builds in ``sluice_metrics`` (``relation``), its
    rules' figures added up per owner: one query for every model."""
    rows = query_relation(
        wh,
        relation,
        "select model_unique_id, max(model_name), invocation_id, max(built_at), owner, "
        "max(rows_held), sum(recovered), sum(open_at_end), max(oldest_open_seconds), "
        "sum(dead_lettered), sum(dead_letter_at_end) "
        "from (select m.*, dense_rank() over (partition by model_unique_id "
        "order by built_at desc, invocation_id desc) as sluice_rank from {relation} as m) as m "
        f"where sluice_rank <= {int(builds)} "
        "group by model_unique_id, invocation_id, owner",
    )
    found: list[MetricsRow] = []
    for model, name, invocation, at, owner, held, recovered, queue, oldest, lettered, dead in rows:
        when = utc(at)
        if when is None:
            continue
        uid = str(model)
        found.append(
            (
                uid,
                str(name or uid.rsplit(".", 1)[-1]),
                str(invocation),
                when,
                "" if owner is None else str(owner),
                int(held or 0),
                int(recovered or 0),
                int(queue or 0),
                None if oldest is None else int(oldest),
                int(lettered or 0),
                int(dead or 0),
            )
        )
    return found


def read_recoveries(wh: Warehouse, since: datetime) -> dict[str, Recovery]:
    """Per owner, the exceptions recovered at or after ``since`` and how long each took from
    its latest move to ``open`` before: one query over ``sluice_exception_events``."""
    events = _table(wh, wh.project.settings.events_table)
    if events is None:
        return {}
    epoch = _EPOCH.get(wh.adapter_type, _EPOCH_DEFAULT)
    took = f"{epoch.format('r.recovered_at')} - {epoch.format('r.opened_at')}"
    status = "coalesce({}.event_type, 'status') = 'status'"
    rows = query_relation(
        wh,
        events[0],
        f"select r.owner, count(*), sum({took}), max({took}) from ("
        "select c.exception_id, c.event_at as recovered_at, max(c.owner) as owner, "
        "max(o.event_at) as opened_at "
        "from {relation} as c inner join {relation} as o on o.exception_id = c.exception_id "
        f"and {status.format('o')} and o.to_status = 'open' and o.event_at < c.event_at "
        f"where {status.format('c')} and c.to_status = 'recovered' and c.event_at >= %s "
        "group by c.exception_id, c.event_at) as r group by r.owner",
        (_naive(since),),
    )
    return {
        str(owner or UNOWNED): Recovery(int(count), float(total or 0), float(longest or 0))
        for owner, count, total, longest in rows
    }


def read_operations(wh: Warehouse, metrics: tuple[str, str] | None, since: datetime) -> Operations:
    """The charts' figures: ``metrics`` is the (schema, identifier) the manifest gives the
    package's ``sluice_metrics`` (None: not in the project); a relation that does not exist
    yet reads as not built, and the recoveries are read all the same."""
    relation = None
    rows: list[MetricsRow] = []
    if metrics is not None and wh.table_exists(*metrics):
        relation = wh.relation(*metrics)
        rows = read_build_figures(wh, relation, BUILDS_SHOWN)
    return assemble(rows, read_recoveries(wh, since), relation=relation, since=since)


def read_history(
    wh: Warehouse,
    *,
    since: datetime,
    invocation_id: str,
    quarantine: Iterable[ModelQuarantine],
    metrics: tuple[str, str] | None = None,
) -> History:
    models = tuple(quarantine)
    return History(
        incidents=tuple(read_incident_history(wh, since=since, invocation_id=invocation_id)),
        held_runs=read_held_runs(wh, since),
        held_records=read_held_records(wh, models),
        conflicts=read_conflicts(wh, models),
        reviews=read_reviews(wh, since),
        operations=read_operations(wh, metrics, since),
    )
