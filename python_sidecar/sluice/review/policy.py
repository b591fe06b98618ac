"""The approval policy (var ``sluice_approval_policy``): what a decision on an exception needs
before a build applies it. Pure: the caller hands in the var's value and the exception.

The package reads the same var at build time (macros/config/_sluice_approval_policy.sql) and
applies a decision only once the policy accepts it; this side refuses a request whose reason
does not fit, an approval the policy does not count, and says what a decision still waits for.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from sluice.errors import InputError
from sluice.review.core import Approval, Decision, ExceptionRow, Requested
from sluice.warehouse.identity import Identity

VAR: Final = "sluice_approval_policy"
SEVERITIES: Final = ("critical", "high", "medium", "low")
_KEYS: Final = (
    "name",
    "severity",
    "model",
    "rule",
    "route",
    "approvers",
    "self_approval",
    "reason_pattern",
)


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    """One entry: which exceptions it covers (None: any), and what a decision on them needs.
    ``approvers``: distinct identities that must approve; ``self_approval``: whether the
    requester's own identity counts as one of them."""

    name: str
    severity: tuple[str, ...] | None = None
    model: tuple[str, ...] | None = None
    rule: tuple[str, ...] | None = None
    route: tuple[str, ...] | None = None
    approvers: int = 1
    self_approval: bool = True
    reason_pattern: str | None = None

    def covers(self, row: ExceptionRow) -> bool:
        return (
            (self.severity is None or row.severity in self.severity)
            and (
                self.model is None or bool({row.model_name, row.model_unique_id} & set(self.model))
            )
            and (self.rule is None or row.rule_name in self.rule)
            and (self.route is None or row.route in self.route)
        )


DEFAULT: Final = PolicyEntry("default")
"""No entry matches: one approver, the requester (the behaviour before policies)."""


def parse_policy(value: Any) -> tuple[PolicyEntry, ...]:
    """The entries of the var's value, or an InputError naming the var, the entry and the key."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InputError(f"var {VAR} must be a list of entries, got {value!r}")
    return tuple(_entry(item, f"var {VAR}, entry {index}") for index, item in enumerate(value, 1))


def _entry(item: Any, at: str) -> PolicyEntry:
    if not isinstance(item, dict):
        raise InputError(f"{at}: expected a mapping, got {item!r}")
    unknown = [key for key in item if key not in _KEYS]
    if unknown:
        raise InputError(f"{at}: unknown key {unknown[0]!r} (expected one of {', '.join(_KEYS)})")
    approvers = item.get("approvers", 1)
    if isinstance(approvers, bool) or not isinstance(approvers, int) or approvers < 1:
        raise InputError(
            f"{at}: key 'approvers' must be a whole number of at least 1, got {approvers!r}"
        )
    self_approval = item.get("self_approval", True)
    if not isinstance(self_approval, bool):
        raise InputError(f"{at}: key 'self_approval' must be true or false, got {self_approval!r}")
    pattern = item.get("reason_pattern")
    if pattern is not None:
        if not isinstance(pattern, str):
            raise InputError(f"{at}: key 'reason_pattern' must be text, got {pattern!r}")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InputError(
                f"{at}: key 'reason_pattern' is not a regular expression: {exc}"
            ) from None
    match: dict[str, tuple[str, ...] | None] = {}
    for key in ("severity", "model", "rule", "route"):
        raw = item.get(key)
        if raw is None:
            match[key] = None
            continue
        values: list[Any] = [raw] if isinstance(raw, str) else raw
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) for v in values)
        ):
            raise InputError(f"{at}: key {key!r} must be a name or a list of names, got {raw!r}")
        if key == "severity":
            for severity in values:
                if severity not in SEVERITIES:
                    raise InputError(
                        f"{at}: key 'severity': unknown severity {severity!r} "
                        f"(expected one of {', '.join(SEVERITIES)})"
                    )
        match[key] = tuple(values)
    return PolicyEntry(
        name=str(item.get("name") or at.rsplit(", ", 1)[-1]),
        severity=match["severity"],
        model=match["model"],
        rule=match["rule"],
        route=match["route"],
        approvers=approvers,
        self_approval=self_approval,
        reason_pattern=pattern,
    )


def policy_for(entries: Sequence[PolicyEntry], row: ExceptionRow) -> PolicyEntry:
    """The first entry that covers the exception, else :data:`DEFAULT`."""
    return next((entry for entry in entries if entry.covers(row)), DEFAULT)


def check_reason(entry: PolicyEntry, reason: str, row: ExceptionRow) -> None:
    """An InputError when the policy asks the reason to contain a pattern it does not."""
    if entry.reason_pattern is not None and re.search(entry.reason_pattern, reason) is None:
        raise InputError(
            f"refused, nothing recorded: policy {entry.name!r} (var {VAR}) asks the reason of a "
            f"decision on {row.label} to contain {entry.reason_pattern!r}; got {reason!r}"
        )


def waiting_for(entry: PolicyEntry, approvers: int) -> int:
    """How many more distinct approvers a decision needs, given ``approvers`` identities other
    than the requester's that approved it."""
    counted = approvers + (1 if entry.self_approval else 0)
    return max(entry.approvers - counted, 0)


