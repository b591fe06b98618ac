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
redacted the same way (a build writes the history's record keys as markers already, so there
this is the decisions' reasons and an earlier release's events). Each model gets one
``retained`` event per policy applied, counting the exceptions it redacted or deleted and naming
the cut-off, sealed by the model's next build. One transaction; a second run changes nothing.

It all happens in the warehouse, by condition: what is due is a condition on the quarantine's
own columns (closed, ``status_changed_at`` before the cut-off of its model's policy, its evidence
not yet redacted), so the history, the decisions and the events get one statement each, each
quarantine one update and one delete, whatever the number of exceptions; no id travels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sluice.artifacts.models import Manifest
from sluice.audit.sql import redacted_sql
from sluice.errors import InputError, SluiceError
from sluice.project import Project
from sluice.project.load import parse_duration
from sluice.review.forget import QUARANTINE_EVIDENCE, Chosen, redact_evidence, refuse_clear_seals
from sluice.review.store import ReviewStore
from sluice.warehouse.connection import describe_error

RETAINED: Final = "retained"
"""The ``event_type`` of a redaction or deletion by retention."""

CLOSED: Final = ("recovered", "rejected", "withdrawn", "released")
_KEYS: Final = ("redact_after", "delete_after")


@dataclass(frozen=True, slots=True)
class Policy:
    redact_after: timedelta | None = None
    delete_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Policies:
    default: Policy
    models: Mapping[str, Policy] = field(default_factory=dict)
    at_build_end: bool = False
    """``apply_at_build_end`` of the var: ``sluice build`` applies retention after dbt."""


AT_BUILD_END: Final = "apply_at_build_end"


def _policy(raw: Any, where: str, base: Policy, *, project: bool = False) -> Policy:
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        raise InputError(
            f"{where}: expected a mapping with redact_after and/or delete_after, got {raw!r}"
        )
    if not project and AT_BUILD_END in raw:
        raise InputError(
            f"{where}: {AT_BUILD_END} is a project setting: set it in the var sluice_retention"
        )
    known = (*_KEYS, AT_BUILD_END) if project else _KEYS
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        raise InputError(
            f"{where}: unknown key {unknown[0]!r} (expected {', '.join(known[:-1])} "
            f"and/or {known[-1]})"
        )
    values = {k: getattr(base, k) for k in _KEYS}
    for key in _KEYS:
        if key in raw:
            value = raw[key]
            values[key] = None if value is None else parse_duration(value, f"{where}.{key}")
    return Policy(**values)


def _at_build_end(raw: Any) -> bool:
    value = raw.get(AT_BUILD_END, False) if isinstance(raw, Mapping) else False
    if not isinstance(value, bool):
        raise InputError(
            f"var sluice_retention.{AT_BUILD_END}: expected true or false, got {value!r}"
        )
    return value


def load_policies(project: Project, manifest: Manifest | None) -> Policies:
    """The project's policy (var ``sluice_retention``) and each sluice model's own
    (``meta.sluice.retention``), validated: a bad one is an error naming the model and key.
    Without a manifest, the var alone (``sluice build`` checks it so before dbt runs)."""
    raw = project.var("sluice_retention", None)
    default = _policy(raw, "var sluice_retention", Policy(), project=True)
    models: dict[str, Policy] = {}
    for unique_id, node in (manifest.nodes if manifest else {}).items():
        if node.resource_type != "model" or node.config.materialized != "sluice":
            continue
        sluice_meta = node.config.meta.get("sluice")
        if isinstance(sluice_meta, Mapping) and "retention" in sluice_meta:
            where = f"{unique_id}: meta.sluice.retention"
            models[unique_id] = _policy(sluice_meta["retention"], where, default)
    return Policies(default, models, _at_build_end(raw))


@dataclass(frozen=True, slots=True)
class Retention:
    redacted: Mapping[str, int]
    """model_unique_id -> how many exceptions had their evidence redacted."""
    deleted: Mapping[str, int]
    """model_unique_id -> how many exceptions were deleted from its quarantine."""

    @property
    def total_redacted(self) -> int:
        return sum(self.redacted.values())

    @property
    def total_deleted(self) -> int:
        return sum(self.deleted.values())


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


DELETED: Final = "deleted"
REDACTED: Final = "redacted"


def _summary(what: str, cut: datetime, after: timedelta) -> tuple[str, str]:
    """The reason of a model's ``retained`` event, around the count of its exceptions:
    ``retention deleted: 12 exception(s) closed before 2025-12-08 10:00:00 UTC (closed for more
    than 365d)``."""
    return (
        f"retention {what}: ",
        f" exception(s) closed before {cut:%Y-%m-%d %H:%M:%S} UTC "
        f"(closed for more than {_span(after)})",
    )


