"""Retention: the evidence of closed exceptions is redacted after a while, and closed exceptions
are deleted from their quarantine after a longer while (docs/privacy.md, "Retention").

Settings: the var ``sluice_retention`` for the project, ``meta.sluice.retention`` for a model
(its keys replace the project's), each a mapping with ``redact_after`` and/or ``delete_after``,
durations like ``30d``. An exception is closed when its status is recovered, rejected, withdrawn
or released; its age is the time since ``status_changed_at``. Open and dead-letter exceptions
are never touched.

A redaction is the one of ``sluice review forget`` (:func:`sluice.review.forget.redact_evidence`):
the quarantine's evidence, the history's and the decisions' evidence become redaction markers,
so the trail still verifies. A deleted exception's rows in the history and the decisions stay,
redacted the same way. Each exception changed gets one ``retained`` event, sealed by its model's
next build. One transaction; a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sluice.artifacts.models import Manifest
from sluice.audit.chain import REDACTED_PREFIX
from sluice.audit.store import trail_tables
from sluice.errors import InputError, SluiceError
from sluice.project import Project
from sluice.project.load import parse_duration
from sluice.review.forget import (
    EXCEPTION_COLUMNS,
    redact_evidence,
    redaction_events,
    refuse_clear_seals,
)
from sluice.review.store import ReviewStore
from sluice.warehouse.connection import describe_error
from sluice.warehouse.records import utc
from sluice.warehouse.sluice_tables import query_relation

RETAINED: Final = "retained"
"""The ``event_type`` of a redaction or deletion by retention."""

CLOSED: Final = ("recovered", "rejected", "withdrawn", "released")
_KEYS: Final = ("redact_after", "delete_after")
_CHUNK: Final = 1000


@dataclass(frozen=True, slots=True)
class Policy:
    redact_after: timedelta | None = None
    delete_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Policies:
    default: Policy
    models: Mapping[str, Policy] = field(default_factory=dict)

    def of(self, model_unique_id: str) -> Policy:
        return self.models.get(model_unique_id, self.default)


def _policy(raw: Any, where: str, base: Policy) -> Policy:
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        raise InputError(
            f"{where}: expected a mapping with redact_after and/or delete_after, got {raw!r}"
        )
    unknown = sorted(str(k) for k in raw if k not in _KEYS)
    if unknown:
        raise InputError(
            f"{where}: unknown key {unknown[0]!r} (expected redact_after and/or delete_after)"
        )
    values = {k: getattr(base, k) for k in _KEYS}
    for key in _KEYS:
        if key in raw:
            value = raw[key]
            values[key] = None if value is None else parse_duration(value, f"{where}.{key}")
    return Policy(**values)


def load_policies(project: Project, manifest: Manifest | None) -> Policies:
    """The project's policy (var ``sluice_retention``) and each sluice model's own
    (``meta.sluice.retention``), validated: a bad one is an error naming the model and key."""
    default = _policy(project.var("sluice_retention", None), "var sluice_retention", Policy())
    models: dict[str, Policy] = {}
    for unique_id, node in (manifest.nodes if manifest else {}).items():
        if node.resource_type != "model" or node.config.materialized != "sluice":
            continue
        sluice_meta = node.config.meta.get("sluice")
        if isinstance(sluice_meta, Mapping) and "retention" in sluice_meta:
            where = f"{unique_id}: meta.sluice.retention"
            models[unique_id] = _policy(sluice_meta["retention"], where, default)
    return Policies(default, models)


@dataclass(frozen=True, slots=True)
class Retention:
    redacted: tuple[tuple[str, str], ...]
    """(model_unique_id, exception_id) of each exception whose evidence was redacted."""
    deleted: tuple[tuple[str, str], ...]
    """(model_unique_id, exception_id) of each exception deleted from its quarantine."""


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _redacted(value: Any) -> bool:
    return value is None or str(value).startswith(REDACTED_PREFIX)


def apply(
    store: ReviewStore, policies: Policies, now: datetime, by: str, *, dry_run: bool = False
) -> Retention:
    """Redact and delete what ``policies`` say is past its time, as the module says; with
    ``dry_run``, only say what would be."""
    wh = store.wh
    stamp = now.astimezone(UTC).replace(tzinfo=None)
    closed = ", ".join(["%s"] * len(CLOSED))
    sql = (
        f"select {EXCEPTION_COLUMNS}, status_changed_at, failed_value, row_json "
        f"from {{relation}} where status in ({closed})"
    )
    work: list[tuple[str, tuple[Any, ...], str]] = []  # (relation, row, what)
    for relation in store.quarantines():
        for row in query_relation(wh, relation, sql, CLOSED):
            policy = policies.of(str(row[2]))
            changed = utc(row[12])
            if changed is None:
                continue
            age = now - changed
            if policy.delete_after is not None and age > policy.delete_after:
                work.append(
                    (relation, row, f"deleted: closed for more than {_span(policy.delete_after)}")
                )
            elif (
                policy.redact_after is not None
                and age > policy.redact_after
                and not all(_redacted(v) for v in (row[11], row[13], row[14]))
            ):
                work.append(
                    (relation, row, f"redacted: closed for more than {_span(policy.redact_after)}")
                )
    result = Retention(
        tuple((str(r[2]), str(r[0])) for _, r, what in work if what.startswith("redacted")),
        tuple((str(r[2]), str(r[0])) for _, r, what in work if what.startswith("deleted")),
    )
    if dry_run or not work:
        return result
    ids = [str(r[0]) for _, r, _ in work]
    refuse_clear_seals(store, ids, trail_tables(store.project))
    try:
        with wh.transaction():
            for start in range(0, len(work), _CHUNK):
                chunk = work[start : start + _CHUNK]
                events = [
                    e
                    for _, r, what in chunk
                    for e in redaction_events([r], RETAINED, by, f"retention {what}", stamp)
                ]
                chunk_ids = [str(r[0]) for _, r, _ in chunk]
                relations = sorted({rel for rel, _, _ in chunk})
                redact_evidence(store, relations, chunk_ids, events)
                for relation in relations:
                    gone = [
                        str(r[0])
                        for rel, r, what in chunk
                        if rel == relation and what.startswith("deleted")
                    ]
                    if gone:
                        marks = ", ".join(["%s"] * len(gone))
                        wh.execute(f"delete from {relation} where exception_id in ({marks})", gone)
    except SluiceError:
        raise
    except Exception as exc:
        raise InputError(
            f"{wh.description}: retention failed, nothing changed: {describe_error(exc)}"
        ) from None
    return result


def describe(result: Retention, dry_run: bool) -> Sequence[str]:
    """One line per model, then the totals."""
    verb = ("would redact", "would delete") if dry_run else ("redacted", "deleted")
    models = sorted({m for m, _ in result.redacted} | {m for m, _ in result.deleted})
    lines = [
        f"{m}: {verb[0]} {sum(1 for x, _ in result.redacted if x == m)}, "
        f"{verb[1]} {sum(1 for x, _ in result.deleted if x == m)} closed exception(s)"
        for m in models
    ]
    lines.append(
        f"retention: {verb[0]} the evidence of {len(result.redacted)}, {verb[1]} "
        f"{len(result.deleted)} closed exception(s)"
        + ("" if dry_run or not models else "; sealed at each model's next build")
    )
    return lines
