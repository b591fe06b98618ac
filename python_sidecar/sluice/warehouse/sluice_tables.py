"""Reading the package's tables (``sluice_runs``, the quarantines) through a :class:`Warehouse`.

Table names and the schema come from the project's ``sluice_*`` vars (``sluice_schema``,
``sluice_runs_table``, ...), the same settings the package's macros use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sluice.errors import InputError, SluiceError
from sluice.warehouse.connection import Warehouse, describe_error, split_relation
from sluice.warehouse.records import ADDED_RUN_COLUMNS, RUN_COLUMNS, RunRecord, run_record, utc


@dataclass(frozen=True, slots=True)
class RunsTable:
    schema: str
    table: str

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


def runs_table(wh: Warehouse) -> RunsTable:
    return RunsTable(wh.project.sluice_schema(), wh.project.settings.runs_table)


def _fail(wh: Warehouse, what: str, exc: Exception) -> InputError:
    return InputError(f"{wh.description}: cannot read {what}: {describe_error(exc)}")


def read_runs(
    wh: Warehouse,
    *,
    invocations: Iterable[str] | None = None,
    latest_invocation: bool = False,
) -> list[RunRecord]:
    """Rows of ``sluice_runs``: of the given invocations, of the latest one (by
    ``finished_at``), or all of them. Empty when the table does not exist."""
    table = runs_table(wh)
    try:
        if not wh.table_exists(table.schema, table.table):
            return []
        relation = wh.relation(table.schema, table.table)
        present = set(wh.columns(table.schema, table.table))
        columns = ", ".join(
            f"null as {c}" if c in ADDED_RUN_COLUMNS and c not in present else c
            for c in RUN_COLUMNS
        )
        if latest_invocation:
            rows = wh.query(
                f"select {columns} from {relation} where invocation_id = ("
                f"select invocation_id from {relation} group by invocation_id "
                "order by max(coalesce(finished_at, run_started_at)) desc limit 1)"
            )
        elif invocations is not None:
            wanted = sorted(set(invocations))
            if not wanted:
                return []
            marks = ", ".join(["%s"] * len(wanted))
            rows = wh.query(
                f"select {columns} from {relation} where invocation_id in ({marks})", wanted
            )
        else:
            rows = wh.query(f"select {columns} from {relation}")
    except SluiceError:
        raise
    except Exception as exc:
        raise _fail(wh, table.name, exc) from None
    return [run_record(row, table.name) for row in rows]


def last_passed(wh: Warehouse, models: Iterable[str]) -> dict[str, datetime]:
    """When each model last published (its gate passed, or an override published despite it):
    the data its consumers read, from ``sluice_runs``."""
    wanted = sorted(set(models))
    table = runs_table(wh)
    if not wanted:
        return {}
    try:
        if not wh.table_exists(table.schema, table.table):
            return {}
        marks = ", ".join(["%s"] * len(wanted))
        rows = wh.query(
            f"select model_unique_id, max(coalesce(finished_at, run_started_at)) "
            f"from {wh.relation(table.schema, table.table)} "
            f"where gate_status in ('passed', 'overridden') and model_unique_id in ({marks}) "
            "group by model_unique_id",
            wanted,
        )
    except SluiceError:
        raise
    except Exception as exc:
        raise _fail(wh, table.name, exc) from None
    found: dict[str, datetime] = {}
    for model, at in rows:
        when = utc(at)
        if when is not None:
            found[str(model)] = when
    return found


def relation_exists(wh: Warehouse, relation: str) -> bool:
    parts = split_relation(relation)
    return len(parts) >= 2 and wh.table_exists(parts[-2], parts[-1])


def quarantine_relations(wh: Warehouse) -> list[str]:
    """Every quarantine relation ``sluice_runs`` names that exists."""
    table = runs_table(wh)
    try:
        if not wh.table_exists(table.schema, table.table):
            return []
        names = [
            str(r[0])
            for r in wh.query(
                f"select distinct quarantine_relation from "
                f"{wh.relation(table.schema, table.table)} "
                "where quarantine_relation is not null order by 1"
            )
        ]
        return [name for name in names if relation_exists(wh, name)]
    except SluiceError:
        raise
    except Exception as exc:
        raise _fail(wh, table.name, exc) from None


def query_relation(
    wh: Warehouse, relation: str, sql: str, params: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    """``sql`` with ``{relation}`` replaced; errors name the relation."""
    try:
        return wh.query(sql.replace("{relation}", relation), params)
    except SluiceError:
        raise
    except Exception as exc:
        raise _fail(wh, relation, exc) from None
