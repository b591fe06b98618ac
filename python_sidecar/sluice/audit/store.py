"""The warehouse side of the audit trail: read the chain, the sealed records and the audited
tables, read-only.

The row hashes are recomputed by the warehouse with the expression the package sealed them with
(``macros/audit/_sluice_seal.sql``), built here from each seal's ``hashed_columns``, so that a
value's text is the same at the seal and at the check.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sluice.audit.chain import (
    CHAINS,
    BatchDigest,
    ChainSpec,
    HashedColumn,
    RecordDiff,
    Seal,
    UnsealedRecord,
    parse_hashed_columns,
)
from sluice.audit.sql import content_hash_sql, key_sql, md5_sql, quote, row_hash_sql, scope_sql
from sluice.errors import InputError, SluiceError

CHAIN_VAR: Final = "sluice_audit_chain_table"
RECORDS_VAR: Final = "sluice_audit_records_table"
UNSEALED_SAMPLE: Final = 100
"""How many rows outside every seal are named, per table (all are counted)."""

_SEAL_COLUMNS: Final = (
    "chain_name, model_unique_id, sequence_number, invocation_id, record_count, "
    "hashed_columns, content_hash, previous_hash, chain_hash, sealed_at"
)


@dataclass(frozen=True, slots=True)
class TrailTables:
    """Where the trail lives: the schema and the names of the tables."""

    schema: str
    chain: str
    records: str
    audited: Mapping[str, str]
    """chain name -> table name."""


@dataclass
class Trail:
    """A read-only connection to the warehouse holding the trail; use :func:`open_trail`."""

    dialect: str
    """``duckdb`` or ``postgres``."""
    description: str
    tables: TrailTables
    connection: Any

    # -- plumbing --------------------------------------------------------------------------

    @property
    def _p(self) -> str:
        return "?" if self.dialect == "duckdb" else "%s"

    def _cursor(self) -> Any:
        # a DuckDB cursor is a separate connection: use the connection itself
        return self.connection if self.dialect == "duckdb" else self.connection.cursor()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            cursor = self._cursor()
            cursor.execute(sql, tuple(params) or None)
            rows: list[tuple[Any, ...]] = [tuple(r) for r in cursor.fetchall()]
        except Exception as exc:
            raise InputError(f"{self.description}: reading the audit trail failed: {exc}") from None
        return rows

    def stream(
        self, sql: str, params: Sequence[Any] = ()
    ) -> Iterator[tuple[list[str], tuple[Any, ...]]]:
        """Rows one by one, with the column names, for writing large exports."""
        try:
            cursor = self._cursor()
            cursor.execute(sql, tuple(params) or None)
            names = [str(d[0]) for d in cursor.description]
            while True:
                batch = cursor.fetchmany(1000)
                if not batch:
                    return
                for row in batch:
                    yield names, tuple(row)
        except SluiceError:
            raise
        except Exception as exc:
            raise InputError(f"{self.description}: reading the audit trail failed: {exc}") from None

    def relation(self, table: str) -> str:
        return f"{quote(self.tables.schema)}.{quote(table)}"

    def exists(self, table: str) -> bool:
        rows = self.query(
            "select count(*) from information_schema.tables "
            f"where table_schema = {self._p} and table_name = {self._p}",
            (self.tables.schema, table),
        )
        return bool(rows[0][0])

    # -- SQL as the package writes it --------------------------------------------------------

    def _md5(self, expr: str) -> str:
        return md5_sql(expr)

    def row_hash_sql(self, columns: Sequence[HashedColumn], alias: str) -> str:
        """``sluice._sluice_audit_row_hash`` over the seal's columns."""
        return row_hash_sql(self.dialect, columns, alias)

    # -- reads -------------------------------------------------------------------------------

    def seals(self) -> list[Seal]:
        if not self.exists(self.tables.chain):
            return []
        rows = self.query(
            f"select {_SEAL_COLUMNS} from {self.relation(self.tables.chain)} "
            "order by chain_name, model_unique_id, sequence_number"
        )
        return [_seal(r) for r in rows]

    def digests(self) -> dict[tuple[str, str], dict[int, BatchDigest]]:
        """(chain, model) -> sequence -> what sluice_audit_records holds for that seal."""
        if not self.exists(self.tables.records):
            return {}
        rows = self.query(
            "select chain_name, model_unique_id, sequence_number, count(*), "
            f"{content_hash_sql('record_hash')} "
            f"from {self.relation(self.tables.records)} "
            "group by chain_name, model_unique_id, sequence_number"
        )
        found: dict[tuple[str, str], dict[int, BatchDigest]] = {}
        for chain, model, seq, count, content in rows:
            found.setdefault((str(chain), str(model)), {})[int(seq)] = BatchDigest(
                str(model), int(seq), int(count), None if content is None else str(content)
            )
        return found

    def record_diffs(self, spec: ChainSpec, hashed_columns: str) -> list[RecordDiff]:
        """Records sealed with these columns whose content or number of copies in the table
        differs from what was sealed."""
        columns = parse_hashed_columns(hashed_columns)
        if columns is None or not self.exists(self.tables.records):
            return []
        table = self.tables.audited[spec.name]
        records = self.relation(self.tables.records)
        chain = self.relation(self.tables.chain)
        key, scope = key_sql(spec, "t"), scope_sql(spec, "t")
        p = self._p
        latest = (
            # a key rewritten by sluice and sealed again: only its latest seal is expected
            f"and r.sequence_number = (select max(l.sequence_number) from {records} as l "
            "where l.chain_name = r.chain_name and l.model_unique_id = r.model_unique_id "
            "and l.record_key = r.record_key) "
            if spec.superseded_per_key
            else ""
        )
        sealed = (
            "select r.model_unique_id as m, r.record_key as k, r.record_hash as h, "
            "min(r.sequence_number) as seq, count(*) as n "
            f"from {records} as r join {chain} as c on c.chain_name = r.chain_name "
            "and c.model_unique_id = r.model_unique_id and c.sequence_number = r.sequence_number "
            f"where r.chain_name = {p} and c.hashed_columns = {p} {latest}"
            "group by r.model_unique_id, r.record_key, r.record_hash"
        )
        if self.exists(table):
            present = (
                f"select {scope} as m, {key} as k, "
                f"{self.row_hash_sql(columns, 't')} as h, count(*) as n "
                f"from {self.relation(table)} as t "
                f"where exists (select 1 from s where s.m = {scope} and s.k = {key}) "
                "group by 1, 2, 3"
            )
        else:  # the whole table is gone: every sealed record is missing
            present = "select m, k, h, n from s where 1 = 0"
        rows = self.query(
            f"with s as ({sealed}), t as ({present}) "
            "select coalesce(s.m, t.m), coalesce(s.k, t.k), coalesce(s.h, t.h), s.seq, "
            "coalesce(s.n, 0), coalesce(t.n, 0) "
            "from s full outer join t on s.m = t.m and s.k = t.k and s.h = t.h "
            "where coalesce(s.n, 0) <> coalesce(t.n, 0) "
            "order by 1, 2",
            (spec.name, hashed_columns),
        )
        return [
            RecordDiff(
                model_unique_id=str(m),
                record_key=str(k),
                record_hash=None if h is None else str(h),
                sequence_number=None if seq is None else int(seq),
                sealed=int(sn),
                present=int(tn),
            )
            for m, k, h, seq, sn, tn in rows
        ]

    def unsealed(self, spec: ChainSpec) -> tuple[int, list[UnsealedRecord]]:
        """Rows of the table no seal covers: how many, and the first of them."""
        table = self.tables.audited[spec.name]
        if not self.exists(table):
            return 0, []
        key, scope = key_sql(spec, "t"), scope_sql(spec, "t")
        covered = ""
        if self.exists(self.tables.records):
            covered = (
                f"where not exists (select 1 from {self.relation(self.tables.records)} as r "
                f"where r.chain_name = {self._p} and r.model_unique_id = {scope} "
                f"and r.record_key = {key})"
            )
        rows = self.query(
            f"select {scope}, {key}, count(*) over () "
            f"from {self.relation(table)} as t {covered} "
            f"order by 1, 2 limit {UNSEALED_SAMPLE}",
            (spec.name,) if covered else (),
        )
        total = int(rows[0][2]) if rows else 0
        return total, [
            UnsealedRecord(None if m is None else str(m), None if k is None else str(k))
            for m, k, _ in rows
        ]

    def export_records(self, spec: ChainSpec) -> Iterator[tuple[list[str], tuple[Any, ...]]]:
        """Every sealed record of the chain with the table's current row (None when gone):
        ``chain_name, model_unique_id, sequence_number, record_key, record_hash`` then the row's
        columns prefixed ``row.``."""
        if not self.exists(self.tables.records):
            return iter(())
        table = self.tables.audited[spec.name]
        key, scope = key_sql(spec, "t"), scope_sql(spec, "t")
        records = self.relation(self.tables.records)
        if self.exists(table):
            source = (
                f"left join {self.relation(table)} as t "
                f"on {scope} = r.model_unique_id and {key} = r.record_key"
            )
            row_columns = ", t.*"
        else:
            source, row_columns = "", ""
        return self.stream(
            "select r.chain_name, r.model_unique_id, r.sequence_number, r.record_key, "
            f"r.record_hash{row_columns} from {records} as r {source} "
            f"where r.chain_name = {self._p} "
            "order by r.model_unique_id, r.sequence_number, r.record_key",
            (spec.name,),
        )


