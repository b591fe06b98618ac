"""The warehouse side of the report: read ``sluice_runs``, write the BI tables.

The connection comes from the dbt profile's target (profiles.yml, rendered with a minimal
``env_var()``). DuckDB targets are reached with the ``duckdb`` package, PostgreSQL targets with
``psycopg2``. The three tables are appended per invocation; writing the same invocation again
replaces its rows in one transaction, so a rerun never duplicates or half-writes them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

import jinja2
import yaml  # type: ignore[import-untyped]

from sluice.errors import InputError, SluiceError
from sluice.impact import Impact, ModelQuarantine, RuleCount

EXPOSURE_TABLE: Final = "sluice_exposure_status"
NODE_TABLE: Final = "sluice_node_status"
FRESHNESS_TABLE: Final = "sluice_source_freshness"
RUNS_TABLE: Final = "sluice_runs"

# Columns of each table, typed once: (name, DuckDB/PostgreSQL type).
_COLUMNS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    EXPOSURE_TABLE: (
        ("invocation_id", "varchar"),
        ("generated_at", "timestamp"),
        ("exposure_unique_id", "varchar"),
        ("exposure_name", "varchar"),
        ("exposure_label", "varchar"),
        ("exposure_type", "varchar"),
        ("url", "varchar"),
        ("status", "varchar"),
        ("criticality", "varchar"),
        ("owners", "varchar"),
        ("owner_emails", "varchar"),
        ("reason_count", "integer"),
        ("root_cause_ids", "varchar"),
        ("rows_held_upstream", "bigint"),
        ("data_as_of", "timestamp"),
        ("models_built_at", "timestamp"),
        ("oldest_source_loaded_at", "timestamp"),
        ("as_of_complete", "boolean"),
    ),
    NODE_TABLE: (
        ("invocation_id", "varchar"),
        ("generated_at", "timestamp"),
        ("node_unique_id", "varchar"),
        ("node_name", "varchar"),
        ("resource_type", "varchar"),
        ("run_status", "varchar"),
        ("problem", "varchar"),
        ("caused_by", "varchar"),
        ("message", "varchar"),
        ("completed_at", "timestamp"),
        ("rows_held", "bigint"),
        ("rows_flagged", "bigint"),
        ("gate_status", "varchar"),
    ),
    FRESHNESS_TABLE: (
        ("invocation_id", "varchar"),
        ("generated_at", "timestamp"),
        ("source_unique_id", "varchar"),
        ("source_name", "varchar"),
        ("table_name", "varchar"),
        ("relation_name", "varchar"),
        ("status", "varchar"),
        ("max_loaded_at", "timestamp"),
        ("snapshotted_at", "timestamp"),
        ("age_seconds", "double precision"),
        ("warn_after", "varchar"),
        ("error_after", "varchar"),
        ("message", "varchar"),
    ),
}
TABLES: Final = tuple(_COLUMNS)


class _Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True, slots=True)
class WarehouseTarget:
    """Where the BI tables go, from the dbt profile's target."""

    adapter: str
    schema: str
    runs_schema: str
    """Schema of the package's ``sluice_runs`` table (``vars.sluice_schema`` or ``schema``)."""
    path: Path | None = None
    """DuckDB database file."""
    connect_args: Mapping[str, Any] = field(default_factory=dict)
    """psycopg2.connect keyword arguments."""
    description: str = ""


# ---------------------------------------------------------------------------------------------
# project and profile


