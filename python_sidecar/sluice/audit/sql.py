"""The audit trail's hashing as SQL text, as the package writes it
(``macros/audit/_sluice_seal.sql``): one definition for the verifier, which recomputes record
hashes in the warehouse, and for the sidecar, which seals its own records with the very same
expressions. DuckDB and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sluice.audit.chain import ChainSpec, HashedColumn

DIALECTS: Final = frozenset({"duckdb", "postgres"})
"""The engines whose hashing SQL is written here (those ``sluice audit`` reads)."""


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def scope_sql(spec: ChainSpec, alias: str) -> str:
    """The chain id of a row ``alias`` of the spec's table: its scope column, or the fixed id."""
    if spec.scope_value is not None:
        return literal(spec.scope_value)
    return f"{alias}.{quote(spec.scope)}"


def key_sql(spec: ChainSpec, alias: str) -> str:
    """A row's record key, as the trail stores it."""
    return f"cast({alias}.{quote(spec.key)} as varchar)"


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
    return f"to_char({expr}, 'YYYY-MM-DD HH24:MI:SS.US')"


def row_hash_sql(dialect: str, columns: Sequence[HashedColumn], alias: str) -> str:
    """``sluice._sluice_audit_row_hash`` over the columns, of the row ``alias``."""
    parts = []
    for column in columns:
        col = f"{alias}.{quote(column.name)}"
        text = (
            timestamp_text_sql(dialect, f"cast({col} as timestamp)")
            if column.timestamp
            else f"cast({col} as varchar)"
        )
        parts.append(text_sql(text))
    return md5_sql(" || ".join(parts))


def content_hash_sql(record_hash: str) -> str:
    """A seal's content hash: the hash of its records' hashes in order (an aggregate)."""
    return md5_sql(f"string_agg({record_hash}, '' order by {record_hash})")


def hashed_columns_text(columns: Sequence[tuple[str, bool]]) -> str:
    """``sluice._sluice_audit_hashed_columns``: names in order, ``:timestamp`` after those
    hashed as timestamps."""
    return ",".join(name + (":timestamp" if timestamp else "") for name, timestamp in columns)
