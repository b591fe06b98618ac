"""The incidents tables: one row per change of an incident (``sluice_incidents``) and one row
per root cause each change names (``sluice_incident_causes``), in the sluice schema.

Append-only. Each change is keyed on ``change_id`` (the incident and the dbt invocation), and
a change already present is never written again, so reporting an invocation twice adds
nothing. Names come from the vars ``sluice_incidents_table`` and
``sluice_incident_causes_table``, read as a model of the project reads them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sluice.audit.store import trail_tables
from sluice.errors import InputError, SluiceError
from sluice.incidents import Change, CloseReason, IncidentCause, IncidentChange
from sluice.project import Project
from sluice.warehouse.connection import Warehouse, describe_error
from sluice.warehouse.records import utc
from sluice.warehouse.seal import SealedTable, seal_rows

# Columns, typed once by kind; models/history/sluice_incident_history.sql and
# sluice_incident_cause_history.sql declare the same ones for the views (a test checks they agree).
INCIDENT_COLUMNS: Final = (
    ("change_id", "text"),
    ("incident_id", "text"),
    ("change_type", "text"),
    ("exposure_unique_id", "text"),
    ("exposure_name", "text"),
    ("exposure_label", "text"),
    ("status", "text"),
    ("previous_status", "text"),
    ("criticality", "text"),
    ("owners", "text"),
    ("fix_owners", "text"),
    ("root_cause_ids", "text"),
    ("rows_held_upstream", "bigint"),
    ("opened_at", "timestamp"),
    ("changed_at", "timestamp"),
    ("closed_at", "timestamp"),
    ("duration_seconds", "bigint"),
    ("close_reason", "text"),
    ("invocation_id", "text"),
    ("opened_invocation_id", "text"),
    ("generated_at", "timestamp"),
)
CAUSE_COLUMNS: Final = (
    ("change_id", "text"),
    ("incident_id", "text"),
    ("exposure_unique_id", "text"),
    ("invocation_id", "text"),
    ("changed_at", "timestamp"),
    ("root_cause_id", "text"),
    ("kind", "text"),
    ("effect", "text"),
    ("node_unique_id", "text"),
    ("node_name", "text"),
    ("resource_type", "text"),
    ("rule_name", "text"),
    ("owner", "text"),
    ("owner_basis", "text"),
    ("rows_held", "bigint"),
)


@dataclass(frozen=True, slots=True)
class IncidentTables:
    schema: str
    incidents: str
    causes: str

    @property
    def names(self) -> tuple[str, str]:
        return (f"{self.schema}.{self.incidents}", f"{self.schema}.{self.causes}")


def incident_tables(project: Project) -> IncidentTables:
    """The two tables, named as the audit trail names them (vars ``sluice_incidents_table``
    and ``sluice_incident_causes_table``)."""
    audited = trail_tables(project).audited
    return IncidentTables(
        schema=project.sluice_schema(),
        incidents=audited["incidents"],
        causes=audited["incident_causes"],
    )


def _naive(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def change_row(change: IncidentChange) -> tuple[Any, ...]:
    """A change in :data:`INCIDENT_COLUMNS` order (times as naive UTC)."""
    return (
        change.change_id,
        change.incident_id,
        change.change_type.value,
        change.exposure_unique_id,
        change.exposure_name,
        change.exposure_label,
        change.status,
        change.previous_status,
        change.criticality,
        change.owners,
        change.fix_owners,
        json.dumps(list(change.root_cause_ids)),
        change.rows_held_upstream,
        _naive(change.opened_at),
        _naive(change.changed_at),
        _naive(change.closed_at),
        change.duration_seconds,
        change.close_reason.value if change.close_reason else None,
        change.invocation_id,
        change.opened_invocation_id,
        _naive(change.generated_at),
    )


def cause_rows(change: IncidentChange) -> list[tuple[Any, ...]]:
    """The change's root causes in :data:`CAUSE_COLUMNS` order."""
    return [
        (
            change.change_id,
            change.incident_id,
            change.exposure_unique_id,
            change.invocation_id,
            _naive(change.changed_at),
            cause.root_cause_id,
            cause.kind,
            cause.effect,
            cause.node_unique_id,
            cause.node_name,
            cause.resource_type,
            cause.rule_name,
            cause.owner,
            cause.owner_basis,
            cause.rows_held,
        )
        for cause in change.causes
    ]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _time(value: Any, where: str) -> datetime:
    parsed = utc(value)
    if parsed is None:
        raise InputError(f"{where}: a time is missing or unreadable ({value!r})")
    return parsed


