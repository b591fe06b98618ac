"""The warehouse side of the audit trail: read the chain, the sealed records and the audited
tables, read-only.

The row hashes are recomputed by the warehouse with the expression the package sealed them with
(``macros/audit/_sluice_seal.sql``), built here from each seal's ``hashed_columns``, so that a
value's text is the same at the seal and at the check.

The SQL is written for DuckDB, PostgreSQL and Snowflake alike, within Snowflake's documented
limits: correlated subqueries only as EXISTS in a WHERE clause and never under OR (a key's latest
seal is a window over the chain's records, not a correlated scalar subquery), ROW_NUMBER with an
ORDER BY, names quoted as the engine stores them (:func:`sluice.audit.sql.identifier`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

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
from sluice.audit.sql import (
    DIALECTS,
    READ_DIALECTS,
    content_hash_sql,
    identifier,
    key_sql,
    md5_sql,
    row_hash_sql,
    scope_sql,
    stored_name,
    timestamp_text_sql,
)
from sluice.errors import InputError, SluiceError
from sluice.project import Project

if TYPE_CHECKING:
    from sluice.warehouse import Warehouse

CHAIN_VAR: Final = "sluice_audit_chain_table"
RECORDS_VAR: Final = "sluice_audit_records_table"
CHAIN_TABLE: Final = "sluice_audit_chain"
RECORDS_TABLE: Final = "sluice_audit_records"
UNSEALED_SAMPLE: Final = 100
"""How many rows outside every seal are named, per table (all are counted)."""

_SEAL_COLUMNS: Final = (
    "chain_name, model_unique_id, sequence_number, invocation_id, record_count, "
    "hashed_columns, content_hash, previous_hash, chain_hash, sealed_at"
)

_SEAL_OF_RECORD: Final = (
    "c.chain_name = r.chain_name and c.model_unique_id = r.model_unique_id "
    "and c.sequence_number = r.sequence_number"
)
_PAIRING: Final = ("sluice__scope", "sluice__key", "sluice__hash", "sluice__pair")
"""The columns a record and a row are paired by, before the row's own in an export."""


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
    """``duckdb``, ``postgres`` or ``snowflake``."""
    description: str
    tables: TrailTables
    warehouse: Warehouse

    # -- plumbing (``%s`` placeholders: the warehouse turns them into its driver's own) ------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.warehouse.query(sql, params)
        except SluiceError:
            raise
        except Exception as exc:
            raise InputError(f"{self.description}: reading the audit trail failed: {exc}") from None

    def stream(
        self, sql: str, params: Sequence[Any] = ()
    ) -> Iterator[tuple[list[str], tuple[Any, ...]]]:
        """Rows one by one, with the column names, for writing large exports."""
        try:
            yield from self.warehouse.stream(sql, params)
        except SluiceError:
            raise
        except Exception as exc:
            raise InputError(f"{self.description}: reading the audit trail failed: {exc}") from None

    def relation(self, table: str) -> str:
        """``schema.table`` as the package names it, quoted as the engine stores the names."""
        return f"{identifier(self.dialect, self.tables.schema)}.{identifier(self.dialect, table)}"

    def exists(self, table: str) -> bool:
        rows = self.query(
            "select count(*) from information_schema.tables "
            "where table_schema = %s and table_name = %s",
            (stored_name(self.dialect, self.tables.schema), stored_name(self.dialect, table)),
        )
        return bool(rows[0][0])

    @property
    def chains(self) -> tuple[ChainSpec, ...]:
        """The chains this engine's sluice seals: the package's everywhere, the sidecar's (the
        report's and ``sluice build``'s tables) only where it seals them
        (:data:`~sluice.audit.sql.DIALECTS`)."""
        return tuple(c for c in CHAINS if not c.sealed_by_sidecar or self.dialect in DIALECTS)

    def column_names(self, names: Sequence[str]) -> list[str]:
        """Result column names as the package declares them (Snowflake returns the upper-case
        names it stores for unquoted ones)."""
        if self.dialect != "snowflake":
            return list(names)
        return [n.lower() if n.isupper() else n for n in names]

    # -- SQL as the package writes it --------------------------------------------------------

    def _md5(self, expr: str) -> str:
        return md5_sql(expr)

    def key_sql(self, spec: ChainSpec, alias: str) -> str:
        """The record's key of a row of the chain's table, as text."""
        return key_sql(spec, alias, self.dialect)

    def scope_sql(self, spec: ChainSpec, alias: str) -> str:
        """The chain id (``model_unique_id``) of a row of the chain's table."""
        return scope_sql(spec, alias, self.dialect)

    def _records_of_chain(self, spec: ChainSpec) -> str:
        """The chain's records (parameter: the chain's name), as a derived table ``r``; for a
        chain whose keys sluice seals again, with ``latest``: whether a record is of its key's
        latest seal (a window, not a correlated subquery: Snowflake runs those only in WHERE)."""
        records = self.relation(self.tables.records)
        if not spec.superseded_per_key:
            return f"(select a.*, true as latest from {records} as a where a.chain_name = %s) as r"
        return (
            "(select a.*, a.sequence_number = max(a.sequence_number) over (partition by "
            "a.model_unique_id, a.record_key) as latest "
            f"from {records} as a where a.chain_name = %s) as r"
        )

    def row_hash_sql(self, columns: Sequence[HashedColumn], alias: str) -> str:
        """``sluice._sluice_audit_row_hash`` over the seal's columns."""
        return row_hash_sql(self.dialect, columns, alias)

    # -- reads -------------------------------------------------------------------------------

    def seals(self) -> list[Seal]:
        if not self.exists(self.tables.chain):
            return []
        sealed_at_text = timestamp_text_sql(self.dialect, "sealed_at")
        rows = self.query(
            f"select {_SEAL_COLUMNS}, {sealed_at_text} from {self.relation(self.tables.chain)} "
            "order by chain_name, model_unique_id, sequence_number"
        )
        return [_seal(r) for r in rows]

    def digests(self) -> dict[tuple[str, str], dict[int, BatchDigest]]:
        """(chain, model) -> sequence -> what sluice_audit_records holds for that seal."""
        if not self.exists(self.tables.records):
            return {}
        rows = self.query(
            "select chain_name, model_unique_id, sequence_number, count(*), "
            f"{content_hash_sql('record_hash', self.dialect)} "
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
        chain = self.relation(self.tables.chain)
        key, scope = self.key_sql(spec, "t"), self.scope_sql(spec, "t")
        sealed = (
            # a key rewritten by sluice and sealed again: only its latest seal is expected
            "select r.model_unique_id as m, r.record_key as k, r.record_hash as h, "
            "min(r.sequence_number) as seq, count(*) as n "
            f"from {self._records_of_chain(spec)} join {chain} as c "
            "on c.chain_name = r.chain_name and c.model_unique_id = r.model_unique_id "
            "and c.sequence_number = r.sequence_number "
            "where c.hashed_columns = %s and r.latest "
            "group by r.model_unique_id, r.record_key, r.record_hash"
        )
        # a record paired by key alone (a decision sealed by the model that refused it, naming
        # another): its row is found whatever model it names
        same_model = "" if spec.paired_by_key else f"s.m = {scope} and "
        if self.exists(table):
            present = (
                "select min(x.m) as m, x.k, x.h, count(*) as n "
                f"from (select {scope} as m, {key} as k, {self.row_hash_sql(columns, 't')} as h "
                f"from {self.relation(table)} as t "
                f"where exists (select 1 from s where {same_model}s.k = {key})) as x "
                f"group by {'' if spec.paired_by_key else 'x.m, '}x.k, x.h"
            )
        else:  # the whole table is gone: every sealed record is missing
            present = "select m, k, h, n from s where 1 = 0"
        pair = (
            "s.k = t.k and s.h = t.h"
            if spec.paired_by_key
            else "s.m = t.m and s.k = t.k and s.h = t.h"
        )
        rows = self.query(
            f"with s as ({sealed}), t as ({present}) "
            "select coalesce(s.m, t.m), coalesce(s.k, t.k), coalesce(s.h, t.h), s.seq, "
            "coalesce(s.n, 0), coalesce(t.n, 0) "
            f"from s full outer join t on {pair} "
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
        key, scope = self.key_sql(spec, "t"), self.scope_sql(spec, "t")
        covered = ""
        if self.exists(self.tables.records):
            covered = (
                f"where not exists (select 1 from {self.relation(self.tables.records)} as r "
                f"where r.chain_name = %s "
                f"{'' if spec.paired_by_key else f'and r.model_unique_id = {scope} '}"
                f"and r.record_key = {key})"
            )
        later = "false"
        if spec.sealed_later_without is not None:
            later = f"t.{identifier(self.dialect, spec.sealed_later_without)} is null"
        rows = self.query(
            f"select {scope}, {key}, count(*) over (), {later} "
            f"from {self.relation(table)} as t {covered} "
            f"order by 1, 2 limit {UNSEALED_SAMPLE}",
            (spec.name,) if covered else (),
        )
        total = int(rows[0][2]) if rows else 0
        return total, [
            UnsealedRecord(
                None if m is None else str(m), None if k is None else str(k), later=bool(w)
            )
            for m, k, _, w in rows
        ]

    def export_records(
        self, spec: ChainSpec, column_lists: Sequence[str]
    ) -> Iterator[tuple[list[str], tuple[Any, ...]]]:
        """Every sealed record of the chain, once, with the row of its table that holds the
        content it sealed: ``chain_name, model_unique_id, sequence_number, record_key,
        record_hash``, then the row's columns (None, or none at all, when no such row is left:
        removed, edited, or replaced by sluice under a later seal of the key).

        A key may have several rows (the report's status rows share their invocation's key):
        records and rows are paired by key and content hash, one to one. ``column_lists`` are
        the ``hashed_columns`` of the chain's seals; each list's records are paired by the hash
        over its columns. Records of a seal that is gone or names no such list have no row.
        """
        if not self.exists(self.tables.records):
            return
        paired = [
            (text, columns)
            for text in column_lists
            if (columns := parse_hashed_columns(text)) is not None
        ]
        if not self.exists(self.tables.audited[spec.name]):
            paired = []  # the table is gone: no record has a row
        order = "order by 2, 3, 4"
        first = 5 + len(_PAIRING)  # the row's columns come after the pairing's own
        for text, columns in paired:
            for names, row in self.stream(
                f"{self._paired_records_sql(spec, columns)} {order}", (spec.name, text)
            ):
                yield self.column_names(names[:5] + names[first:]), row[:5] + row[first:]
        listed = ", ".join("%s" for _ in paired)
        unpaired = f"and coalesce(c.hashed_columns, '') not in ({listed}) " if paired else ""
        for names, row in self.stream(
            "select r.chain_name, r.model_unique_id, r.sequence_number, r.record_key, "
            f"r.record_hash from {self.relation(self.tables.records)} as r "
            f"left join {self.relation(self.tables.chain)} as c on {_SEAL_OF_RECORD} "
            f"where r.chain_name = %s {unpaired}{order}",
            (spec.name, *(text for text, _ in paired)),
        ):
            yield self.column_names(names), row

    def _paired_records_sql(self, spec: ChainSpec, columns: Sequence[HashedColumn]) -> str:
        """The records sealed with these columns (parameters: the chain, the column list),
        each left-joined to a row that holds its content: the n-th record of a (model, key,
        content hash) to the n-th such row of the table, so that no row is paired twice."""
        m, k, h, n = _PAIRING
        by_model = "" if spec.paired_by_key else f"{m}, "
        same_model = "" if spec.paired_by_key else f"and p.{m} = s.model_unique_id "
        return (
            # a key rewritten by sluice and sealed again: its latest seal's records hold the rows
            "with sealed as ("
            "select r.chain_name, r.model_unique_id, r.sequence_number, r.record_key, "
            f"r.record_hash, r.latest from {self._records_of_chain(spec)} "
            f"join {self.relation(self.tables.chain)} as c on {_SEAL_OF_RECORD} "
            "where c.hashed_columns = %s), "
            "numbered as (select s.*, row_number() over (partition by s.model_unique_id, "
            "s.record_key, s.record_hash, s.latest order by s.sequence_number) as pair_number "
            "from sealed as s), "
            f"hashed as (select {self.scope_sql(spec, 't')} as {m}, "
            f"{self.key_sql(spec, 't')} as {k}, "
            f"{self.row_hash_sql(columns, 't')} as {h}, t.* "
            f"from {self.relation(self.tables.audited[spec.name])} as t), "
            # the rows of one (model, key, hash) are interchangeable: any order pairs them
            f"present as (select row_number() over (partition by {by_model}{k}, {h} "
            f"order by {h}) as {n}, hashed.* from hashed) "
            "select s.chain_name, s.model_unique_id, s.sequence_number, s.record_key, "
            "s.record_hash, p.* from numbered as s left join present as p on s.latest "
            f"{same_model}and p.{k} = s.record_key "
            f"and p.{h} = s.record_hash and p.{n} = s.pair_number"
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
        sealed_at_text=text(row[10]) if len(row) > 10 else None,
    )


def trail_tables(project: Project) -> TrailTables:
    """The trail's tables as the package names them: the schema from ``sluice_schema``, every
    table from its ``sluice_*_table`` var (:meth:`~sluice.project.Project.table_name`). Every
    part of the sidecar that reads or seals the trail takes its names from here."""
    return TrailTables(
        schema=project.sluice_schema(),
        chain=project.table_name(CHAIN_VAR, CHAIN_TABLE),
        records=project.table_name(RECORDS_VAR, RECORDS_TABLE),
        audited={c.name: project.table_name(c.table_var, c.default_table) for c in CHAINS},
    )


@contextmanager
def open_trail(project: Project) -> Iterator[Trail]:
    """The audit trail of the project's dbt target, read-only, opened through the warehouse
    door (:func:`sluice.warehouse.connect`: the project's dbt adapter and profile). The checks
    are written for DuckDB, PostgreSQL and Snowflake; any other target is refused before
    connecting."""
    from sluice.warehouse import connect

    target = project.target
    if target.adapter_type not in READ_DIALECTS:
        raise InputError(
            f"{target.where}: sluice audit reads DuckDB, PostgreSQL and Snowflake targets, "
            f"not {target.adapter_type!r}"
        )
    tables = trail_tables(project)
    with connect(project, read_only=True) as wh:
        yield Trail(wh.adapter_type, wh.description, tables, wh)