def under_policy(
    entries: Sequence[PolicyEntry], decisions: Sequence[Decision], rows: dict[str, ExceptionRow]
) -> tuple[Decision, ...]:
    """Each decision with the policy entry that covers its exception and the approvers it
    needs; refused (InputError, nothing recorded) when a reason does not fit its entry."""
    out = []
    for decision in decisions:
        row = rows.get(decision.exception_id)
        entry = DEFAULT if row is None else policy_for(entries, row)
        if row is not None:
            check_reason(entry, decision.reason, row)
        out.append(replace(decision, policy=entry.name, required_approvers=entry.approvers))
    return tuple(out)


def plan_approval(
    action: str,
    requested: Requested,
    entry: PolicyEntry,
    by: str,
    reason: str,
    identity: Identity,
    *,
    now: datetime | None = None,
) -> Approval:
    """An approval (``approve``) or a withdrawal (``withdraw``) of a decision, or an
    InputError saying why the policy does not take it (nothing recorded)."""
    name = f"decision {requested.decision_id}"
    if requested.withdrawn:
        raise InputError(f"{action} refused, nothing recorded: {name} was withdrawn")
    if action == "approve":
        if identity.user is None:
            raise InputError(
                "approve refused, nothing recorded: the warehouse authenticated nobody on this "
                "connection, and an approval counts an authenticated identity"
            )
        if identity.user == requested.requester and not entry.self_approval:
            raise InputError(
                f"approve refused, nothing recorded: {identity.user} requested {name}, and "
                f"policy {entry.name!r} (var {VAR}) does not let a requester approve their own "
                "decision"
            )
        if identity.user in requested.approvers or identity.user == requested.requester:
            raise InputError(
                f"approve refused, nothing recorded: {identity.user} already counts for {name} "
                "(an approver counts once)"
            )
    return Approval(
        approval_id=uuid.uuid4().hex,
        decision_id=requested.decision_id,
        model_unique_id=requested.model_unique_id,
        action=action,
        approved_by=by,
        approved_at=now or datetime.now(UTC),
        reason=reason,
        identity=identity,
    )


@dataclass(frozen=True, slots=True)
class Waiting:
    """A decision not applied yet and not withdrawn: ``needed`` more distinct approvers under
    ``entry`` (0: accepted, it applies at the next build of the model)."""

    requested: Requested
    exception: ExceptionRow
    entry: PolicyEntry
    needed: int


def waiting(
    entries: Sequence[PolicyEntry],
    requests: Sequence[Requested],
    find: Callable[[Sequence[str]], Mapping[str, ExceptionRow]],
) -> list[Waiting]:
    """The decisions recorded after their exception's last status change, not withdrawn, with
    what each still waits for. ``find``: the exceptions by id (one call)."""
    rows = find(sorted({r.exception_id for r in requests}))
    out = []
    for requested in requests:
        row = rows.get(requested.exception_id)
        if row is None or requested.withdrawn or requested.decided_at is None:
            continue
        if row.status_changed_at is not None and requested.decided_at <= row.status_changed_at:
            continue  # applied, or overtaken by a later status change
        entry = policy_for(entries, row)
        out.append(Waiting(requested, row, entry, waiting_for(entry, len(requested.approvers))))
    return out
