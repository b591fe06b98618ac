"""The build record's rows in the warehouse: one per attempt and one per alert.

Owns turning this run's attempts and alerts into the rows of ``sluice_build_attempts`` and
``sluice_build_alerts`` and appending them through :mod:`sluice.warehouse.build_record`
(imported when used), sealed into the audit trail. Never fails the build: a warehouse that
cannot be reached or written is returned as a note (the files under ``target/sluice/`` still
hold the record).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluice.build.report_step import WarehouseAfterDbt
from sluice.build.result import Attempt
from sluice.escalate.core import Escalation
from sluice.escalate.webhook import Delivery


def _attempt_row(build_id: str, a: Attempt, at: datetime) -> tuple[Any, ...]:
    return (
        build_id,
        a.number,
        a.kind,
        a.dbt_invocation_id,
        json.dumps(list(a.dbt_args)),
        a.returncode,
        a.started,
        a.interrupted,
        round(a.delay_before, 3),
        round(a.duration_seconds, 3),
        len(a.failures),
        json.dumps(sorted({f.unique_id for f in a.failures})),
        json.dumps(list(a.rerun)),
        at,
    )


def _alert_row(build_id: str, e: Escalation, delivery: Delivery, at: datetime) -> tuple[Any, ...]:
    return (
        build_id,
        e.unique_id,
        e.name,
        e.failure_class,
        e.status,
        e.priority,
        e.severity,
        e.criticality,
        e.owner,
        e.owner_basis,
        json.dumps(list(e.exposures)),
        e.action,
        e.rule,
        e.message,
        delivery.attempted,
        delivery.delivered,
        delivery.error,
        at,
    )


def warehouse_rows(
    build_id: str,
    attempts: Sequence[Attempt],
    escalations: Sequence[Escalation],
    delivery: Delivery,
) -> Any:
    """This run's attempts and alerts as rows of the warehouse's build record."""
    from sluice.warehouse.build_record import BuildRows

    at = datetime.now(UTC).replace(tzinfo=None)
    return BuildRows(
        build_id=build_id,
        attempts=[_attempt_row(build_id, a, at) for a in attempts],
        alerts=[_alert_row(build_id, e, delivery, at) for e in escalations if e.alert],
    )


def record_in_warehouse(shared: WarehouseAfterDbt, rows: Any) -> str | None:
    """Append this run's attempts and alerts to the warehouse, sealed into the audit trail
    (:mod:`sluice.warehouse.build_record`); a note when that fails."""
    try:
        from sluice.warehouse.build_record import record_build

        record_build(shared.connection(), rows)
    except Exception as exc:  # the record must not change the build's outcome
        shared.recover()
        return f"build record not written to the warehouse: {type(exc).__name__}: {exc}"
    return None


def warehouse_recorder(
    project: Path, dbt_args: Sequence[str], environ: Mapping[str, str]
) -> Callable[[Any], str | None]:
    """:func:`record_in_warehouse` over a connection of its own, for a build that stops before
    its steps after dbt (a file that cannot be written)."""

    def record(rows: Any) -> str | None:
        with WarehouseAfterDbt(project, dbt_args, environ) as shared:
            return record_in_warehouse(shared, rows)

    return record
