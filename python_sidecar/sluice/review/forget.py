"""`sluice review forget`: erase one record's evidence everywhere sluice stored it.

The record's exceptions (every rule and copy of one record key of one model) keep their ids,
statuses, classes, rules, counts and times; their evidence is replaced by redaction markers
(:func:`sluice.audit.chain.redaction_marker`: the digest of the value, nothing else of it):

* in the model's quarantine: ``record_key``, ``failed_value``, ``row_json``;
* in the history (``sluice_exception_events``): the events' ``reason`` (their ``record_key``
  is a marker from the start; an earlier release's in clear is redacted too);
* in the decisions: the ``reason`` of every decision on those exceptions;
* in the report files sluice wrote (:mod:`sluice.privacy.files`): the record's key where they
  list it as a held record.

The history and the decisions are sealed by the digests of their evidence, so the seals still
hold (``sluice audit verify`` stays intact). Each exception gets an ``erased`` event (by, reason,
time UTC), which the model's next build seals. One transaction: all of it, or nothing; the
report files, checked writable before it, are rewritten after it commits.

The redaction is set-based (:func:`redact_evidence`, shared with ``sluice retention apply``):
the exceptions are chosen by a condition on their quarantine's columns, and each table gets one
statement, whatever the number of exceptions.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sluice.audit.chain import redaction_marker
from sluice.audit.sql import literal, md5_sql, redacted_sql, redaction_sql
from sluice.audit.store import trail_tables
from sluice.errors import InputError, SluiceError
from sluice.privacy.files import redact_report_files, report_files
from sluice.review.store import ReviewStore
from sluice.warehouse.connection import describe_error
from sluice.warehouse.sluice_tables import query_relation

ERASED: Final = "erased"
"""The ``event_type`` of an erasure."""

QUARANTINE_EVIDENCE: Final = ("record_key", "failed_value", "row_json")
"""The quarantine's evidence columns."""
_EVENT_EVIDENCE: Final = ("record_key", "reason")
_DECISION_EVIDENCE: Final = ("reason",)

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
    report_files: tuple[Path, ...] = ()
    """The report files whose listing of the record's key was redacted."""


def forget(
    store: ReviewStore, model: str, record_key: str, by: str, reason: str, now: datetime
) -> Erasure:
    """Redact the evidence of ``record_key`` of ``model`` (name or unique id), as the module
    says. Refused, nothing written, when no quarantine holds the record, or when a seal that
    hashed evidence in clear (an earlier release's) covers one of its events or decisions."""
    wh = store.wh
    where = "(model_name = %s or model_unique_id = %s) and record_key = %s"
    params = (model, model, record_key)
    found: list[tuple[str, tuple[Any, ...]]] = []
    for relation in store.quarantines():
        sql = f"select exception_id, model_unique_id from {{relation}} where {where}"
        found += [(relation, r) for r in query_relation(wh, relation, sql, params)]
    if not found:
        raise InputError(
            f"forget refused, nothing changed: no record {record_key!r} of model {model!r} in "
            "any sluice quarantine (the key as `sluice review list` shows it)"
        )
    chosen = [Chosen(rel, where, params, reason) for rel in sorted({rel for rel, _ in found})]
    stamp = now.astimezone(UTC).replace(tzinfo=None)
    files = report_files(store.project.target_path)  # refused here if one cannot be rewritten
    try:
        with wh.transaction():
            refuse_clear_seals(store, chosen)
            events, decisions = _count(store, chosen)
            redact_evidence(store, chosen, ERASED, by, stamp)
    except SluiceError:
        raise
    except Exception as exc:
        raise InputError(
            f"{wh.description}: forget failed, nothing changed: {describe_error(exc)}"
        ) from None
    marker = redaction_marker(record_key) or ""
    ids = sorted({str(r[0]) for _, r in found})
    try:
        rewritten = redact_report_files(files, ids, marker)
    except InputError as exc:
        raise InputError(
            f"forget redacted the record in the warehouse, but not in a report file: {exc}"
        ) from None
    return Erasure(
        str(found[0][1][1]),
        record_key,
        marker,
        len(ids),
        events,
        decisions,
        tuple(rewritten),
    )


