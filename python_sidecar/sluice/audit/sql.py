"""The audit trail's hashing as SQL text, as the package writes it
(``macros/audit/_sluice_seal.sql``): one definition for the verifier, which recomputes record
hashes in the warehouse, and for the sidecar, which seals its own records with the very same
expressions. DuckDB, PostgreSQL and Snowflake.

Per engine, what dbt's helpers the package uses render to:

* ``dbt.hash``: ``md5(cast(x as <string>))`` everywhere (the string type is ``text`` on
  Snowflake, the same type as ``varchar``); ``dbt.concat`` is ``||``, ``dbt.length`` ``length``.
* ``dbt.listagg``: ``string_agg(x, sep order by ...)`` on DuckDB and PostgreSQL,
  ``listagg(x, sep) within group (order by ...)`` on Snowflake.
* ``sluice.timestamp_text``: ``strftime`` on DuckDB, ``to_char`` with ``US`` on PostgreSQL and
  with ``FF6`` on Snowflake, over ``cast(x as timestamp)`` (``dbt.type_timestamp()`` is
  ``timestamp`` on all three).
* Names: the package writes its table and column names unquoted. PostgreSQL and DuckDB keep them
  as written (lower case); Snowflake stores an unquoted name in upper case, and a quoted name
  must be spelled as stored, so on Snowflake the verifier quotes the upper-case name
  (:func:`stored_name`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sluice.audit.chain import REDACTED_PREFIX, ChainSpec, HashedColumn

DIALECTS: Final = frozenset({"duckdb", "postgres"})
"""The engines on which the sidecar seals the rows it writes itself (:mod:`sluice.warehouse.seal`:
the report's and ``sluice build``'s tables). On any other engine those rows are written
unsealed."""

READ_DIALECTS: Final = DIALECTS | {"snowflake"}
"""The engines whose trail ``sluice audit`` reads: those above, and Snowflake, where the package
seals its own history (exception events, runs, decisions) in every build."""


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def stored_name(dialect: str | None, name: str) -> str:
    """The name the engine stores for a name the package writes unquoted: upper case on
    Snowflake, as written elsewhere."""
    return name.upper() if dialect == "snowflake" else name


def identifier(dialect: str | None, name: str) -> str:
    """A name the package writes unquoted, quoted as the engine stores it (safe from reserved
    words, and exact whatever the engine's case rules)."""
    return quote(stored_name(dialect, name))


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def scope_sql(spec: ChainSpec, alias: str, dialect: str | None = None) -> str:
    """The chain id of a row ``alias`` of the spec's table: its scope column, or the fixed id.
    ``dialect`` None: names as written (DuckDB, PostgreSQL)."""
    if spec.scope_value is not None:
        return literal(spec.scope_value)
    return f"{alias}.{identifier(dialect, spec.scope)}"


def key_sql(spec: ChainSpec, alias: str, dialect: str | None = None) -> str:
    """A row's record key, as the trail stores it."""
    return f"cast({alias}.{identifier(dialect, spec.key)} as varchar)"


def md5_sql(expr: str) -> str:
    return f"md5(cast({expr} as varchar))"


def text_sql(expr: str) -> str:
    """``sluice._sluice_audit_text``: NULL as ``~``, else ``<length>:<text>``."""
    return (
        f"(case when {expr} is null then '~' else "
        f"cast(length({expr}) as varchar) || ':' || {expr} end)"
    )


def timestamp_text_sql(dialect: str, expr: str) -> str:
    """``sluice.timestamp_text``."""
    if dialect == "duckdb":
        return f"strftime({expr}, '%Y-%m-%d %H:%M:%S.%f')"
    if dialect == "snowflake":
        return f"to_char({expr}, 'YYYY-MM-DD HH24:MI:SS.FF6')"
    return f"to_char({expr}, 'YYYY-MM-DD HH24:MI:SS.US')"


def evidence_digest_sql(expr: str) -> str:
    """``sluice._sluice_audit_evidence_digest``: NULL, the digest a redaction marker keeps, or
    the value's md5."""
    text = f"cast({expr} as varchar)"
    n = len(REDACTED_PREFIX)
    return (
        f"(case when substring({text}, 1, {n}) = {literal(REDACTED_PREFIX)} "
        f"then substring({text}, {n + 1}, 32) else {md5_sql(text)} end)"
    )


def redaction_sql(expr: str) -> str:
    """An evidence value replaced by its redaction marker, in the warehouse
    (:func:`sluice.audit.chain.redaction_marker`): NULL and markers stay as they are."""
    text = f"cast({expr} as varchar)"
    n = len(REDACTED_PREFIX)
    return (
        f"(case when {text} is null or substring({text}, 1, {n}) = {literal(REDACTED_PREFIX)} "
        f"then {text} else {literal(REDACTED_PREFIX)} || {md5_sql(text)} end)"
    )


def redacted_sql(expr: str) -> str:
    """Whether an evidence value holds nothing to redact: NULL, or a redaction marker."""
    text = f"cast({expr} as varchar)"
    n = len(REDACTED_PREFIX)
    return f"({text} is null or substring({text}, 1, {n}) = {literal(REDACTED_PREFIX)})"


def row_hash_sql(dialect: str, columns: Sequence[HashedColumn], alias: str) -> str:
    """``sluice._sluice_audit_row_hash`` over the columns, of the row ``alias``."""
    parts = []
    for column in columns:
        col = f"{alias}.{identifier(dialect, column.name)}"
        if column.digest:
            text = evidence_digest_sql(col)
        elif column.timestamp:
            text = timestamp_text_sql(dialect, f"cast({col} as timestamp)")
        else:
            text = f"cast({col} as varchar)"
        parts.append(text_sql(text))
    return md5_sql(" || ".join(parts))


def content_hash_sql(record_hash: str, dialect: str | None = None) -> str:
    """A seal's content hash: the hash of its records' hashes in order (an aggregate)."""
    if dialect == "snowflake":
        return md5_sql(f"listagg({record_hash}, '') within group (order by {record_hash})")
    return md5_sql(f"string_agg({record_hash}, '' order by {record_hash})")


def hashed_columns_text(columns: Sequence[tuple[str, bool]]) -> str:
    """``sluice._sluice_audit_hashed_columns``: names in order, ``:timestamp`` after those
    hashed as timestamps."""
    return ",".join(name + (":timestamp" if timestamp else "") for name, timestamp in columns)
