"""The report's tables in the warehouse: exposure status, node status, source freshness, and
the incident changes (:mod:`sluice.warehouse.incidents`).

They are written through the project's dbt adapter (:mod:`sluice.warehouse`) into the sluice
schema (var ``sluice_schema``, else the target schema). Rows are appended per invocation;
writing the same invocation again replaces its rows in one transaction, so a rerun never
duplicates or half-writes them. A table made by an older sluice gains the new columns.

On DuckDB and PostgreSQL the rows a report writes are sealed into the audit trail in that
transaction, one chain per table for the project, keyed by invocation
(:mod:`sluice.warehouse.seal`); rows replaced by a report of the same invocation again are
sealed again, in a new seal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sluice.audit.chain import REPORT_SCOPE
from sluice.audit.store import trail_tables
from sluice.errors import InputError, SluiceError
from sluice.impact import Impact
from sluice.incidents import IncidentChange
from sluice.warehouse import Warehouse
from sluice.warehouse.connection import describe_error
from sluice.warehouse.incidents import append_incident_changes
from sluice.warehouse.seal import SealedTable, seal_rows

EXPOSURE_TABLE: Final = "sluice_exposure_status"
NODE_TABLE: Final = "sluice_node_status"
FRESHNESS_TABLE: Final = "sluice_source_freshness"

# Columns of each table, typed once by kind (text, timestamp, bigint, float, boolean).
COLUMNS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    EXPOSURE_TABLE: (
        ("invocation_id", "text"),
        ("generated_at", "timestamp"),
        ("exposure_unique_id", "text"),
        ("exposure_name", "text"),
        ("exposure_label", "text"),
        ("exposure_type", "text"),
        ("url", "text"),
        ("status", "text"),
        ("criticality", "text"),
        ("owners", "text"),
        ("owner_emails", "text"),
        ("reason_count", "bigint"),
        ("root_cause_ids", "text"),
        ("rows_held_upstream", "bigint"),
        ("data_as_of", "timestamp"),
        ("models_built_at", "timestamp"),
        ("oldest_source_loaded_at", "timestamp"),
        ("as_of_complete", "boolean"),
    ),
    NODE_TABLE: (
        ("invocation_id", "text"),
        ("generated_at", "timestamp"),
        ("node_unique_id", "text"),
        ("node_name", "text"),
        ("resource_type", "text"),
        ("run_status", "text"),
        ("problem", "text"),
        ("caused_by", "text"),
        ("message", "text"),
        ("completed_at", "timestamp"),
        ("rows_held", "bigint"),
        ("rows_flagged", "bigint"),
        ("gate_status", "text"),
        ("result_invocation_id", "text"),
        ("result_command", "text"),
        ("result_generated_at", "timestamp"),
        ("owner", "text"),
    ),
    FRESHNESS_TABLE: (
        ("invocation_id", "text"),
        ("generated_at", "timestamp"),
        ("source_unique_id", "text"),
        ("source_name", "text"),
        ("table_name", "text"),
        ("relation_name", "text"),
        ("status", "text"),
        ("max_loaded_at", "timestamp"),
        ("snapshotted_at", "timestamp"),
        ("age_seconds", "float"),
        ("warn_after", "text"),
        ("error_after", "text"),
        ("message", "text"),
    ),
}
TABLES: Final = tuple(COLUMNS)
CHAIN_OF: Final = {
    EXPOSURE_TABLE: "exposure_status",
    NODE_TABLE: "node_status",
    FRESHNESS_TABLE: "source_freshness",
}
"""The audit trail's chain of each table (:data:`sluice.audit.chain.CHAINS`)."""


def _naive_utc(value: datetime | None) -> datetime | None:
    """Timestamps are stored as naive UTC."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def table_rows(impact: Impact) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of the three tables for one report, in column order."""
    inv = impact.invocation_id
    at = _naive_utc(impact.generated_at)
    owners_by_root = {rc.id: rc.owner for rc in impact.root_causes}
    exposures = [
        (
            inv,
            at,
            e.unique_id,
            e.name,
            e.label,
            e.type,
            e.url,
            e.status.value,
            e.criticality,
            ", ".join(o.name for o in e.owners if o.name) or None,
            ", ".join(o.email for o in e.owners if o.email) or None,
            len(e.reasons),
            json.dumps(sorted({r.root_cause_id for r in e.reasons})),
            e.rows_held_upstream,
            _naive_utc(e.data_as_of),
            _naive_utc(e.models_built_at),
            _naive_utc(e.oldest_source_loaded_at),
            e.as_of_complete,
        )
        for e in impact.exposures
    ]
    nodes = [
        (
            inv,
            at,
            n.unique_id,
            n.name,
            n.resource_type,
            n.run_status,
            n.problem.value if n.problem else None,
            json.dumps(list(n.caused_by)) if n.caused_by else None,
            n.message,
            _naive_utc(n.completed_at),
            n.rows_held,
            n.rows_flagged,
            n.gate_status,
            n.invocation_id,
            n.command,
            _naive_utc(n.result_at),
            owners_by_root.get(f"{n.problem.value}:{n.unique_id}") if n.problem else None,
        )
        for n in impact.nodes
    ]
    sources = [
        (
            inv,
            at,
            s.unique_id,
            s.source_name,
            s.name,
            s.relation_name,
            s.status.value,
            _naive_utc(s.max_loaded_at),
            _naive_utc(s.snapshotted_at),
            s.age_seconds,
            s.warn_after,
            s.error_after,
            s.message,
        )
        for s in impact.sources
    ]
    return {EXPOSURE_TABLE: exposures, NODE_TABLE: nodes, FRESHNESS_TABLE: sources}


def write_tables(
    wh: Warehouse,
    schema: str,
    impact: Impact,
    *,
    incident_changes: Sequence[IncidentChange] = (),
) -> tuple[str, ...]:
    """Replace this invocation's rows of the three tables and append the incident changes not
    yet recorded, in one transaction."""
    rows = table_rows(impact)
    incident_tables: tuple[str, ...] = ()
    trail: tuple[str, ...] = ()
    try:
        with wh.transaction():
            for table, columns in COLUMNS.items():
                wh.ensure_table(schema, table, columns)
                relation = wh.relation(schema, table)
                wh.execute(
                    f"delete from {relation} where invocation_id = %s", (impact.invocation_id,)
                )
                if rows[table]:
                    wh.insert(relation, [name for name, _ in columns], rows[table])
            written = [
                SealedTable(CHAIN_OF[table], table, columns)
                for table, columns in COLUMNS.items()
                if rows[table]
            ]
            if written:
                audit = trail_tables(wh.project)
                if seal_rows(
                    wh,
                    schema,
                    written,
                    [impact.invocation_id],
                    [REPORT_SCOPE],
                    impact.invocation_id,
                    chain_table=audit.chain,
                    records_table=audit.records,
                ):
                    trail = (f"{schema}.{audit.chain}", f"{schema}.{audit.records}")
            incident_tables = append_incident_changes(wh, incident_changes)
    except SluiceError:
        raise
    except Exception as exc:
        raise InputError(
            f"{wh.description}: writing the report tables failed, nothing written: "
            f"{describe_error(exc)}"
        ) from None
    names = (*(f"{schema}.{table}" for table in COLUMNS), *incident_tables)
    return (*names, *(t for t in trail if t not in names))