@dataclass(frozen=True, slots=True)
class Chosen:
    """The exceptions of one quarantine relation that a condition on its own columns chooses
    (``where``, with ``%s`` placeholders for ``params``; no subquery: it is used in the WHERE
    of an UPDATE and a DELETE, and inside the IN-subqueries of the history's and the
    decisions' updates), and the ``reason`` their events give."""

    relation: str
    where: str
    params: tuple[Any, ...]
    reason: str
    redact: bool = True
    """Whether their evidence in the quarantine is redacted too (not when they are deleted)."""
    summary: tuple[str, str] = ("", "")
    """The text before and after their count in the reason of a summary event."""


def _ids(chosen: Sequence[Chosen]) -> tuple[str, list[Any]]:
    """A query of the ids of the chosen exceptions, and its parameters."""
    sql = " union all ".join(
        f"select exception_id from {c.relation} where {c.where}" for c in chosen
    )
    return sql, [p for c in chosen for p in c.params]


def _event_select(wh: Any, chosen: Chosen) -> str:
    """One event per chosen exception saying its evidence was redacted: the status unchanged,
    the record key as its marker, a new id; ``%s`` for the id's salt, the time, the actor, the
    reason and the event type, then the condition's parameters."""
    text = wh.types["text"]
    columns = {
        "event_id": md5_sql(f"q.exception_id || cast(%s as {text})"),
        "exception_id": "q.exception_id",
        "model_name": "q.model_name",
        "model_unique_id": "q.model_unique_id",
        "record_key": redaction_sql("q.record_key"),
        "record_copy": "q.record_copy",
        "rule_name": "q.rule_name",
        "error_class": "q.error_class",
        "severity": "q.severity",
        "route": "q.route",
        "owner": "q.owner",
        "from_status": "q.status",
        "to_status": "q.status",
        "attempt_count": "q.attempt_count",
        "invocation_id": f"cast(null as {text})",
        "event_at": "cast(%s as timestamp)",
        "actor": f"cast(%s as {text})",
        "reason": f"cast(%s as {text})",
        "event_type": f"cast(%s as {text})",
    }
    select = ", ".join(columns[c] for c in _EVENT_COLUMNS)
    return f"select {select} from {chosen.relation} as q where {chosen.where}"


def redact_evidence(
    store: ReviewStore,
    chosen: Sequence[Chosen],
    event_type: str,
    by: str,
    stamp: datetime,
    *,
    per_exception: bool = True,
) -> None:
    """Replace the evidence of the chosen exceptions by redaction markers in the history, the
    decisions and (those with ``redact``) their quarantines, and append ``event_type`` events:
    one for each exception, or with ``per_exception`` false one per model and entry of
    ``chosen`` counting them (:func:`_summary_select`). A statement per table, whatever the
    number of exceptions. The caller holds the transaction."""
    if not chosen:
        return
    wh = store.wh
    project = store.project
    schema = project.sluice_schema()
    events = wh.relation(schema, project.settings.events_table)
    ids, ids_params = _ids(chosen)
    redactions: list[tuple[str, tuple[str, ...]]] = []
    if wh.table_exists(schema, project.settings.events_table):
        redactions.append((events, _EVENT_EVIDENCE))
    if wh.table_exists(schema, project.settings.decisions_table):
        redactions.append((store.decisions_relation, _DECISION_EVIDENCE))
    for relation, columns in redactions:
        # only the rows still holding a value in clear: a build writes the history's record
        # keys as markers, so there these are decisions' reasons and an earlier release's events
        sets = ", ".join(f"{c} = {redaction_sql(c)}" for c in columns)
        clear = " and ".join(redacted_sql(c) for c in columns)
        wh.execute(
            f"update {relation} set {sets} where not ({clear}) and exception_id in ({ids})",
            ids_params,
        )
    salt = f"|{event_type}|{uuid.uuid4().hex}"
    if per_exception:
        selects = [_event_select(wh, c) for c in chosen]
        params = [p for c in chosen for p in (salt, stamp, by, c.reason, event_type, *c.params)]
    else:
        selects = [_summary_select(wh, c) for c in chosen]
        params = [
            p
            for i, c in enumerate(chosen)
            for p in (f"{salt}|{i}", stamp, by, *c.summary, event_type, *c.params)
        ]
    wh.execute(
        f"insert into {events} ({', '.join(_EVENT_COLUMNS)}) " + " union all ".join(selects),
        params,
    )
    sets = ", ".join(f"{c} = {redaction_sql(c)}" for c in QUARANTINE_EVIDENCE)
    for relation in sorted({c.relation for c in chosen if c.redact}):
        mine = [c for c in chosen if c.redact and c.relation == relation]
        wh.execute(
            f"update {relation} set {sets} where " + " or ".join(f"({c.where})" for c in mine),
            [p for c in mine for p in c.params],
        )


