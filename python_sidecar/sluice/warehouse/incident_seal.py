"""Sealing the incident changes a report writes into the tamper-evident audit trail.

The report appends incident changes (``sluice_incidents``) and their root causes
(``sluice_incident_causes``); in the same transaction, this seals them as two chains,
``incidents`` and ``incident_causes``, into the package's ``sluice_audit_chain`` and
``sluice_audit_records``, exactly as the package seals its own history
(``macros/audit/_sluice_seal.sql``), so that ``sluice audit verify`` checks them with the same
generic code:

* a chain is per (table, exposure): its ``model_unique_id`` is the exposure's unique id, the
  column ``exposure_unique_id`` of both tables. Changes are tracked per exposure and the verifier
  pairs a table's rows with a chain through one column of the row, so the exposure is the scope
  a row itself names; a fixed project-level id would put every exposure's changes in one chain
  and need a column the tables do not have;
* a record's key is its ``change_id`` (for causes, the change they belong to: a change's causes
  are written, and sealed, together; the verifier counts copies per key and content);
* record hashes are computed by the warehouse with the verifier's own SQL
  (:mod:`sluice.audit.sql`), content hashes too; the chain hash with
  :func:`~sluice.audit.chain_hash`, which the verifier recomputes;
* a seal covers the changes this report wrote, and, on an exposure's first seal, every row of
  that exposure not sealed yet (a history written before the trail is brought into it);
* a report that writes no change writes no seal. On PostgreSQL, a transaction-scoped advisory
  lock serializes reports appending to the chains.

Only on the engines ``sluice audit`` reads (DuckDB, PostgreSQL); on any other target the
incident rows are written unsealed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from sluice.audit.chain import GENESIS, HashedColumn, Seal, chain_hash
from sluice.audit.sql import DIALECTS, content_hash_sql, hashed_columns_text, quote, row_hash_sql
from sluice.audit.store import CHAIN_VAR, RECORDS_VAR
from sluice.warehouse.connection import Warehouse

AUDIT_CHAIN_TABLE: Final = "sluice_audit_chain"
AUDIT_RECORDS_TABLE: Final = "sluice_audit_records"
CHAIN_COLUMNS: Final = (
    ("chain_name", "text"),
    ("model_unique_id", "text"),
    ("sequence_number", "bigint"),
    ("invocation_id", "text"),
    ("record_count", "bigint"),
    ("hashed_columns", "text"),
    ("content_hash", "text"),
    ("previous_hash", "text"),
    ("chain_hash", "text"),
    ("sealed_at", "timestamp"),
)
RECORD_COLUMNS: Final = (
    ("chain_name", "text"),
    ("model_unique_id", "text"),
    ("sequence_number", "bigint"),
    ("record_key", "text"),
    ("record_hash", "text"),
)
SCOPE: Final = "exposure_unique_id"
KEY: Final = "change_id"


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def seal_incident_rows(
    wh: Warehouse,
    schema: str,
    chains: Sequence[tuple[str, str, Sequence[tuple[str, str]]]],
    change_ids: Sequence[str],
    exposures: Sequence[str],
    invocation_id: str,
    *,
    chain_table: str,
    records_table: str,
) -> list[Seal]:
    """Seal the rows of these changes (and an exposure's unsealed history on its first seal).

    ``chains``: (chain name, table, its columns as (name, kind)). Returns the seals written.
    Call it inside the transaction that wrote the rows."""
    if wh.adapter_type not in DIALECTS or not change_ids:
        return []
    wh.ensure_table(schema, chain_table, CHAIN_COLUMNS)
    wh.ensure_table(schema, records_table, RECORD_COLUMNS)
    chain = wh.relation(schema, chain_table)
    records = wh.relation(schema, records_table)
    if wh.adapter_type == "postgres":
        wh.query("select pg_advisory_xact_lock(hashtext(%s))", (f"sluice:audit:{chain}",))
    ids, scopes = sorted(set(change_ids)), sorted(set(exposures))
    hashed: dict[str, str] = {}
    scope, key = quote(SCOPE), f"cast(t.{quote(KEY)} as varchar)"
    for name, table, columns in chains:
        listed = [HashedColumn(n, timestamp=kind == "timestamp") for n, kind in columns]
        hashed[name] = hashed_columns_text([(c.name, c.timestamp) for c in listed])
        wh.execute(
            f"insert into {records} (chain_name, model_unique_id, sequence_number, record_key, "
            "record_hash) "
            f"select %s, t.{scope}, cast((select coalesce(max(c.sequence_number), 0) + 1 "
            f"from {chain} as c where c.chain_name = %s and c.model_unique_id = t.{scope}) "
            f"as bigint), {key}, {row_hash_sql(wh.adapter_type, listed, 't')} "
            f"from {wh.relation(schema, table)} as t "
            f"where t.{scope} in ({_marks(scopes)}) and t.{quote(KEY)} is not null "
            f"and (t.{quote(KEY)} in ({_marks(ids)}) or not exists (select 1 from {chain} as c "
            f"where c.chain_name = %s and c.model_unique_id = t.{scope})) "
            f"and not exists (select 1 from {records} as r where r.chain_name = %s "
            f"and r.model_unique_id = t.{scope} and r.record_key = {key})",
            (name, name, *scopes, *ids, name, name),
        )
    names = [name for name, _, _ in chains]
    batches = wh.query(
        "select r.chain_name, r.model_unique_id, r.sequence_number, count(*), "
        f"{content_hash_sql('r.record_hash')}, max(p.chain_hash) "
        f"from {records} as r left join {chain} as p on p.chain_name = r.chain_name "
        "and p.model_unique_id = r.model_unique_id "
        "and p.sequence_number = r.sequence_number - 1 "
        f"where r.chain_name in ({_marks(names)}) and r.model_unique_id in ({_marks(scopes)}) "
        f"and not exists (select 1 from {chain} as c where c.chain_name = r.chain_name "
        "and c.model_unique_id = r.model_unique_id and c.sequence_number = r.sequence_number) "
        "group by r.chain_name, r.model_unique_id, r.sequence_number "
        "order by 1, 2, 3",
        (*names, *scopes),
    )
    sealed_at = datetime.now(UTC).replace(tzinfo=None)
    seals = []
    for chain_name, model, seq, count, content, previous in batches:
        seal = Seal(
            chain_name=str(chain_name),
            model_unique_id=str(model),
            sequence_number=int(seq),
            invocation_id=invocation_id,
            record_count=int(count),
            hashed_columns=hashed[str(chain_name)],
            content_hash=str(content),
            previous_hash=GENESIS if previous is None else str(previous),
            chain_hash=None,
            sealed_at=sealed_at,
        )
        seals.append(replace(seal, chain_hash=chain_hash(seal)))
    if seals:
        wh.insert(
            chain,
            [n for n, _ in CHAIN_COLUMNS],
            [
                (
                    s.chain_name,
                    s.model_unique_id,
                    s.sequence_number,
                    s.invocation_id,
                    s.record_count,
                    s.hashed_columns,
                    s.content_hash,
                    s.previous_hash,
                    s.chain_hash,
                    s.sealed_at,
                )
                for s in seals
            ],
        )
    return seals


def audit_table_names(wh: Warehouse) -> tuple[str, str]:
    """The trail's two tables, named by the vars the package reads."""

    def table(var: str, default: str) -> str:
        value = wh.project.var(var, None)
        return value.strip() or default if isinstance(value, str) else default

    return table(CHAIN_VAR, AUDIT_CHAIN_TABLE), table(RECORDS_VAR, AUDIT_RECORDS_TABLE)