def _render_yaml(path: Path) -> dict[str, Any]:
    """Read a dbt YAML file, rendering ``{{ env_var('X', 'default') }}`` like dbt does."""

    def env_var(name: str, default: str | None = None) -> str:
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return str(default)
        raise InputError(f"{path}: env_var('{name}') is not set and has no default")

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)  # noqa: S701 - YAML, not HTML
    try:
        rendered = env.from_string(text).render(env_var=env_var)
        data = yaml.safe_load(rendered)
    except (jinja2.TemplateError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping at the top level")
    return data


def read_project(project_dir: Path) -> dict[str, Any]:
    """dbt_project.yml of ``project_dir``, or an empty mapping when there is none."""
    path = project_dir / "dbt_project.yml"
    return _render_yaml(path) if path.exists() else {}


def _profiles_path(project_dir: Path, profiles_dir: Path | None) -> Path:
    if profiles_dir is not None:
        return profiles_dir / "profiles.yml"
    if os.environ.get("DBT_PROFILES_DIR"):
        return Path(os.environ["DBT_PROFILES_DIR"]) / "profiles.yml"
    if (project_dir / "profiles.yml").exists():
        return project_dir / "profiles.yml"
    return Path.home() / ".dbt" / "profiles.yml"


def resolve_target(
    project_dir: Path,
    *,
    profiles_dir: Path | None = None,
    target: str | None = None,
    project: Mapping[str, Any] | None = None,
) -> WarehouseTarget:
    """The warehouse of the dbt profile's target, as dbt itself would pick it."""
    project = read_project(project_dir) if project is None else project
    profile_name = os.environ.get("DBT_PROFILE") or project.get("profile")
    if not profile_name:
        raise InputError(
            f"{project_dir / 'dbt_project.yml'}: no `profile:` to find the warehouse; "
            "pass --no-warehouse to skip the tables"
        )
    path = _profiles_path(project_dir, profiles_dir)
    profiles = _render_yaml(path)
    profile = profiles.get(str(profile_name))
    if not isinstance(profile, dict):
        raise InputError(f"{path}: no profile named {profile_name!r}")
    target_name = target or os.environ.get("DBT_TARGET") or profile.get("target")
    outputs = profile.get("outputs") or {}
    output = outputs.get(target_name) if isinstance(outputs, dict) else None
    if not isinstance(output, dict):
        raise InputError(f"{path}: profile {profile_name!r} has no target {target_name!r}")
    adapter = str(output.get("type", ""))
    project_vars = project.get("vars") or {}
    where = f"{path} ({profile_name}.{target_name})"
    if adapter == "duckdb":
        schema = str(output.get("schema") or "main")
        raw_path = str(output.get("path") or "")
        if not raw_path or raw_path == ":memory:" or raw_path.startswith(("md:", "motherduck:")):
            raise InputError(
                f"{where}: DuckDB path {raw_path or ':memory:'!r} is not a local file; "
                "pass --no-warehouse"
            )
        db_path = Path(raw_path)
        if not db_path.is_absolute():
            db_path = project_dir / db_path  # dbt runs from the project directory
        return WarehouseTarget(
            adapter="duckdb",
            schema=schema,
            runs_schema=str(project_vars.get("sluice_schema") or schema),
            path=db_path,
            description=f"duckdb {db_path}",
        )
    if adapter in ("postgres", "postgresql"):
        schema = str(output.get("schema") or "public")
        args = {
            "host": output.get("host"),
            "port": int(output.get("port") or 5432),
            "user": output.get("user"),
            "password": output.get("password") or output.get("pass"),
            "dbname": output.get("dbname") or output.get("database"),
        }
        return WarehouseTarget(
            adapter="postgres",
            schema=schema,
            runs_schema=str(project_vars.get("sluice_schema") or schema),
            connect_args={k: v for k, v in args.items() if v is not None},
            description=f"postgres {args['host']}:{args['port']}/{args['dbname']}",
        )
    raise InputError(
        f"{where}: the report writes tables to DuckDB or PostgreSQL targets, not {adapter!r}; "
        "pass --no-warehouse"
    )


# ---------------------------------------------------------------------------------------------
# connection


class Warehouse:
    """An open connection to the target; use :func:`connect`."""

    def __init__(self, target: WarehouseTarget, connection: Any) -> None:
        self.target = target
        self._connection = connection

    def _cursor(self) -> _Cursor:
        # a DuckDB cursor is a separate connection with its own transaction: use the connection
        cursor: _Cursor = (
            self._connection if self.target.adapter == "duckdb" else self._connection.cursor()
        )
        return cursor

    def _quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def _relation(self, schema: str, table: str) -> str:
        return f"{self._quote(schema)}.{self._quote(table)}"

    def table_exists(self, schema: str, table: str) -> bool:
        cursor = self._cursor()
        cursor.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = %s and table_name = %s".replace("%s", self._param),
            (schema, table),
        )
        return bool(cursor.fetchall()[0][0])

    @property
    def _param(self) -> str:
        return "?" if self.target.adapter == "duckdb" else "%s"

    def read_quarantine(self, invocation_id: str) -> dict[str, ModelQuarantine]:
        """Rows of ``sluice_runs`` for ``invocation_id``; empty when the table does not exist."""
        try:
            return self._read_quarantine(invocation_id)
        except SluiceError:
            raise
        except Exception as exc:
            raise InputError(
                f"{self.target.description}: cannot read "
                f"{self.target.runs_schema}.{RUNS_TABLE}: {exc}"
            ) from None

    def _read_quarantine(self, invocation_id: str) -> dict[str, ModelQuarantine]:
        schema = self.target.runs_schema
        if not self.table_exists(schema, RUNS_TABLE):
            return {}
        runs = self._relation(schema, RUNS_TABLE)
        p = self._param
        cursor = self._cursor()
        cursor.execute(
            "select r.model_unique_id, r.rows_in, r.rows_published, r.rows_held, "
            "r.rows_flagged, r.gate_status, r.gate_message, r.rule_counts_json, "
            "r.quarantine_relation, "
            f"(select max(p.run_started_at) from {runs} p where p.model_unique_id = "
            "r.model_unique_id and p.gate_status = 'passed') as last_passed_at "
            f"from {runs} r where r.invocation_id = {p}",
            (invocation_id,),
        )
        found: dict[str, ModelQuarantine] = {}
        for row in cursor.fetchall():
            model_id = str(row[0])
            found[model_id] = ModelQuarantine(
                model_unique_id=model_id,
                rows_in=_int_or_none(row[1]),
                rows_published=_int_or_none(row[2]),
                rows_held=int(row[3] or 0),
                rows_flagged=int(row[4] or 0),
                gate_status=None if row[5] is None else str(row[5]),
                gate_message=None if row[6] is None else str(row[6]),
                rule_counts=_rule_counts(row[7]),
                last_passed_at=_utc(row[9]),
                quarantine_relation=None if row[8] is None else str(row[8]),
            )
        return found

    def write_tables(self, impact: Impact) -> tuple[str, ...]:
        """Replace this invocation's rows of the three tables, in one transaction."""
        rows = table_rows(impact)
        schema = self.target.schema
        cursor = self._cursor()
        p = self._param
        try:
            if self.target.adapter == "duckdb":
                cursor.execute("begin transaction")  # psycopg2 opens one implicitly
            cursor.execute(f"create schema if not exists {self._quote(schema)}")
            for table, columns in _COLUMNS.items():
                relation = self._relation(schema, table)
                column_sql = ", ".join(f"{self._quote(n)} {t}" for n, t in columns)
                cursor.execute(f"create table if not exists {relation} ({column_sql})")
                cursor.execute(
                    f"delete from {relation} where invocation_id = {p}", (impact.invocation_id,)
                )
                if rows[table]:
                    names = ", ".join(self._quote(n) for n, _ in columns)
                    marks = ", ".join([p] * len(columns))
                    cursor.executemany(
                        f"insert into {relation} ({names}) values ({marks})", rows[table]
                    )
            self._connection.commit()
        except Exception as exc:
            self._connection.rollback()
            raise InputError(
                f"{self.target.description}: writing the report tables failed, nothing "
                f"written: {exc}"
            ) from None
        return tuple(f"{schema}.{table}" for table in _COLUMNS)

    def close(self) -> None:
        self._connection.close()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _rule_counts(raw: Any) -> tuple[RuleCount, ...]:
    if raw is None:
        return ()
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return ()
    counts: list[RuleCount] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        counts.append(
            RuleCount(
                rule_name=str(item.get("rule_name", "")),
                error_class=str(item.get("error_class", "")),
                severity=str(item.get("severity", "")),
                route=str(item.get("route", "")),
                rows=int(item.get("rows") or 0),
            )
        )
    return tuple(counts)


