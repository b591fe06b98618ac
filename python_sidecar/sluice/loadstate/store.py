"""Reading load states through :mod:`sluice.warehouse`: ``sluice_load_states`` (var
``sluice_load_states_table``) and reviewers' acceptances in ``sluice_decisions`` (var
``sluice_decisions_table``), both in ``sluice_schema`` (else the target schema).

Plain SQL for DuckDB, PostgreSQL and Snowflake: window functions pick the latest load per model
and the latest acceptance per load, no correlated subqueries. No table yet (no sluice build has
recorded a load) reads as no loads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sluice.errors import InputError, SluiceError
from sluice.loadstate.core import LOAD_COLUMNS, LoadState, load_state
from sluice.warehouse import Warehouse
from sluice.warehouse.connection import describe_error

STATES_VAR: Final = "sluice_load_states_table"
STATES_TABLE: Final = "sluice_load_states"

_ORDER: Final = "t.as_of desc, t.invocation_id desc"
"""The latest load of a model first (its current state)."""

# the latest acceptance per load (decision accept_load, exception_id `load:<invocation id>`)
# that names its author and reason
_ACCEPTANCES: Final = """
    select model_unique_id, invocation_id, decided_by, decided_at, reason
    from (
        select d.model_unique_id, substr(d.exception_id, 6) as invocation_id, d.decided_by,
            d.decided_at, d.reason,
            row_number() over (
                partition by d.model_unique_id, d.exception_id
                order by d.decided_at desc, d.decision_id desc
            ) as sluice_rn
        from {decisions} as d
        where d.decision = 'accept_load' and substr(d.exception_id, 1, 5) = 'load:'
            and coalesce(trim(d.decided_by), '') <> '' and coalesce(trim(d.reason), '') <> ''
    ) as x
    where sluice_rn = 1
"""
_NO_ACCEPTANCES: Final = (
    "select cast(null as {text}) as model_unique_id, cast(null as {text}) as invocation_id, "
    "cast(null as {text}) as decided_by, cast(null as {timestamp}) as decided_at, "
    "cast(null as {text}) as reason"
)


def states_relation(wh: Warehouse) -> tuple[str, str]:
    """(schema, table) of ``sluice_load_states``."""
    project = wh.project
    return project.sluice_schema(), project.table_name(STATES_VAR, STATES_TABLE)


def _acceptances(wh: Warehouse) -> str:
    schema, table = wh.project.sluice_schema(), wh.project.settings.decisions_table
    if not wh.table_exists(schema, table):
        return _NO_ACCEPTANCES.format(**wh.types)
    return _ACCEPTANCES.format(decisions=wh.relation(schema, table))


def _read(
    wh: Warehouse, model: str | None, *, latest: bool, now: datetime | None
) -> list[LoadState]:
    schema, table = states_relation(wh)
    name = f"{schema}.{table}"
    columns = ", ".join(f"t.{c}" for c in LOAD_COLUMNS)
    picked = ", ".join(f"l.{c}" for c in LOAD_COLUMNS)
    order = "l.model_name, l.model_unique_id" if latest else _ORDER.replace("t.", "l.")
    where = ""
    params: tuple[str, ...] = ()
    if model is not None:
        where = "where (t.model_name = %s or t.model_unique_id = %s)"
        params = (model, model)
    try:
        if not wh.table_exists(schema, table):
            return []
        sql = f"""
            select {picked}, a.decided_by, a.decided_at, a.reason
            from (
                select {columns}, row_number() over (
                    partition by t.model_unique_id order by {_ORDER}
                ) as sluice_rn
                from {wh.relation(schema, table)} as t
                {where}
            ) as l
            left join ({_acceptances(wh)}) as a
                on a.model_unique_id = l.model_unique_id and a.invocation_id = l.invocation_id
            {"where l.sluice_rn = 1" if latest else ""}
            order by {order}
        """
        rows = wh.query(sql, params)
    except SluiceError:
        raise
    except Exception as exc:
        raise InputError(f"{wh.description}: cannot read {name}: {describe_error(exc)}") from None
    when = now or datetime.now(UTC)
    return [load_state(r, when, name) for r in rows]


def current_states(
    wh: Warehouse, model: str | None = None, *, now: datetime | None = None
) -> list[LoadState]:
    """The current state of every model (its latest load by ``as_of``, then invocation), or of
    the models named ``model`` (a name or a unique_id), by model name. ``now`` (aware, default
    the current time) dates the age of the data."""
    return _read(wh, model, latest=True, now=now)


def load_history(wh: Warehouse, model: str, *, now: datetime | None = None) -> list[LoadState]:
    """Every recorded load of the model (a name or a unique_id), newest first."""
    return _read(wh, model, latest=False, now=now)


def describe_missing(wh: Warehouse, model: str) -> str:
    """Why ``model`` has no load state: no table yet, or no load of that model in it."""
    schema, table = states_relation(wh)
    if not wh.table_exists(schema, table):
        return (
            f"no load state for model {model!r}: no {schema}.{table} table in "
            f"{wh.description} (no sluice build has recorded a load yet)"
        )
    return (
        f"no load state for model {model!r}: no model of that name or unique_id has recorded a "
        f"load in {schema}.{table}"
    )