def _due(relations: Sequence[str], policies: Policies, stamp: datetime) -> list[tuple[str, Chosen]]:
    """(what, the exceptions it is due for) per quarantine relation and policy: the project's
    policy for the models without their own, each model's own for it."""
    own = sorted(policies.models)
    groups: list[tuple[str, tuple[Any, ...], Policy]] = [
        ("model_unique_id = %s", (model,), policies.models[model]) for model in own
    ]
    groups.append(
        (f"model_unique_id not in ({', '.join(['%s'] * len(own))})", tuple(own), policies.default)
        if own
        else ("", (), policies.default)
    )
    closed = f"status in ({', '.join(['%s'] * len(CLOSED))})"
    before = "status_changed_at < cast(%s as timestamp)"
    not_redacted = "not (" + " and ".join(redacted_sql(c) for c in QUARANTINE_EVIDENCE) + ")"
    due: list[tuple[str, Chosen]] = []
    for relation in relations:
        for model, model_params, policy in groups:
            base = " and ".join(x for x in (closed, model) if x)
            params = (*CLOSED, *model_params)
            if policy.delete_after is not None:
                cut = stamp - policy.delete_after
                reason = f"retention deleted: closed for more than {_span(policy.delete_after)}"
                where = f"{base} and {before}"
                summary = _summary(DELETED, cut, policy.delete_after)
                chosen = Chosen(relation, where, (*params, cut), reason, False, summary)
                due.append((DELETED, chosen))
            if policy.redact_after is not None:
                cut = stamp - policy.redact_after
                where = f"{base} and {before} and {not_redacted}"
                values: tuple[Any, ...] = (*params, cut)
                if policy.delete_after is not None:  # not what is deleted anyway
                    where += f" and not ({before})"
                    values += (stamp - policy.delete_after,)
                reason = f"retention redacted: closed for more than {_span(policy.redact_after)}"
                summary = _summary(REDACTED, cut, policy.redact_after)
                chosen = Chosen(relation, where, values, reason, True, summary)
                due.append((REDACTED, chosen))
    return due


def _counts(store: ReviewStore, due: Sequence[tuple[str, Chosen]]) -> list[dict[str, int]]:
    """Per entry of ``due``: model_unique_id -> how many exceptions it chooses (one query)."""
    found: list[dict[str, int]] = [{} for _ in due]
    if not due:
        return found
    sql = " union all ".join(
        f"select {i}, model_unique_id, count(*) from {c.relation} where {c.where} "
        "group by model_unique_id"
        for i, (_, c) in enumerate(due)
    )
    for index, model, count in store.wh.query(sql, [p for _, c in due for p in c.params]):
        found[int(index)][str(model)] = int(count)
    return found


def apply(
    store: ReviewStore, policies: Policies, now: datetime, by: str, *, dry_run: bool = False
) -> Retention:
    """Redact and delete what ``policies`` say is past its time, as the module says; with
    ``dry_run``, only say what would be."""
    wh = store.wh
    stamp = now.astimezone(UTC).replace(tzinfo=None)
    due = _due(store.quarantines(), policies, stamp)
    try:
        with wh.transaction():
            counts = _counts(store, due)
            result = Retention(_sum(counts, due, REDACTED), _sum(counts, due, DELETED))
            work = [c for (_, c), n in zip(due, counts, strict=True) if n]
            if dry_run or not work:
                return result
            refuse_clear_seals(store, work)
            redact_evidence(store, work, RETAINED, by, stamp, per_exception=False)
            for relation in sorted({c.relation for c in work if not c.redact}):
                gone = [c for c in work if not c.redact and c.relation == relation]
                wh.execute(
                    f"delete from {relation} where " + " or ".join(f"({c.where})" for c in gone),
                    [p for c in gone for p in c.params],
                )
    except SluiceError:
        raise
    except Exception as exc:
        raise InputError(
            f"{wh.description}: retention failed, nothing changed: {describe_error(exc)}"
        ) from None
    return result


def _sum(
    counts: Sequence[Mapping[str, int]], due: Sequence[tuple[str, Chosen]], what: str
) -> dict[str, int]:
    total: dict[str, int] = {}
    for (kind, _), found in zip(due, counts, strict=True):
        if kind == what:
            for model, n in found.items():
                total[model] = total.get(model, 0) + n
    return total


def describe(result: Retention, dry_run: bool) -> Sequence[str]:
    """One line per model, then the totals."""
    verb = ("would redact", "would delete") if dry_run else ("redacted", "deleted")
    models = sorted(set(result.redacted) | set(result.deleted))
    lines = [
        f"{m}: {verb[0]} {result.redacted.get(m, 0)}, "
        f"{verb[1]} {result.deleted.get(m, 0)} closed exception(s)"
        for m in models
    ]
    lines.append(
        f"retention: {verb[0]} the evidence of {result.total_redacted}, {verb[1]} "
        f"{result.total_deleted} closed exception(s)"
        + ("" if dry_run or not models else "; sealed at each model's next build")
    )
    return lines
