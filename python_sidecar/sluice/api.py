"""pandas DataFrames of what sluice knows about a project, for notebooks and BI extracts.

Each function reads the project as dbt does (the same flags as the command line: project dir,
profiles dir, target, vars) and returns a :class:`pandas.DataFrame`; nothing is written::

    import sluice

    held = sluice.read_exceptions("analytics", status="open")
    held.groupby(["model_name", "error_class"]).size()

    history = sluice.read_exception_history("analytics", model="orders")
    board = sluice.read_exposure_status("analytics")            # the report's latest rows
    nodes = sluice.read_node_status("analytics", source="artifacts")  # no warehouse needed
    states = sluice.load_state(project_dir="analytics")  # each model's latest load

Times are UTC. Errors are :class:`sluice.errors.InputError` naming the file, table or target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluice.errors import InputError
from sluice.project import Project, ProjectFlags, load_project

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

_SOURCES = ("warehouse", "artifacts")


def _project(
    project_dir: str | Path | None,
    profiles_dir: str | Path | None,
    target: str | None,
    vars: str | Mapping[str, Any] | None,
    *,
    require: bool = True,
) -> Project:
    return load_project(
        ProjectFlags(
            project_dir=Path(project_dir) if project_dir is not None else None,
            profiles_dir=Path(profiles_dir) if profiles_dir is not None else None,
            target=target,
            vars=vars,
        ),
        require=require,
    )


def _frame(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame.from_records(list(rows), columns=list(columns))
    for name in frame.columns:
        if str(name).endswith("_at") or name == "generated_at":
            frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def _statuses(status: str | Iterable[str] | None) -> list[str] | None:
    if status is None:
        return None
    return [status] if isinstance(status, str) else list(status)


def read_exceptions(
    project_dir: str | Path | None = None,
    *,
    status: str | Iterable[str] | None = "open",
    model: str | None = None,
    profiles_dir: str | Path | None = None,
    target: str | None = None,
    vars: str | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The exceptions of every quarantine ``sluice_runs`` names: one row per exception (its
    record key and copy, rule, error class, severity, route, owner, status, times, attempts and
    the original row as JSON). ``status=None`` returns every status."""
    from sluice.warehouse import connect, quarantine_relations
    from sluice.warehouse.sluice_tables import query_relation

    project = _project(project_dir, profiles_dir, target, vars)
    wanted = _statuses(status)
    frames: list[pd.DataFrame] = []
    with connect(project) as wh:
        for relation in quarantine_relations(wh):
            where: list[str] = []
            params: list[Any] = []
            if wanted is not None:
                where.append(f"status in ({', '.join(['%s'] * len(wanted))})")
                params += wanted
            if model is not None:
                where.append("model_name = %s")
                params.append(model)
            sql = "select * from {relation}" + (f" where {' and '.join(where)}" if where else "")
            try:
                columns, rows = wh.query_with_columns(sql.replace("{relation}", relation), params)
            except Exception:
                query_relation(wh, relation, sql, tuple(params))  # raises, naming the relation
                raise
            frames.append(_frame(columns, rows))
    return _concat(frames, sort_by=["model_name", "first_seen_at", "exception_id"])


def _concat(frames: list[pd.DataFrame], sort_by: list[str]) -> pd.DataFrame:
    import pandas as pd

    frames = [f for f in frames if not f.empty] or frames[:1]
    if not frames:
        return pd.DataFrame()
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    keys = [k for k in sort_by if k in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True) if keys else frame


