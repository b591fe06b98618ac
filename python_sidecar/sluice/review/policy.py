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
from sluice.review.core import Approval, Decision, ExceptionRow, ModelRules, Requested
from sluice.warehouse.identity import Identity

VAR: Final = "sluice_approval_policy"
GROUPS_VAR: Final = "sluice_approver_groups"
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
    "groups",
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
    groups: tuple[str, ...] | None = None
    """Who may request and approve: members of these groups (None: anyone)."""

    def covers(self, row: ExceptionRow) -> bool:
        return self.matches(
            row.model_name, row.model_unique_id, row.severity, row.rule_name, row.route
        )

    def matches(
        self, model_name: str, model_unique_id: str, severity: str, rule: str, route: str
    ) -> bool:
        """Whether the entry covers a failure of ``rule`` (of this severity and route) in the
        model."""
        return (
            (self.severity is None or severity in self.severity)
            and (self.model is None or bool({model_name, model_unique_id} & set(self.model)))
            and (self.rule is None or rule in self.rule)
            and (self.route is None or route in self.route)
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
    for key in ("severity", "model", "rule", "route", "groups"):
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
        groups=match["groups"],
    )


def parse_groups(value: Any) -> dict[str, tuple[str, ...]]:
    """Var ``sluice_approver_groups``: a mapping of group name to the identities (as the
    warehouse authenticates them) that are its members; an InputError naming the var and the
    group otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(
            f"var {GROUPS_VAR} must map group names to lists of members, got {value!r}"
        )
    groups: dict[str, tuple[str, ...]] = {}
    for name, members in value.items():
        listed: Any = [members] if isinstance(members, str) else members
        if not isinstance(listed, list) or not all(isinstance(m, str) for m in listed):
            raise InputError(
                f"var {GROUPS_VAR}, group {name!r}: expected a name or a list of names, got "
                f"{members!r}"
            )
        groups[str(name)] = tuple(listed)
    return groups


def check_member(
    entry: PolicyEntry,
    identity: Identity,
    groups: Mapping[str, Sequence[str]],
    role_member: Callable[[str], bool | None],
    what: str,
) -> None:
    """Refuse (InputError, nothing recorded) a request or an approval under ``entry`` by an
    identity outside its groups. A group is looked up in var ``sluice_approver_groups`` first,
    else among the warehouse's roles (``role_member``: whether the authenticated identity is a
    member, None when the warehouse has no such role)."""
    if entry.groups is None:
        return
    names = ", ".join(entry.groups)
    refused = f"{what} refused, nothing recorded"
    if identity.user is None:
        raise InputError(
            f"{refused}: policy {entry.name!r} (var {VAR}) lets only members of {names} decide, "
            "and the warehouse authenticated nobody on this connection"
        )
    user = identity.user.casefold()
    for group in entry.groups:
        if group in groups:
            if user in {m.casefold() for m in groups[group]}:
                return
            continue
        member = role_member(group)
        if member is None:
            raise InputError(
                f"{refused}: group {group!r} of policy {entry.name!r} (var {VAR}) is neither in "
                f"var {GROUPS_VAR} nor a role of the warehouse"
            )
        if member:
            return
    raise InputError(
        f"{refused}: {identity.user} is not a member of {names}, the group(s) policy "
        f"{entry.name!r} (var {VAR}) lets decide"
    )


def policy_for(entries: Sequence[PolicyEntry], row: ExceptionRow) -> PolicyEntry:
    """The first entry that covers the exception, else :data:`DEFAULT`."""
    return next((entry for entry in entries if entry.covers(row)), DEFAULT)


def policy_for_model(entries: Sequence[PolicyEntry], model: ModelRules) -> PolicyEntry:
    """What an override of the model's gate needs: of the entries that cover a failure of
    each of its rules (the first per rule, as for an exception), the strictest (the most
    approvers; then the one not counting the requester; then the first)."""
    covering = [
        next(
            (
                e
                for e in entries
                if e.matches(
                    model.model_name, model.model_unique_id, r.severity, r.rule_name, r.route
                )
            ),
            DEFAULT,
        )
        for r in model.rules
    ]
    return max(covering, key=lambda e: (e.approvers, not e.self_approval), default=DEFAULT)


def check_reason(entry: PolicyEntry, reason: str, subject: str) -> None:
    """An InputError when the policy asks the reason to contain a pattern it does not."""
    if entry.reason_pattern is not None and re.search(entry.reason_pattern, reason) is None:
        raise InputError(
            f"refused, nothing recorded: policy {entry.name!r} (var {VAR}) asks the reason of a "
            f"decision on {subject} to contain {entry.reason_pattern!r}; got {reason!r}"
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
        row = rows.get(decision.exception_id or "")
        entry = DEFAULT if row is None else policy_for(entries, row)
        if row is not None:
            check_reason(entry, decision.reason, row.label)
        out.append(replace(decision, policy=entry.name, required_approvers=entry.approvers))
    return tuple(out)


def override_under_policy(
    entries: Sequence[PolicyEntry], decision: Decision, model: ModelRules
) -> tuple[Decision, PolicyEntry]:
    """An override with the policy entry that covers the model and the approvers it needs;
    refused (InputError, nothing recorded) when its reason does not fit."""
    entry = policy_for_model(entries, model)
    check_reason(entry, decision.reason, f"the gate of model {model.model_name}")
    return replace(decision, policy=entry.name, required_approvers=entry.approvers), entry


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
    if requested.applied:
        raise InputError(
            f"{action} refused, nothing recorded: {name} was applied already (an override is "
            "used once)"
        )
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
    ``entry`` (0: accepted, it applies at the next build of the model). ``exception``: the
    exception it decides on (None for an override of the model's gate)."""

    requested: Requested
    model_name: str
    entry: PolicyEntry
    needed: int
    exception: ExceptionRow | None = None

    @property
    def subject(self) -> str:
        """What the decision is about, in words."""
        if self.exception is not None:
            return self.exception.label
        return f"the gate of model {self.model_name} (its next build publishes despite it)"

    @property
    def excluded(self) -> tuple[str, ...]:
        """The identities whose approval would not count: the requester's (counted already, or
        not at all under ``self_approval: false``) and those that approved it."""
        requester = (self.requested.requester,) if self.requested.requester else ()
        return tuple(dict.fromkeys((*requester, *self.requested.approvers)))

    def who_may_approve(self) -> str:
        """Who may give the approvals still needed, in words (empty when none is needed)."""
        if self.needed == 0:
            return ""
        excluded = ", ".join(self.excluded)
        who = (
            "any identity the warehouse authenticates"
            if self.entry.groups is None
            else f"a member of {' or '.join(self.entry.groups)}"
        )
        return who + (f" other than {excluded}" if excluded else "")


