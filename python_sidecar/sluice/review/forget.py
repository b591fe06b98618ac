"""`sluice review forget`: erase one record's evidence everywhere sluice stored it.

The record's exceptions (every rule and copy of one record key of one model) keep their ids,
statuses, classes, rules, counts and times; their evidence is replaced by redaction markers
(:func:`sluice.audit.chain.redaction_marker`: the digest of the value, nothing else of it):

* in the model's quarantine: ``record_key``, ``failed_value``, ``row_json``;
* in the history (``sluice_exception_events``): the events' ``record_key`` and ``reason``;
* in the decisions: the ``reason`` of every decision on those exceptions.

The history and the decisions are sealed by the digests of their evidence, so the seals still
hold (``sluice audit verify`` stays intact). Each exception gets an ``erased`` event (by, reason,
time UTC), which the model's next build seals. One transaction: all of it, or nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sluice.audit.chain import redaction_marker
from sluice.audit.sql import literal, redaction_sql
from sluice.audit.store import trail_tables
from sluice.errors import InputError, SluiceError
from sluice.review.store import ReviewStore
from sluice.warehouse.connection import describe_error
from sluice.warehouse.sluice_tables import query_relation

ERASED: Final = "erased"
_QUARANTINE_EVIDENCE: Final = ("record_key", "failed_value", "row_json")
_EVENT_EVIDENCE: Final = ("record_key", "reason")
_DECISION_EVIDENCE: Final = ("reason",)
"""The ``event_type`` of an erasure."""

_EVENT_COLUMNS: Final = (
    "event_id",
    "exception_id",
    "model_name",
    "model_unique_id",
    "record_key",
    "record_copy",
    "rule_name",
    "error_class",
    "severity",
    "route",
    "owner",
    "from_status",
    "to_status",
    "attempt_count",
    "invocation_id",
    "event_at",
    "actor",
    "reason",
    "event_type",
)


@dataclass(frozen=True, slots=True)
class Erasure:
    model_unique_id: str
    record_key: str
    marker: str
    exceptions: int
    events: int
    decisions: int


def forget(
    store: ReviewStore, model: str, record_key: str, by: str, reason: str, now: datetime
) -> Erasure:
    """Redact the evidence of ``record_key`` of ``model`` (name or unique id), as the module
    says. Refused, nothing written, when no quarantine holds the record, or when a seal that
    hashed evidence in clear (an earlier release's) covers one of its events or decisions."""
    wh = store.wh
    found: list[tuple[str, tuple[Any, ...]]] = []
    sql = (
        f"select {EXCEPTION_COLUMNS} from {{relation}} "
        "where (model_name = %s or model_unique_id = %s) and record_key = %s"
    )
    for relation in store.quarantines():
        found += [
            (relation, r) for r in query_relation(wh, relation, sql, (model, model, record_key))
        ]
    if not found:
        raise InputError(
            f"forget refused, nothing changed: no record {record_key!r} of model {model!r} in "
            "any sluice quarantine (the key as `sluice review list` shows it)"
        )
    ids = sorted({str(r[0]) for _, r in found})
    tables = trail_tables(store.project)
    refuse_clear_seals(store, ids, tables)
    marker = redaction_marker(record_key) or ""
    stamp = now.astimezone(UTC).replace(tzinfo=None)
    erased = redaction_events([r for _, r in found], ERASED, by, reason, stamp)
    try:
        with store.wh.transaction():
            counts = redact_evidence(store, sorted({rel for rel, _ in found}), ids, erased)
    except SluiceError:
        raise
    except Exception as exc:
        raise InputError(
            f"{store.wh.description}: forget failed, nothing changed: {describe_error(exc)}"
        ) from None
    return Erasure(
        str(found[0][1][2]),
        record_key,
        marker,
        len(ids),
        counts.events,
        counts.decisions,
    )


EXCEPTION_COLUMNS: Final = (
    "exception_id, model_name, model_unique_id, record_copy, rule_name, error_class, severity, "
    "route, owner, status, attempt_count, record_key"
)
"""The quarantine's columns :func:`redaction_events` reads, in its order."""


def redaction_events(
    rows: Sequence[tuple[Any, ...]], event_type: str, by: str, reason: str, stamp: datetime
) -> list[tuple[Any, ...]]:
    """One event per exception (a row of :data:`EXCEPTION_COLUMNS`) saying its evidence was
    redacted: the status unchanged, the record key as its marker."""
    return [
        (
            uuid.uuid4().hex,
            str(r[0]),
            str(r[1]),
            str(r[2]),
            redaction_marker(None if r[11] is None else str(r[11])),
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            r[9],
            r[10],
            None,
            stamp,
            by,
            reason,
            event_type,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Redacted:
    events: int
    decisions: int


def redact_evidence(
    store: ReviewStore,
    quarantines: Sequence[str],
    ids: Sequence[str],
    new_events: Sequence[tuple[Any, ...]],
) -> Redacted:
    """Replace the evidence of the exceptions ``ids`` by redaction markers in ``quarantines``,
    the history and the decisions, and append ``new_events``. The caller holds the transaction."""
    wh = store.wh
    project = store.project
    schema = project.sluice_schema()
    events = wh.relation(schema, project.settings.events_table)
    redactions: list[tuple[str, tuple[str, ...]]] = [
        (rel, _QUARANTINE_EVIDENCE) for rel in quarantines
    ]
    if wh.table_exists(schema, project.settings.events_table):
        redactions.append((events, _EVENT_EVIDENCE))
    if wh.table_exists(schema, project.settings.decisions_table):
        redactions.append((store.decisions_relation, _DECISION_EVIDENCE))
    counts = {relation: 0 for relation, _ in redactions}
    marks = ", ".join(["%s"] * len(ids))
    for relation, columns in redactions:
        counts[relation] = _count(store, relation, ids)
        sets = ", ".join(f"{c} = {redaction_sql(c)}" for c in columns)
        wh.execute(f"update {relation} set {sets} where exception_id in ({marks})", list(ids))
    if new_events:
        wh.insert(events, _EVENT_COLUMNS, new_events)
    return Redacted(counts.get(events, 0), counts.get(store.decisions_relation, 0))


def _count(store: ReviewStore, relation: str, ids: Sequence[str]) -> int:
    marks = ", ".join(["%s"] * len(ids))
    rows = store.wh.query(f"select count(*) from {relation} where exception_id in ({marks})", ids)
    return int(rows[0][0])


def refuse_clear_seals(store: ReviewStore, ids: Sequence[str], tables: Any) -> None:
    """A seal made before evidence was sealed by its digest covers the clear text: redacting a
    row it covers would be reported as an edit. Refused, naming the seal."""
    wh = store.wh
    if not ids or not wh.table_exists(tables.schema, tables.records):
        return
    events = wh.relation(store.project.sluice_schema(), store.project.settings.events_table)
    decisions = store.decisions_relation
    records = wh.relation(tables.schema, tables.records)
    chain = wh.relation(tables.schema, tables.chain)
    marks = ", ".join(["%s"] * len(ids))
    checks = [
        ("exception_events", events, "event_id", "record_key:digest"),
        ("decisions", decisions, "decision_id", "reason:digest"),
    ]
    for chain_name, relation, key, digest in checks:
        if not wh.table_exists(tables.schema, tables.audited[chain_name]):
            continue
        rows = wh.query(
            f"select c.model_unique_id, c.sequence_number from {records} as r "
            f"join {chain} as c on c.chain_name = r.chain_name "
            "and c.model_unique_id = r.model_unique_id and c.sequence_number = r.sequence_number "
            f"where r.chain_name = {literal(chain_name)} "
            "and c.hashed_columns not like %s "
            f"and r.record_key in (select cast({key} as varchar) from {relation} "
            f"where exception_id in ({marks}))",
            ["%" + digest + "%", *ids],
        )
        if rows:
            model, seq = rows[0]
            raise InputError(
                f"refused, nothing changed: {tables.audited[chain_name]} rows of this "
                f"record are sealed by seal {seq} of {model}, made before evidence was sealed "
                "by its digest: redacting them would break the audit trail"
            )