def _summary_select(wh: Any, chosen: Chosen) -> str:
    """One event per model of the chosen exceptions, saying how many there are: no exception,
    record or status of its own, the count between the two parts of ``chosen.summary`` in its
    reason; ``%s`` for the id's salt, the time, the actor, the reason's two parts and the event
    type, then the condition's parameters."""
    text = wh.types["text"]
    none = f"cast(null as {text})"
    count = f"cast(count(*) as {text})"
    columns = {
        "event_id": md5_sql(f"q.model_unique_id || cast(%s as {text})"),
        "model_name": "max(q.model_name)",
        "model_unique_id": "q.model_unique_id",
        "record_copy": "cast(null as integer)",
        "attempt_count": "cast(null as integer)",
        "invocation_id": none,
        "event_at": "cast(%s as timestamp)",
        "actor": f"cast(%s as {text})",
        "reason": f"cast(%s as {text}) || {count} || cast(%s as {text})",
        "event_type": f"cast(%s as {text})",
    }
    select = ", ".join(columns.get(c, none) for c in _EVENT_COLUMNS)
    return (
        f"select {select} from {chosen.relation} as q where {chosen.where} "
        "group by q.model_unique_id"
    )


def _count(store: ReviewStore, chosen: Sequence[Chosen]) -> tuple[int, int]:
    """How many events of the history and decisions the chosen exceptions have."""
    wh = store.wh
    schema = store.project.sluice_schema()
    ids, params = _ids(chosen)
    counts = []
    for table in (store.project.settings.events_table, store.project.settings.decisions_table):
        if not wh.table_exists(schema, table):
            counts.append(0)
            continue
        relation = wh.relation(schema, table)
        rows = wh.query(f"select count(*) from {relation} where exception_id in ({ids})", params)
        counts.append(int(rows[0][0]))
    return counts[0], counts[1]


def refuse_clear_seals(store: ReviewStore, chosen: Sequence[Chosen]) -> None:
    """A seal made before evidence was sealed by its digest covers the clear text: redacting a
    row it covers would be reported as an edit. Refused, naming the seal. Looked for only when
    the trail holds such a seal at all."""
    wh = store.wh
    tables = trail_tables(store.project)
    if not chosen or not wh.table_exists(tables.schema, tables.records):
        return
    events = wh.relation(store.project.sluice_schema(), store.project.settings.events_table)
    decisions = store.decisions_relation
    records = wh.relation(tables.schema, tables.records)
    chain = wh.relation(tables.schema, tables.chain)
    ids, ids_params = _ids(chosen)
    checks = [
        ("exception_events", events, "event_id", "record_key:digest"),
        ("decisions", decisions, "decision_id", "reason:digest"),
    ]
    for chain_name, relation, key, digest in checks:
        if not wh.table_exists(tables.schema, tables.audited[chain_name]):
            continue
        clear = f"c.chain_name = {literal(chain_name)} and c.hashed_columns not like %s"
        if not wh.query(f"select 1 from {chain} as c where {clear} limit 1", ["%" + digest + "%"]):
            continue
        rows = wh.query(
            f"select c.model_unique_id, c.sequence_number from {records} as r "
            f"join {chain} as c on c.chain_name = r.chain_name "
            "and c.model_unique_id = r.model_unique_id and c.sequence_number = r.sequence_number "
            f"where {clear} "
            f"and r.record_key in (select cast({key} as varchar) from {relation} "
            f"where exception_id in ({ids}))",
            ["%" + digest + "%", *ids_params],
        )
        if rows:
            model, seq = rows[0]
            raise InputError(
                f"refused, nothing changed: {tables.audited[chain_name]} rows of this "
                f"record are sealed by seal {seq} of {model}, made before evidence was sealed "
                "by its digest: redacting them would break the audit trail"
            )