def _ids(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None or raw == "":
        return ()
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        raise InputError(f"{where}: root_cause_ids is not a JSON array") from None
    if not isinstance(items, list):
        raise InputError(f"{where}: root_cause_ids is not a JSON array")
    return tuple(str(i) for i in items)


def _change(row: tuple[Any, ...], causes: Sequence[IncidentCause], table: str) -> IncidentChange:
    v = dict(zip((name for name, _ in INCIDENT_COLUMNS), row, strict=True))
    where = f"{table} (change {v['change_id']})"
    try:
        change = Change(str(v["change_type"]))
        reason = CloseReason(str(v["close_reason"])) if v["close_reason"] else None
    except ValueError:
        raise InputError(
            f"{where}: unknown change_type {v['change_type']!r} or close_reason "
            f"{v['close_reason']!r}"
        ) from None
    return IncidentChange(
        change_id=str(v["change_id"]),
        incident_id=str(v["incident_id"]),
        change_type=change,
        exposure_unique_id=str(v["exposure_unique_id"]),
        exposure_name=str(v["exposure_name"] or v["exposure_unique_id"]),
        exposure_label=_text(v["exposure_label"]),
        status=_text(v["status"]),
        previous_status=_text(v["previous_status"]),
        criticality=_text(v["criticality"]),
        owners=_text(v["owners"]),
        fix_owners=_text(v["fix_owners"]),
        root_cause_ids=_ids(v["root_cause_ids"], where),
        rows_held_upstream=int(v["rows_held_upstream"] or 0),
        opened_at=_time(v["opened_at"], where),
        changed_at=_time(v["changed_at"], where),
        closed_at=utc(v["closed_at"]),
        duration_seconds=None if v["duration_seconds"] is None else int(v["duration_seconds"]),
        close_reason=reason,
        invocation_id=str(v["invocation_id"]),
        opened_invocation_id=str(v["opened_invocation_id"] or v["invocation_id"]),
        generated_at=_time(v["generated_at"], where),
        causes=tuple(causes),
    )


def _cause(row: tuple[Any, ...]) -> tuple[str, IncidentCause]:
    v = dict(zip((name for name, _ in CAUSE_COLUMNS), row, strict=True))
    return str(v["change_id"]), IncidentCause(
        root_cause_id=str(v["root_cause_id"]),
        kind=str(v["kind"] or ""),
        effect=str(v["effect"] or ""),
        node_unique_id=str(v["node_unique_id"] or ""),
        node_name=str(v["node_name"] or v["node_unique_id"] or ""),
        resource_type=str(v["resource_type"] or ""),
        rule_name=_text(v["rule_name"]),
        owner=_text(v["owner"]),
        owner_basis=_text(v["owner_basis"]),
        rows_held=int(v["rows_held"] or 0),
    )


def read_incident_history(
    wh: Warehouse, *, since: datetime, invocation_id: str
) -> list[IncidentChange]:
    """The changes of every incident still open, every change at or after ``since`` and every
    change of ``invocation_id``, with their root causes. Empty when the table does not exist."""
    # the incidents still open joined, not tested with IN under OR: Snowflake takes an IN
    # subquery only in a WHERE clause and never as an argument of OR
    wanted = (
        "from {incidents} as i left join (select incident_id from {incidents} "
        "group by incident_id "
        "having sum(case when change_type = 'closed' then 1 else 0 end) = 0) as o "
        "on o.incident_id = i.incident_id "
        "where i.changed_at >= %s or i.invocation_id = %s or o.incident_id is not null"
    )
    return _read_changes(wh, wanted, (_naive(since), invocation_id))


def read_all_incidents(wh: Warehouse) -> list[IncidentChange]:
    """Every recorded change of every incident, with its root causes (for a review of one
    incident against the others). Empty when the table does not exist."""
    return _read_changes(wh, "from {incidents} as i", ())


def _read_changes(wh: Warehouse, wanted: str, params: tuple[Any, ...]) -> list[IncidentChange]:
    """The changes ``wanted`` selects (a FROM and WHERE over ``{incidents}`` as ``i``), each
    once, with their root causes."""
    tables = incident_tables(wh.project)
    try:
        if not wh.table_exists(tables.schema, tables.incidents):
            return []
        wanted = wanted.replace("{incidents}", wh.relation(tables.schema, tables.incidents))
        names = ", ".join(f"i.{name}" for name, _ in INCIDENT_COLUMNS)
        rows = wh.query(f"select {names} {wanted}", params)
        cause_rows_: list[tuple[Any, ...]] = []
        if rows and wh.table_exists(tables.schema, tables.causes):
            causes = wh.relation(tables.schema, tables.causes)
            cause_names = ", ".join(name for name, _ in CAUSE_COLUMNS)
            cause_rows_ = wh.query(
                f"select {cause_names} from {causes} where change_id in "
                f"(select i.change_id {wanted})",
                params,
            )
    except SluiceError:
        raise
    except Exception as exc:
        raise InputError(
            f"{wh.description}: cannot read {tables.names[0]}: {describe_error(exc)}"
        ) from None
    by_change: dict[str, list[IncidentCause]] = {}
    for row in cause_rows_:
        change_id, cause = _cause(row)
        by_change.setdefault(change_id, []).append(cause)
    history: dict[str, IncidentChange] = {}
    for row in rows:
        change = _change(row, by_change.get(str(row[0]), ()), tables.names[0])
        history.setdefault(change.change_id, change)
    return list(history.values())


def append_incident_changes(wh: Warehouse, changes: Sequence[IncidentChange]) -> tuple[str, ...]:
    """Append the changes not yet recorded (by ``change_id``) and their root causes, and seal
    them into the audit trail (:mod:`sluice.warehouse.seal`); call it inside the
    report's transaction. Creates the tables, or adds a newer sluice's columns."""
    tables = incident_tables(wh.project)
    wh.ensure_table(tables.schema, tables.incidents, INCIDENT_COLUMNS)
    wh.ensure_table(tables.schema, tables.causes, CAUSE_COLUMNS)
    if not changes:
        return tables.names
    incidents = wh.relation(tables.schema, tables.incidents)
    wanted = sorted({c.change_id for c in changes})
    marks = ", ".join(["%s"] * len(wanted))
    present = {
        str(r[0])
        for r in wh.query(f"select change_id from {incidents} where change_id in ({marks})", wanted)
    }
    new = [c for c in changes if c.change_id not in present]
    if new:
        wh.insert(incidents, [n for n, _ in INCIDENT_COLUMNS], [change_row(c) for c in new])
        causes = [row for c in new for row in cause_rows(c)]
        if causes:
            wh.insert(
                wh.relation(tables.schema, tables.causes),
                [n for n, _ in CAUSE_COLUMNS],
                causes,
            )
        audit = trail_tables(wh.project)
        seals = seal_rows(
            wh,
            tables.schema,
            (
                SealedTable("incidents", tables.incidents, INCIDENT_COLUMNS),
                SealedTable("incident_causes", tables.causes, CAUSE_COLUMNS),
            ),
            [c.change_id for c in new],
            [c.exposure_unique_id for c in new],
            new[0].invocation_id,
            chain_table=audit.chain,
            records_table=audit.records,
        )
        if seals:
            return (
                *tables.names,
                f"{tables.schema}.{audit.chain}",
                f"{tables.schema}.{audit.records}",
            )
    return tables.names
