"""Sealing the rows ``sluice report`` writes into the tamper-evident audit trail.

The report writes two kinds of record, and seals them in the transaction that writes them, into
the package's ``sluice_audit_chain`` and ``sluice_audit_records``, exactly as the package seals
its own history (``macros/audit/_sluice_seal.sql``), so that ``sluice audit verify`` checks them
with the same generic code. Which table is which chain, which column scopes a chain and which
keys a record is :data:`sluice.audit.chain.CHAINS`; the verifier pairs a table's rows with a
chain through the same :class:`~sluice.audit.chain.ChainSpec`.

* Incident changes (``sluice_incidents``, ``sluice_incident_causes``; chains ``incidents`` and
  ``incident_causes``): a chain per (table, exposure): its ``model_unique_id`` is the
  exposure's unique id, the column ``exposure_unique_id`` of both tables, so the exposure is the
  scope a row itself names. A record's key is its ``change_id`` (for causes, the change they
  belong to: a change's causes are written, and sealed, together; the verifier counts copies per
  key and content).
* The report's status rows (``sluice_exposure_status``, ``sluice_node_status``,
  ``sluice_source_freshness``; chains ``exposure_status``, ``node_status``,
  ``source_freshness``): the three tables share no column naming an exposure (their rows are
  per exposure, per node, per source), so each is one chain for the whole project, whose
  ``model_unique_id`` is the fixed :data:`~sluice.audit.chain.REPORT_SCOPE`; the verifier gives
  every row of these tables that chain id (``ChainSpec.scope_value``), not a column's value. A
  record's key is the row's ``invocation_id`` (the dbt invocation reported): a report's rows are
  written, and sealed, together. Reporting an invocation again replaces its rows (the report's
  documented behaviour) and seals the new ones in a new seal of the chain; the verifier expects
  in the table only the records of a key's latest seal (``ChainSpec.superseded_per_key``), so a
  deletion, edit or insertion that no seal records is still found.

For both:

* record hashes are computed by the warehouse with the verifier's own SQL
  (:mod:`sluice.audit.sql`), content hashes too; the chain hash with
  :func:`~sluice.audit.chain_hash`, which the verifier recomputes;
* a seal covers the rows this report wrote, and, on a chain's first seal, every row of that
  chain not sealed yet (a history written before the trail is brought into it);
* a report that writes nothing to a table seals nothing for it. On PostgreSQL, a
  transaction-scoped advisory lock serializes reports appending to the chains.

Only on the engines ``sluice audit`` reads (DuckDB, PostgreSQL); on any other target the rows
are written unsealed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from sluice.audit.chain import CHAINS, GENESIS, ChainSpec, HashedColumn, Seal, chain_hash
from sluice.audit.sql import (
    DIALECTS,
    content_hash_sql,
    hashed_columns_text,
    key_sql,
    quote,
    row_hash_sql,
    scope_sql,
)
from sluice.warehouse.connection import Warehouse

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


@dataclass(frozen=True, slots=True)
class SealedTable:
    """A table to seal: its chain (by name in :data:`~sluice.audit.chain.CHAINS`), its actual
    name, and its columns as (name, kind), all hashed."""

    chain: str
    table: str
    columns: Sequence[tuple[str, str]]

    @property
    def spec(self) -> ChainSpec:
        return next(c for c in CHAINS if c.name == self.chain)


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def seal_rows(
    wh: Warehouse,
    schema: str,
    tables: Sequence[SealedTable],
    keys: Sequence[str],
    scopes: Sequence[str],
    invocation_id: str,
    *,
    chain_table: str,
    records_table: str,
) -> list[Seal]:
    """Seal the rows with these keys in these chains' scopes (and, on a chain's first seal, the
    chain's rows not sealed yet). ``scopes`` are the chain ids of the rows written (for a table
    with a fixed chain id, that id). Returns the seals written. Call it inside the transaction
    that wrote the rows."""
    if wh.adapter_type not in DIALECTS or not keys:
        return []
    wh.ensure_table(schema, chain_table, CHAIN_COLUMNS)
    wh.ensure_table(schema, records_table, RECORD_COLUMNS)
    chain = wh.relation(schema, chain_table)
    records = wh.relation(schema, records_table)
    if wh.adapter_type == "postgres":
        wh.query("select pg_advisory_xact_lock(hashtext(%s))", (f"sluice:audit:{chain}",))
    ids, scopes = sorted(set(keys)), sorted(set(scopes))
    hashed: dict[str, str] = {}
    for sealed in tables:
        spec = sealed.spec
        scope, key, column = scope_sql(spec, "t"), key_sql(spec, "t"), quote(spec.key)
        listed = [HashedColumn(n, timestamp=kind == "timestamp") for n, kind in sealed.columns]
        hashed[spec.name] = hashed_columns_text([(c.name, c.timestamp) for c in listed])
        unsealed = (
            f"not exists (select 1 from {records} as r where r.chain_name = %s "
            f"and r.model_unique_id = {scope} and r.record_key = {key})"
        )
        # rows of a key sluice rewrites (superseded_per_key) are sealed again, each time
        written = f"t.{column} in ({_marks(ids)})"
        written_params: tuple[Any, ...] = (*ids,)
        if not spec.superseded_per_key:
            written = f"{written} and {unsealed}"
            written_params = (*ids, spec.name)
        wh.execute(
            f"insert into {records} (chain_name, model_unique_id, sequence_number, record_key, "
            "record_hash) "
            f"select %s, {scope}, cast((select coalesce(max(c.sequence_number), 0) + 1 "
            f"from {chain} as c where c.chain_name = %s and c.model_unique_id = {scope}) "
            f"as bigint), {key}, {row_hash_sql(wh.adapter_type, listed, 't')} "
            f"from {wh.relation(schema, sealed.table)} as t "
            f"where {scope} in ({_marks(scopes)}) and t.{column} is not null "
            f"and (({written}) or (not exists (select 1 from {chain} as c "
            f"where c.chain_name = %s and c.model_unique_id = {scope}) and {unsealed}))",
            (spec.name, spec.name, *scopes, *written_params, spec.name, spec.name),
        )
    names = [t.chain for t in tables]
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
