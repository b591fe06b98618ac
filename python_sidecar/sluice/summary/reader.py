"""Read the summary's rows from a DuckDB file: ``sluice_runs`` for the latest invocation (by
``finished_at``) and the quarantine tables its rows name. Read-only; nothing is written."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import duckdb

from sluice.errors import InputError
from sluice.summary.core import ModelRun, QuarantineCount, Summary, build_summary, parse_rule_counts

RUNS_TABLE: Final = "sluice_runs"
_RUN_COLUMNS: Final = (
    "model_name, relation_name, quarantine_relation, mode, rows_in, rows_published, rows_held, "
    "rows_flagged, gate_status, gate_message, rule_counts_json"
)
# a part of a rendered relation name: "quoted ""name""" or bare_name
_PART: Final = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def split_relation(relation: str) -> tuple[str, ...]:
    """``"db"."schema"."table"`` (or unquoted parts) into its parts, unquoted."""
    parts: list[str] = []
    for match in _PART.finditer(relation):
        quoted, bare = match.groups()
        parts.append(quoted.replace('""', '"') if quoted is not None else bare.strip())
    return tuple(p for p in parts if p)


def _runs_schema(conn: duckdb.DuckDBPyConnection, database: Path) -> str:
    rows = conn.execute(
        "select table_schema from information_schema.tables where table_name = ? "
        "order by table_schema = 'main' desc, table_schema",
        [RUNS_TABLE],
    ).fetchall()
    if not rows:
        raise InputError(
            f"{database}: has no {RUNS_TABLE} table (no sluice model has been built into it); "
            "run `dbt build` first"
        )
    return str(rows[0][0])


def _table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]  # type: ignore[index]
    )


def _quarantine_counts(
    conn: duckdb.DuckDBPyConnection, model_name: str, relation: str, invocation_id: str
) -> list[QuarantineCount]:
    parts = split_relation(relation)
    if len(parts) < 2 or not _table_exists(conn, parts[-2], parts[-1]):
        return []
    table = f"{_quote(parts[-2])}.{_quote(parts[-1])}"
    rows = conn.execute(
        f"select error_class, "
        f"count(*) filter (where status = 'open'), "
        f"count(*) filter (where invocation_id = ?) "
        f"from {table} where model_name = ? group by error_class",
        [invocation_id, model_name],
    ).fetchall()
    return [QuarantineCount(model_name, str(r[0]), int(r[1]), int(r[2])) for r in rows]


def read_summary(database: Path) -> Summary:
    """The summary of the latest invocation recorded in ``database``; InputError (exit 2) when
    the file or its ``sluice_runs`` table is missing or cannot be read."""
    if not database.is_file():
        raise InputError(f"{database}: DuckDB file not found; run `dbt build` first")
    try:
        conn = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as exc:
        raise InputError(f"{database}: cannot be opened: {exc}") from None
    try:
        return _read(conn, database)
    except duckdb.Error as exc:
        raise InputError(f"{database}: cannot be read: {exc}") from None
    finally:
        conn.close()


def _read(conn: duckdb.DuckDBPyConnection, database: Path) -> Summary:
    runs = f"{_quote(_runs_schema(conn, database))}.{_quote(RUNS_TABLE)}"
    latest = conn.execute(
        f"select invocation_id, max(finished_at) as finished_at from {runs} "
        "group by invocation_id order by finished_at desc nulls last limit 1"
    ).fetchone()
    if latest is None:
        raise InputError(f"{database}: {RUNS_TABLE} is empty; run `dbt build` first")
    invocation_id = str(latest[0])
    finished_at: datetime | None = latest[1]
    rows: list[tuple[Any, ...]] = conn.execute(
        f"select {_RUN_COLUMNS} from {runs} where invocation_id = ?",
        [invocation_id],
    ).fetchall()
    models: list[ModelRun] = []
    quarantine: list[QuarantineCount] = []
    for r in rows:
        name = str(r[0])
        models.append(
            ModelRun(
                model_name=name,
                relation_name=str(r[1]),
                quarantine_relation=str(r[2]),
                mode=str(r[3]),
                rows_in=int(r[4] or 0),
                rows_published=int(r[5] or 0),
                rows_held=int(r[6] or 0),
                rows_flagged=int(r[7] or 0),
                gate_status=str(r[8]),
                gate_message=None if r[9] is None else str(r[9]),
                classes=parse_rule_counts(r[10], f"{database}: {RUNS_TABLE} row of {name}"),
            )
        )
        quarantine += _quarantine_counts(conn, name, str(r[2]), invocation_id)
    return build_summary(database, invocation_id, finished_at, models, quarantine)