@contextmanager
def connect(target: WarehouseTarget) -> Iterator[Warehouse]:
    """Open the target's database; every failure is a :class:`SluiceError` naming it."""
    try:
        if target.adapter == "duckdb":
            import duckdb

            if target.path is None or not target.path.exists():
                raise InputError(
                    f"{target.description}: database file not found (has dbt run?); "
                    "pass --no-warehouse to skip the tables"
                )
            connection: Any = duckdb.connect(str(target.path))
        else:
            import psycopg2  # type: ignore[import-untyped]

            connection = psycopg2.connect(**target.connect_args, connect_timeout=10)
    except SluiceError:
        raise
    except Exception as exc:
        raise InputError(f"{target.description}: cannot connect: {exc}") from None
    warehouse = Warehouse(target, connection)
    try:
        yield warehouse
    finally:
        warehouse.close()


# ---------------------------------------------------------------------------------------------
# rows


def _naive_utc(value: datetime | None) -> datetime | None:
    """Timestamps are stored as naive UTC (``timestamp`` columns in both engines)."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def table_rows(impact: Impact) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of the three tables for one invocation, in column order."""
    inv = impact.invocation_id
    at = _naive_utc(impact.generated_at)
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


__all__ = [
    "EXPOSURE_TABLE",
    "FRESHNESS_TABLE",
    "NODE_TABLE",
    "RUNS_TABLE",
    "TABLES",
    "Warehouse",
    "WarehouseTarget",
    "connect",
    "read_project",
    "resolve_target",
    "table_rows",
]
