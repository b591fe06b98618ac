"""What the report reads from the warehouse beyond ``sluice_runs``' counts: the incidents
recorded so far, each sluice model's held rows over the pattern window, and a few held records
of each model that holds rows (with the exception ids a reviewer looks them up by)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sluice.impact import ModelQuarantine
from sluice.incidents import ConflictGroup, HeldRun, IncidentChange
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
class History:
    incidents: tuple[IncidentChange, ...]
    held_runs: tuple[HeldRun, ...]
    held_records: Mapping[str, tuple[HeldRecord, ...]]
    """Per sluice model that holds rows: up to :data:`HELD_RECORDS_SHOWN` open exceptions,
    the most severe first."""
    conflicts: tuple[ConflictGroup, ...] = ()
    """Open conflicts between two systems, per model, system pair and conflicting fields."""


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


def read_history(
    wh: Warehouse,
    *,
    since: datetime,
    invocation_id: str,
    quarantine: Iterable[ModelQuarantine],
) -> History:
    models = tuple(quarantine)
    return History(
        incidents=tuple(read_incident_history(wh, since=since, invocation_id=invocation_id)),
        held_runs=read_held_runs(wh, since),
        held_records=read_held_records(wh, models),
        conflicts=read_conflicts(wh, models),
    )
