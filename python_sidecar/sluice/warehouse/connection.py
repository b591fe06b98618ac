"""The one door to the warehouse: the project's own dbt adapter, opened from its profile.

:func:`connect` loads the adapter plugin of the profile's target (dbt-duckdb, dbt-postgres,
dbt-snowflake, ...), builds its credentials from the target exactly as dbt does (aliases,
validation, authentication methods), and opens one connection. Statements go through the
adapter's connection manager, so whatever dbt can reach, sluice can: no driver, quoting or
authentication code of its own. One exception, for speed: a DuckDB target that is nothing but a
local file is opened with the duckdb package (what dbt-duckdb does underneath), saving the
second dbt's adapter machinery takes to load after every build. dbt is imported only when a
command connects (``sluice report --no-warehouse`` never does).
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sluice.errors import InputError, SluiceError
from sluice.project import Project, Target

CONNECTION_NAME: Final = "sluice"
_INSERT_BATCH: Final = 500

# Column types by kind, per adapter family; the default suits PostgreSQL, DuckDB, Snowflake,
# Redshift and most SQL engines.
_TYPES: Final[dict[str, dict[str, str]]] = {
    "default": {
        "text": "varchar",
        "timestamp": "timestamp",
        "bigint": "bigint",
        "float": "double precision",
        "boolean": "boolean",
    },
    "bigquery": {
        "text": "string",
        "timestamp": "timestamp",
        "bigint": "int64",
        "float": "float64",
        "boolean": "bool",
    },
    "spark": {
        "text": "string",
        "timestamp": "timestamp",
        "bigint": "bigint",
        "float": "double",
        "boolean": "boolean",
    },
}
_TYPES["databricks"] = _TYPES["spark"]


@dataclass(slots=True)
class _AdapterConfig:
    """What a dbt adapter needs of dbt's runtime config (dbt-adapters' AdapterRequiredConfig)."""

    credentials: Any
    profile_name: str
    target_name: str
    threads: int
    project_name: str
    query_comment: Any
    cli_vars: dict[str, Any] = field(default_factory=dict)
    target_path: str = "target"
    log_cache_events: bool = False

    def to_target_dict(self) -> dict[str, Any]:
        return {"profile_name": self.profile_name, "target_name": self.target_name}


def preload(project: Project) -> None:
    """Import what :func:`connect` will need for the project's target now (``sluice build``
    does this while dbt runs, so the report pays nothing for it afterwards)."""
    target = project.target
    if _plain_duckdb_file(target, project) is not None:
        import duckdb  # noqa: F401

        return
    from dbt.adapters.factory import FACTORY

    credentials = FACTORY.load_plugin(target.adapter_type)
    credentials.json_schema()  # built once per class, on the first validation


def _adapter(target: Target, project: Project) -> Any:
    from dbt.adapters.contracts.connection import QueryComment
    from dbt.adapters.factory import FACTORY

    adapter_type = target.adapter_type
    try:
        credentials_class = FACTORY.load_plugin(adapter_type)
        adapter_class = FACTORY.get_adapter_class_by_name(adapter_type)
    except Exception as exc:
        raise InputError(
            f"{target.where}: the dbt adapter for type {adapter_type!r} is not installed "
            f"({type(exc).__name__}); install dbt-{adapter_type} or pass --no-warehouse"
        ) from None
    data = dict(target.credentials)
    data.pop("type", None)
    threads = data.pop("threads", 1)
    try:
        data = credentials_class.translate_aliases(data)
        credentials_class.validate(data)
        credentials = credentials_class.from_dict(data)
    except Exception as exc:
        raise InputError(f"{target.where}: not a valid {adapter_type} target: {exc}") from None
    config = _AdapterConfig(
        credentials=credentials,
        profile_name=target.profile_name,
        target_name=target.target_name,
        threads=int(threads) if isinstance(threads, int) else 1,
        project_name=project.name or "sluice",
        query_comment=QueryComment(comment="sluice", append=False),
        cli_vars=dict(project.cli_vars),
        target_path=str(project.target_path),
    )
    make: Any = adapter_class  # typed as dbt's protocol, whose __init__ takes only the config
    return _in_own_thread(lambda: make(config, multiprocessing.get_context("spawn")))


def _in_own_thread(build: Callable[[], Any]) -> Any:
    """``build()``, called from a thread of its own. Building a dbt adapter names the source of
    each of its behavior flags by walking the whole call stack (``inspect.stack()``, once per
    flag); from the caller's thread that is every frame above the command (a scheduler's, a
    test runner's: up to a second per connection), from a new thread only dbt's own few."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sluice-adapter") as pool:
        return pool.submit(build).result()


def _release(adapter: Any) -> None:
    """Close every connection, and the database handle an embedded engine keeps per process
    (dbt-duckdb keeps the file open otherwise, locking it against the next dbt run)."""
    try:
        adapter.cleanup_connections()
    finally:
        manager = type(adapter.connections)
        engine = getattr(manager, "_ENV", None)
        if engine is not None and hasattr(engine, "close"):
            engine.close()
        close_all = getattr(manager, "close_all_connections", None)
        if callable(close_all):
            close_all()