def read_exception_history(
    project_dir: str | Path | None = None,
    *,
    exception_id: str | None = None,
    model: str | None = None,
    profiles_dir: str | Path | None = None,
    target: str | None = None,
    vars: str | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Every status change of every exception (``sluice_exception_events``, or var
    ``sluice_events_table``), oldest first: from and to status, who, why, when."""
    from sluice.warehouse import connect

    project = _project(project_dir, profiles_dir, target, vars)
    with connect(project) as wh:
        schema, table = project.sluice_schema(), project.settings.events_table
        if not wh.table_exists(schema, table):
            raise InputError(
                f"{wh.description}: no {schema}.{table} table (no sluice model has been built "
                "into it); run dbt build first"
            )
        where: list[str] = []
        params: list[Any] = []
        if exception_id is not None:
            where.append("exception_id = %s")
            params.append(exception_id)
        if model is not None:
            where.append("model_name = %s")
            params.append(model)
        sql = f"select * from {wh.relation(schema, table)}"
        if where:
            sql += " where " + " and ".join(where)
        columns, rows = wh.query_with_columns(sql, params)
    return _concat([_frame(columns, rows)], sort_by=["event_at", "exception_id", "event_id"])


def _report_table(
    table: str,
    key: str,
    project_dir: str | Path | None,
    profiles_dir: str | Path | None,
    target: str | None,
    vars: str | Mapping[str, Any] | None,
    latest: bool,
) -> pd.DataFrame:
    from sluice.warehouse import connect

    project = _project(project_dir, profiles_dir, target, vars)
    with connect(project) as wh:
        schema = project.sluice_schema()
        if not wh.table_exists(schema, table):
            raise InputError(
                f"{wh.description}: no {schema}.{table} table; run `sluice report` (or "
                "`sluice build`) first"
            )
        relation = wh.relation(schema, table)
        sql = f"select * from {relation}"
        if latest:
            sql += f" where generated_at = (select max(generated_at) from {relation})"
        columns, rows = wh.query_with_columns(sql, ())
    return _concat([_frame(columns, rows)], sort_by=["generated_at", key])


def _from_artifacts(project: Project) -> Any:
    from datetime import UTC, datetime

    from sluice.impact import analyze
    from sluice.report import read_inputs

    inputs = read_inputs(project, warehouse=False)
    return analyze(
        inputs.artifacts.manifest,
        inputs.known.results,
        generated_at=datetime.now(UTC),
        sources=inputs.artifacts.sources,
        provenance=inputs.known.provenance,
        warnings=inputs.warnings,
    )


def read_exposure_status(
    project_dir: str | Path | None = None,
    *,
    source: str = "warehouse",
    latest: bool = True,
    profiles_dir: str | Path | None = None,
    target: str | None = None,
    vars: str | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per exposure: status, criticality, owners, rows held upstream, data as of.

    ``source="warehouse"`` reads the ``sluice_exposure_status`` table the report writes (the
    latest report only, unless ``latest=False``); ``source="artifacts"`` computes it now from
    dbt's artifacts and the known state, without a warehouse and without writing anything.
    """
    if source not in _SOURCES:
        raise InputError(f"source must be one of {', '.join(_SOURCES)}, not {source!r}")
    if source == "warehouse":
        from sluice.report.tables import EXPOSURE_TABLE

        return _report_table(
            EXPOSURE_TABLE, "exposure_unique_id", project_dir, profiles_dir, target, vars, latest
        )
    from sluice.report.tables import COLUMNS, EXPOSURE_TABLE, table_rows

    impact = _from_artifacts(_project(project_dir, profiles_dir, target, vars, require=False))
    names = [name for name, _ in COLUMNS[EXPOSURE_TABLE]]
    return _frame(names, table_rows(impact)[EXPOSURE_TABLE])


def read_node_status(
    project_dir: str | Path | None = None,
    *,
    source: str = "warehouse",
    latest: bool = True,
    profiles_dir: str | Path | None = None,
    target: str | None = None,
    vars: str | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per node with a known result or affected by a problem: its status, problem,
    root causes, and the invocation (and command, and time) its status comes from.

    ``source`` and ``latest`` as in :func:`read_exposure_status`.
    """
    if source not in _SOURCES:
        raise InputError(f"source must be one of {', '.join(_SOURCES)}, not {source!r}")
    if source == "warehouse":
        from sluice.report.tables import NODE_TABLE

        return _report_table(
            NODE_TABLE, "node_unique_id", project_dir, profiles_dir, target, vars, latest
        )
    from sluice.report.tables import COLUMNS, NODE_TABLE, table_rows

    impact = _from_artifacts(_project(project_dir, profiles_dir, target, vars, require=False))
    names = [name for name, _ in COLUMNS[NODE_TABLE]]
    return _frame(names, table_rows(impact)[NODE_TABLE])


def load_state(
    model: str | None = None,
    project_dir: str | Path | None = None,
    *,
    history: bool = False,
    profiles_dir: str | Path | None = None,
    target: str | None = None,
    vars: str | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The current load state of every model that records one (``sluice_load_states``, var
    ``sluice_load_states_table``), or of ``model`` (a name or unique_id); ``history=True``: every
    load of ``model``, newest first. The columns of ``sluice load-state --format json``: state,
    batch_id, as_of, published_at, rows in, published and held, missing, inputs (a list), who
    accepted the load, and the age of the published data in seconds. No build yet: no rows; a
    model that has recorded no load: InputError."""
    from dataclasses import fields

    import pandas as pd

    from sluice.loadstate import LoadState, current_states, describe_missing, load_history
    from sluice.warehouse import connect

    if history and model is None:
        raise InputError("history=True needs a model (a name or unique_id)")
    project = _project(project_dir, profiles_dir, target, vars)
    with connect(project, read_only=True) as wh:
        states = load_history(wh, model) if history and model else current_states(wh, model)
        if model is not None and not states:
            raise InputError(describe_missing(wh, model))
    names = [f.name for f in fields(LoadState)]
    frame = _frame(names, [[getattr(s, n) for n in names] for s in states])
    frame["inputs"] = pd.Series([list(s.inputs) for s in states], index=frame.index, dtype=object)
    frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True)
    return frame


__all__ = [
    "load_state",
    "read_exception_history",
    "read_exceptions",
    "read_exposure_status",
    "read_node_status",
]