def waiting(
    entries: Sequence[PolicyEntry],
    requests: Sequence[Requested],
    find: Callable[[Sequence[str]], Mapping[str, ExceptionRow]],
    model_rules: Callable[[str], ModelRules | None],
) -> list[Waiting]:
    """The decisions recorded after their exception's last status change (overrides: not
    spent by a build yet), not withdrawn, with what each still waits for. ``find``: the
    exceptions by id (one call); ``model_rules``: a model's rules, for an override."""
    rows = find(sorted({r.exception_id for r in requests if r.exception_id is not None}))
    out = []
    for requested in requests:
        if requested.withdrawn or requested.decided_at is None:
            continue
        if requested.decision == "override":
            if requested.applied:
                continue
            model = model_rules(requested.model_unique_id)
            entry = DEFAULT if model is None else policy_for_model(entries, model)
            name = (
                requested.model_unique_id.rsplit(".", 1)[-1] if model is None else model.model_name
            )
            needed = waiting_for(entry, len(requested.approvers))
            out.append(Waiting(requested, name, entry, needed))
            continue
        row = rows.get(requested.exception_id or "")
        if row is None:
            continue
        if row.status_changed_at is not None and requested.decided_at <= row.status_changed_at:
            continue  # applied, or overtaken by a later status change
        entry = policy_for(entries, row)
        needed = waiting_for(entry, len(requested.approvers))
        out.append(Waiting(requested, row.model_name, entry, needed, row))
    return out


def entry_of(
    entries: Sequence[PolicyEntry],
    requested: Requested,
    find: Callable[[Sequence[str]], Mapping[str, ExceptionRow]],
    model_rules: Callable[[str], ModelRules | None],
) -> PolicyEntry:
    """The policy entry a recorded decision is judged under now."""
    if requested.exception_id is None:
        model = model_rules(requested.model_unique_id)
        return DEFAULT if model is None else policy_for_model(entries, model)
    row = find([requested.exception_id]).get(requested.exception_id)
    return DEFAULT if row is None else policy_for(entries, row)