class _AdapterDriver:
    """Statements through a dbt adapter's connection manager."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def cursor(self, sql: str, params: Sequence[Any]) -> Any:
        _, cursor = self.adapter.connections.add_query(
            sql, auto_begin=False, bindings=tuple(params) or None
        )
        return cursor

    def begin(self) -> None:
        self.adapter.connections.begin()

    def commit(self) -> None:
        self.adapter.connections.commit()

    def rollback(self) -> None:
        self.adapter.connections.rollback_if_open()

    def render(self, database: str | None, schema: str, table: str | None) -> str:
        relation = self.adapter.Relation.create(database=database, schema=schema, identifier=table)
        return str(relation.include(database=False).render())


class _DuckDBDriver:
    """A plain local DuckDB file, opened with the duckdb package dbt-duckdb itself uses: the
    same file and the same SQL, without a second of adapter start-up (``sluice build`` runs
    this after every dbt build)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def cursor(self, sql: str, params: Sequence[Any]) -> Any:
        return (
            self.connection.execute(sql, list(params)) if params else self.connection.execute(sql)
        )

    def begin(self) -> None:
        self.connection.execute("begin transaction")

    def commit(self) -> None:
        self.connection.execute("commit")

    def rollback(self) -> None:
        with contextlib.suppress(Exception):  # no transaction open: nothing to roll back
            self.connection.execute("rollback")

    def render(self, database: str | None, schema: str, table: str | None) -> str:
        def quote(name: str) -> str:
            return '"' + name.replace('"', '""') + '"'

        return quote(schema) if table is None else f"{quote(schema)}.{quote(table)}"


# Profile keys of a DuckDB target that need nothing but the file (anything else, such as
# extensions, attach, settings, plugins or MotherDuck, goes through dbt-duckdb itself).
_PLAIN_DUCKDB_KEYS: Final = frozenset({"type", "path", "schema", "database", "threads"})


def _plain_duckdb_file(target: Target, project: Project) -> Path | None:
    if target.adapter_type != "duckdb" or set(target.credentials) - _PLAIN_DUCKDB_KEYS:
        return None
    raw = str(target.credentials.get("path") or "")
    if not raw or raw == ":memory:" or ":" in raw.split("/", 1)[0]:
        return None
    path = Path(raw)
    database = target.credentials.get("database")
    if database and database != path.stem:
        return None
    return path if path.is_absolute() else project.cwd / path


