"""The record ``sluice build`` keeps in the warehouse: one row per dbt attempt
(``sluice_build_attempts``) and one row per alert (``sluice_build_alerts``), in the sluice
schema, beside the files it writes under ``target/sluice/`` (``build.json``, ``alerts.json``).

Append-only, keyed on the ``sluice build`` run's id (``build_id``, the ``invocation_id`` of
``build.json``): a run's rows are written once, in one transaction, and a run already recorded
is never written again. On DuckDB and PostgreSQL the rows are sealed into the audit trail in
that transaction (:mod:`sluice.warehouse.seal`): chains ``build_attempts`` and
``build_alerts``, one per table for the project (``model_unique_id`` is
:data:`~sluice.audit.chain.BUILD_SCOPE`: the tables have no column naming a model or an
exposure for every row), records keyed by ``build_id``. A run with no alert writes, and seals,
no alert row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sluice.audit.chain import BUILD_SCOPE
from sluice.audit.store import trail_tables
from sluice.warehouse.connection import Warehouse
from sluice.warehouse.seal import SealedTable, seal_rows

ATTEMPTS_TABLE: Final = "sluice_build_attempts"
ALERTS_TABLE: Final = "sluice_build_alerts"

ATTEMPT_COLUMNS: Final = (
    ("build_id", "text"),
    ("attempt_number", "bigint"),
    ("kind", "text"),
    ("dbt_invocation_id", "text"),
    ("dbt_args", "text"),
    ("returncode", "bigint"),
    ("started", "boolean"),
    ("interrupted", "boolean"),
    ("delay_before_seconds", "float"),
    ("duration_seconds", "float"),
    ("failure_count", "bigint"),
    ("failed_nodes", "text"),
    ("rerun", "text"),
    ("recorded_at", "timestamp"),
)
ALERT_COLUMNS: Final = (
    ("build_id", "text"),
    ("node_unique_id", "text"),
    ("node_name", "text"),
    ("failure_class", "text"),
    ("status", "text"),
    ("priority", "text"),
    ("severity", "text"),
    ("criticality", "text"),
    ("owner", "text"),
    ("owner_basis", "text"),
    ("exposures", "text"),
    ("action", "text"),
    ("rule", "text"),
    ("message", "text"),
    ("delivery_attempted", "boolean"),
    ("delivered", "boolean"),
    ("delivery_error", "text"),
    ("recorded_at", "timestamp"),
)


@dataclass(frozen=True, slots=True)
class BuildRows:
    """One ``sluice build`` run's rows, in column order (times as naive UTC)."""

    build_id: str
    attempts: Sequence[tuple[Any, ...]]
    alerts: Sequence[tuple[Any, ...]]


def record_build(wh: Warehouse, rows: BuildRows) -> tuple[str, ...]:
    """Append the run's rows unless it is already recorded, and seal them; returns the tables
    written (none when the run was already there). Raises what the warehouse raises."""
    schema = wh.project.sluice_schema()
    with wh.transaction():
        wh.ensure_table(schema, ATTEMPTS_TABLE, ATTEMPT_COLUMNS)
        wh.ensure_table(schema, ALERTS_TABLE, ALERT_COLUMNS)
        attempts = wh.relation(schema, ATTEMPTS_TABLE)
        if wh.query(f"select 1 from {attempts} where build_id = %s", (rows.build_id,)):
            return ()
        written = []
        for table, columns, values in (
            (ATTEMPTS_TABLE, ATTEMPT_COLUMNS, rows.attempts),
            (ALERTS_TABLE, ALERT_COLUMNS, rows.alerts),
        ):
            if values:
                wh.insert(wh.relation(schema, table), [n for n, _ in columns], values)
                chain = "build_attempts" if table == ATTEMPTS_TABLE else "build_alerts"
                written.append(SealedTable(chain, table, columns))
        if not written:
            return ()
        audit = trail_tables(wh.project)
        seals = seal_rows(
            wh,
            schema,
            written,
            [rows.build_id],
            [BUILD_SCOPE],
            rows.build_id,
            chain_table=audit.chain,
            records_table=audit.records,
        )
    names = tuple(f"{schema}.{t.table}" for t in written)
    if seals:
        names = (*names, f"{schema}.{audit.chain}", f"{schema}.{audit.records}")
    return names