def _seal(row: tuple[Any, ...]) -> Seal:
    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return Seal(
        chain_name=str(row[0]),
        model_unique_id=str(row[1]),
        sequence_number=int(row[2]),
        invocation_id=text(row[3]),
        record_count=None if row[4] is None else int(row[4]),
        hashed_columns=text(row[5]),
        content_hash=text(row[6]),
        previous_hash=text(row[7]),
        chain_hash=text(row[8]),
        sealed_at=row[9],
    )


def _connect(
    project_dir: Path, profiles_dir: Path | None, target: str | None
) -> tuple[str, str, TrailTables, Any]:
    """The one door to the warehouse: the project's dbt target, connected read-only.

    Returns (dialect, description, tables, DB-API connection).
    """
    from sluice.project import ProjectFlags, load_project

    project = load_project(
        ProjectFlags(project_dir=project_dir, profiles_dir=profiles_dir, target=target)
    )
    wh = project.target
    adapter = wh.adapter_type
    description = wh.where

    def table(var: str | None, default: str) -> str:
        return str(project.var(var, None) or default) if var else default

    tables = TrailTables(
        schema=project.sluice_schema(),
        chain=table(CHAIN_VAR, "sluice_audit_chain"),
        records=table(RECORDS_VAR, "sluice_audit_records"),
        audited={c.name: table(c.table_var, c.default_table) for c in CHAINS},
    )
    creds = wh.credentials
    try:
        if adapter == "duckdb":
            import duckdb

            raw = str(creds.get("path") or "")
            path = Path(raw) if Path(raw).is_absolute() else project.cwd / raw
            if not raw or not path.exists():
                raise InputError(f"{description}: database file not found: run dbt build first")
            connection: Any = duckdb.connect(str(path), read_only=True)
        elif adapter == "postgres":
            import psycopg2  # type: ignore[import-untyped]

            connection = psycopg2.connect(
                host=creds.get("host"),
                port=creds.get("port"),
                user=creds.get("user"),
                password=creds.get("password") or creds.get("pass"),
                dbname=creds.get("dbname") or creds.get("database"),
                connect_timeout=10,
            )
            connection.set_session(readonly=True)
        else:
            raise InputError(
                f"{description}: sluice audit reads DuckDB and PostgreSQL targets, not {adapter!r}"
            )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{description}: cannot connect: {exc}") from None
    return adapter, description, tables, connection


@contextmanager
def open_trail(
    project_dir: Path, *, profiles_dir: Path | None = None, target: str | None = None
) -> Iterator[Trail]:
    """The audit trail of the project's dbt target (DuckDB or PostgreSQL), read-only."""
    dialect, description, tables, connection = _connect(project_dir, profiles_dir, target)
    try:
        yield Trail(dialect, description, tables, connection)
    finally:
        connection.close()