class Warehouse:
    """An open connection to the project's target; use :func:`connect`."""

    def __init__(self, project: Project, target: Target, driver: Any) -> None:
        self.project = project
        self.target = target
        self.driver = driver
        self.adapter_type = target.adapter_type
        self.param = "?" if self.adapter_type == "duckdb" else "%s"
        self.types = _TYPES.get(self.adapter_type, _TYPES["default"])
        self._catalogue: dict[tuple[str, str], set[str] | None] = {}
        """(schema, table) -> its columns, lower-cased (None: no such table)."""

    @property
    def description(self) -> str:
        return f"{self.adapter_type} target {self.target.where}"

    def relation(self, schema: str, table: str) -> str:
        """``schema.table`` rendered with the adapter's own quoting policy."""
        return str(self.driver.render(self.target.database, schema, table))

    def _sql(self, sql: str) -> str:
        return sql.replace("%s", self.param) if self.param != "%s" else sql

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``%s`` placeholders) and return its rows."""
        cursor = self.driver.cursor(self._sql(sql), params)
        rows = cursor.fetchall() if cursor.description else []
        return [tuple(row) for row in rows]

    def query_with_columns(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Rows and the lower-cased column names of one statement."""
        cursor = self.driver.cursor(self._sql(sql), params)
        if not cursor.description:
            return [], []
        names = [str(d[0]).lower() for d in cursor.description]
        return names, [tuple(row) for row in cursor.fetchall()]

    def stream(
        self, sql: str, params: Sequence[Any] = (), *, batch: int = 1000
    ) -> Iterator[tuple[list[str], tuple[Any, ...]]]:
        """The rows of one statement one by one, with its column names, fetched in batches
        (for exports larger than memory)."""
        cursor = self.driver.cursor(self._sql(sql), params)
        if not cursor.description:
            return
        names = [str(d[0]) for d in cursor.description]
        while rows := cursor.fetchmany(batch):
            for row in rows:
                yield names, tuple(row)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.driver.cursor(self._sql(sql), params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together, or not at all."""
        self.driver.begin()
        try:
            yield
        except BaseException:
            self._catalogue.clear()  # a table created inside is gone again
            self.driver.rollback()
            raise
        self.driver.commit()

    def _columns_of(self, schema: str, table: str) -> set[str] | None:
        """The table's columns, lower-cased (None: no such table), read once per table and
        connection (one command asks about the same few tables many times); kept up to date
        by :meth:`ensure_table`, forgotten when a transaction rolls back."""
        key = (schema.lower(), table.lower())
        if key not in self._catalogue:
            rows = self.query(
                "select lower(column_name) from information_schema.columns "
                "where lower(table_schema) = lower(%s) and lower(table_name) = lower(%s)",
                (schema, table),
            )
            self._catalogue[key] = {str(r[0]) for r in rows} or None
        return self._catalogue[key]

    def table_exists(self, schema: str, table: str) -> bool:
        return self._columns_of(schema, table) is not None

    def columns(self, schema: str, table: str) -> list[str]:
        return sorted(self._columns_of(schema, table) or ())

    def ensure_table(self, schema: str, table: str, columns: Sequence[tuple[str, str]]) -> None:
        """Create the schema and the table if missing; add any column a newer sluice added."""
        relation = self.relation(schema, table)
        present = self._columns_of(schema, table)
        if present is None:
            schema_sql = self.driver.render(self.target.database, schema, None)
            self.execute(f"create schema if not exists {schema_sql}")
            column_sql = ", ".join(f"{name} {self.types[kind]}" for name, kind in columns)
            self.execute(f"create table if not exists {relation} ({column_sql})")
            self._catalogue[(schema.lower(), table.lower())] = {n.lower() for n, _ in columns}
            return
        for name, kind in columns:
            if name.lower() not in present:
                self.execute(f"alter table {relation} add column {name} {self.types[kind]}")
                present.add(name.lower())

    def insert(self, relation: str, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows, several per statement (one round trip per batch, not per row)."""
        marks = "(" + ", ".join([self.param] * len(names)) + ")"
        head = f"insert into {relation} ({', '.join(names)}) values "
        for start in range(0, len(rows), _INSERT_BATCH):
            batch = rows[start : start + _INSERT_BATCH]
            params = [value for row in batch for value in row]
            self.driver.cursor(head + ", ".join([marks] * len(batch)), params)


def split_relation(relation: str) -> tuple[str, ...]:
    """``"db"."schema"."table"`` (any quoting: ``"``, `````, none) into its parts, unquoted."""
    parts: list[str] = []
    current: list[str] = []
    quote: str | None = None
    index = 0
    while index < len(relation):
        char = relation[index]
        if quote is not None:
            if char == quote:
                if index + 1 < len(relation) and relation[index + 1] == quote:
                    current.append(char)
                    index += 1
                else:
                    quote = None
            else:
                current.append(char)
        elif char in '"`':
            quote = char
        elif char == ".":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current).strip())
    return tuple(p for p in parts if p)


# Statements that make a session read-only, per adapter type (the rest rely on the statements
# sent: a read-only caller sends only reads).
_READ_ONLY_SESSION: Final = {
    "postgres": (
        "set session characteristics as transaction read only",
        "set transaction read only",
    ),
}


@contextmanager
def connect(project: Project, *, read_only: bool = False) -> Iterator[Warehouse]:
    """Open the project's target through its dbt adapter; every failure is an
    :class:`~sluice.errors.InputError` naming the target (never its secrets).

    ``read_only`` (``sluice audit``): a plain DuckDB file is opened read-only (other readers
    may hold it too), a PostgreSQL session refuses writes."""
    target = project.target
    if target.adapter_type == "duckdb":
        path = str(target.credentials.get("path") or ":memory:")
        local = path != ":memory:" and not path.startswith(("md:", "motherduck:", "s3:", "http"))
        # dbt-duckdb reads a relative path from the working directory, as dbt does
        if local and not (Path(path) if Path(path).is_absolute() else project.cwd / path).exists():
            raise InputError(f"{target.where}: DuckDB file {path} not found: run dbt build first")
    plain = _plain_duckdb_file(target, project)
    if plain is not None:
        import duckdb

        try:
            connection = duckdb.connect(str(plain), read_only=read_only)
        except Exception as exc:
            raise InputError(f"{target.where}: cannot open {plain}: {_clean(exc)}") from None
        try:
            yield Warehouse(project, target, _DuckDBDriver(connection))
        finally:
            connection.close()
        return
    adapter = _adapter(target, project)
    try:
        with adapter.connection_named(CONNECTION_NAME):
            try:
                adapter.connections.get_thread_connection().handle  # noqa: B018 - opens it
            except SluiceError:
                raise
            except Exception as exc:
                raise InputError(f"{target.where}: cannot connect: {_clean(exc)}") from None
            driver = _AdapterDriver(adapter)
            for statement in _READ_ONLY_SESSION.get(target.adapter_type, ()) if read_only else ():
                driver.cursor(statement, ())
            yield Warehouse(project, target, driver)
    finally:
        _release(adapter)


def _clean(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def describe_error(exc: BaseException) -> str:
    """An adapter error as one line."""
    return _clean(exc)
