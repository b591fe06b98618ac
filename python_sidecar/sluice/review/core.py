"""Pure rules of review: which exceptions a request selects, and which decisions may be recorded.

Nothing here touches the warehouse; :mod:`sluice.review.store` reads and writes, the command
line renders (:mod:`sluice.review.render`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from sluice.errors import InputError
from sluice.impact.model import RuleCount
from sluice.review.conflicts import conflict_fields, taken_sides
from sluice.warehouse.identity import Identity

# The exception statuses the package writes (macros/config/sluice_settings.sql), in lifecycle
# order, and its routes.
STATUSES: Final = ("open", "recovered", "released", "rejected", "dead_letter", "withdrawn")
ROUTES: Final = ("quarantine", "manual_review", "deduplicate", "flag")

# decision -> statuses it may be made on (the package applies it only then)
ACTIONS: Final[dict[str, tuple[str, ...]]] = {
    "release": ("open",),
    "reject": ("open",),
    "retry": ("dead_letter", "rejected", "released"),
}
# decision -> its past tense, for messages ("only open exceptions can be rejected")
_PAST_TENSE: Final[dict[str, str]] = {
    "release": "released",
    "reject": "rejected",
    "retry": "retried",
}

# How many refused exceptions a refusal names before it counts the rest.
_NAMED: Final = 10


@dataclass(frozen=True)
class ExceptionRow:
    """One exception of a quarantine: a (record, copy, rule) that failed, with its status."""

    exception_id: str
    model_name: str
    model_unique_id: str
    record_key: str
    record_copy: int
    rule_name: str
    error_class: str
    severity: str
    route: str
    owner: str | None
    status: str
    attempt_count: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    status_changed_at: datetime | None
    message: str | None
    failed_column: str | None
    failed_value: str | None
    source_system: str | None
    target_system: str | None

    @property
    def label(self) -> str:
        """``<id> (<model>, record <key> copy <n>, <rule>)``: enough to tell copies apart."""
        return (
            f"{self.exception_id} ({self.model_name}, record {self.record_key} "
            f"copy {self.record_copy}, {self.rule_name})"
        )


@dataclass(frozen=True)
class Event:
    """One entry of an exception's history (``sluice_exception_events``).

    ``event_type``: ``status`` (a status change made by sluice at build time), ``decided`` (a
    reviewer's decision, at the time it was made, with its author and reason) or ``published``
    (the first passing build that publishes a released record's row). ``from_status`` is None
    for the event that opened the exception.
    """

    event_type: str | None
    from_status: str | None
    to_status: str | None
    event_at: datetime | None
    actor: str | None
    reason: str | None
    attempt_count: int | None
    invocation_id: str | None


@dataclass(frozen=True)
class PendingDecision:
    """A decision recorded after the exception's last status change: the next build of the
    model applies the latest one, if it still fits the exception's status. ``identity``: who
    the warehouse authenticated when it was recorded, and ``identity_check`` what that says of
    ``decided_by`` (``matches``, ``differs``, ``unverified``; None for a decision recorded
    before identities were)."""

    decision_id: str
    decision: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    identity: Identity | None = None
    identity_check: str | None = None
    taken_sides: tuple[tuple[str, str], ...] = ()
    """(field, side) per conflicting field a reviewer said which system is right on."""


@dataclass(frozen=True)
class ExceptionDetail:
    """What ``sluice review show`` prints: the exception, its row, its history."""

    exception: ExceptionRow
    row_json: str | None
    events: tuple[Event, ...]
    pending: tuple[PendingDecision, ...]
    decisions: tuple[PendingDecision, ...] = ()
    """Every decision recorded on the exception, applied or not, with its identity."""


@dataclass(frozen=True)
class Selection:
    """Which exceptions a request means. ``statuses`` None: every status."""

    statuses: tuple[str, ...] | None = ("open",)
    model: str | None = None
    rule: str | None = None
    route: str | None = None
    since: datetime | None = None

    def describe(self) -> str:
        parts = ["status " + ("all" if self.statuses is None else ",".join(self.statuses))]
        for name, value in (("model", self.model), ("rule", self.rule), ("route", self.route)):
            if value is not None:
                parts.append(f"{name} {value}")
        if self.since is not None:
            parts.append(f"since {format_time(self.since)}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Decision:
    decision_id: str
    exception_id: str | None
    """None for an override of a model's gate."""
    model_unique_id: str
    decision: str
    decided_by: str
    reason: str
    decided_at: datetime
    """Aware UTC; stored as naive UTC."""
    identity: Identity
    """Who the warehouse authenticated when the decision was recorded."""
    policy: str | None = None
    """The approval policy's entry that covered the exception when it was requested."""
    required_approvers: int = 1
    taken_sides: tuple[tuple[str, str], ...] = ()
    """A conflict's fields with the side taken on each (``--take``), in the evidence's order."""

    @property
    def identity_check(self) -> str:
        """``matches``, ``differs`` or ``unverified``: ``decided_by`` against the identity."""
        return self.identity.check(self.decided_by)


def format_time(value: datetime | None) -> str:
    """A stored time as ``YYYY-MM-DD HH:MM:SS UTC`` (NULL when there is none)."""
    if value is None:
        return "NULL"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def parse_statuses(text: str | None, default: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """``--status``: one status, several separated by commas, or ``all`` (None: every status)."""
    if text is None:
        return default
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise InputError(
            "--status is empty (expected a status, several separated by commas, or all)"
        )
    if "all" in names:
        if len(names) > 1:
            raise InputError(f"--status {text!r}: 'all' cannot be combined with other statuses")
        return None
    unknown = [name for name in names if name not in STATUSES]
    if unknown:
        raise InputError(
            f"--status {text!r}: unknown status {unknown[0]!r} "
            f"(expected {', '.join(STATUSES)} or all)"
        )
    return tuple(dict.fromkeys(names))


def parse_since(text: str | None) -> datetime | None:
    """``--since``: a date (``2024-05-01``, midnight) or a date and time (ISO 8601), UTC unless
    the text gives an offset."""
    if text is None:
        return None
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--since {text!r} is not a date or a date and time "
            "(expected e.g. 2024-05-01 or 2024-05-01T09:30, UTC)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def make_selection(
    *,
    status: str | None,
    model: str | None = None,
    rule: str | None = None,
    route: str | None = None,
    since: str | None = None,
    default_statuses: tuple[str, ...] | None = ("open",),
) -> Selection:
    """A :class:`Selection` from command-line text, or an InputError naming the bad value."""
    if route is not None and route not in ROUTES:
        raise InputError(f"--route {route!r}: unknown route (expected {', '.join(ROUTES)})")
    for flag, value in (("--model", model), ("--rule", rule)):
        if value is not None and not value.strip():
            raise InputError(f"{flag} is empty")
    return Selection(
        statuses=parse_statuses(status, default_statuses),
        model=model.strip() if model else None,
        rule=rule.strip() if rule else None,
        route=route,
        since=parse_since(since),
    )


def check_author(by: str | None, reason: str | None) -> tuple[str, str]:
    """The decision's author and reason, stripped, or an InputError."""
    if not by or not by.strip():
        raise InputError("a decision needs its author: pass --by NAME")
    if not reason or not reason.strip():
        raise InputError("a decision needs a reason: pass --reason TEXT")
    return by.strip(), reason.strip()


def check_request(
    action: str,
    ids: Sequence[str],
    *,
    status: str | None,
    model: str | None,
    rule: str | None,
    route: str | None,
    since: str | None,
) -> Selection | None:
    """What a decision request decides on: None for exception ids, else the selection of its
    filters. Refused (InputError) when it names neither, both, or a status the decision never
    fits. ``--status`` is required for a bulk decision: the reviewer says which exceptions."""
    if action not in ACTIONS:
        raise InputError(f"unknown decision {action!r} (expected one of {', '.join(ACTIONS)})")
    allowed = ACTIONS[action]
    filters = [
        flag
        for flag, value in (
            ("--status", status),
            ("--model", model),
            ("--rule", rule),
            ("--route", route),
            ("--since", since),
        )
        if value is not None
    ]
    if ids and filters:
        raise InputError(
            f"{action}: give exception ids or filters, not both (got ids and {', '.join(filters)})"
        )
    if ids:
        return None
    if status is None:
        hint = "--status " + ",".join(allowed)
        if not filters:
            raise InputError(
                f"{action}: nothing to decide on: pass exception ids, or filters with {hint} "
                "(and --model, --rule, --route or --since to narrow it)"
            )
        raise InputError(
            f"{action} by {', '.join(filters)}: a bulk decision needs --status too "
            f"(say which exceptions: {hint})"
        )
    selection = make_selection(
        status=status, model=model, rule=rule, route=route, since=since, default_statuses=None
    )
    if selection.statuses is not None:
        unfit = [s for s in selection.statuses if s not in allowed]
        if unfit:
            raise InputError(
                f"{action} --status {status}: a {action} applies only to "
                f"{' or '.join(allowed)} exceptions, not {', '.join(unfit)}; nothing recorded"
            )
    return selection


def plan_decisions(
    action: str,
    found: Sequence[ExceptionRow],
    by: str | None,
    reason: str | None,
    *,
    asked: str,
    identity: Identity,
    now: datetime | None = None,
    takes: Mapping[str | None, str] | None = None,
) -> tuple[Decision, ...]:
    """One decision per exception in ``found``, all or nothing: an InputError when nothing was
    found or when any exception's status does not fit the decision (naming them). ``asked``
    describes the request, for the messages. ``takes`` (release and reject of conflicts between
    two systems): the side that is right per field, recorded with each decision."""
    if action not in ACTIONS:
        raise InputError(f"unknown decision {action!r} (expected one of {', '.join(ACTIONS)})")
    author, why = check_author(by, reason)
    unique = list({row.exception_id: row for row in found}.values())
    if not unique:
        raise InputError(f"{action}: no exception matches {asked}; nothing recorded")
    allowed = ACTIONS[action]
    unfit = [row for row in unique if row.status not in allowed]
    if unfit:
        tail = ", not open" if action in ("release", "reject") else ""
        named = "; ".join(f"{row.label} is {row.status}{tail}" for row in unfit[:_NAMED])
        more = f"; and {len(unfit) - _NAMED} more" if len(unfit) > _NAMED else ""
        others = ", ".join(allowed[:-1])
        either = f"{others} or {allowed[-1]}" if others else allowed[-1]
        rule = f"only {either} exceptions can be {_PAST_TENSE[action]}"
        raise InputError(
            f"{action} refused, nothing recorded: {len(unfit)} of the {len(unique)} "
            f"exception(s) matching {asked} do not fit ({rule}): {named}{more}"
        )
    sides: dict[str, tuple[tuple[str, str], ...]] = {}
    if takes:
        if action not in ("release", "reject"):
            raise InputError(f"--take goes with release or reject, not {action}; nothing recorded")
        for row in unique:
            fields = conflict_fields(row.error_class, row.failed_value)
            sides[row.exception_id] = taken_sides(row.label, fields, takes)
    at = now or datetime.now(UTC)
    return tuple(
        Decision(
            decision_id=uuid.uuid4().hex,
            exception_id=row.exception_id,
            model_unique_id=row.model_unique_id,
            decision=action,
            decided_by=author,
            reason=why,
            decided_at=at,
            identity=identity,
            taken_sides=sides.get(row.exception_id, ()),
        )
        for row in unique
    )


# Load states a reviewer may accept for consumers: every state but a complete one.
ACCEPTABLE_LOADS: Final = ("exception_filtered", "upstream_held", "held", "overridden")


@dataclass(frozen=True)
class Load:
    """One recorded load of a model (``sluice_load_states``): what a build gave its consumers."""

    invocation_id: str
    model_name: str
    model_unique_id: str
    state: str
    as_of: datetime | None
    missing: str | None


def plan_load_acceptances(
    loads: Sequence[Load],
    by: str | None,
    reason: str | None,
    *,
    identity: Identity,
    now: datetime | None = None,
) -> tuple[Decision, ...]:
    """One ``accept_load`` decision per load, all or nothing: refused (InputError, naming the
    load) when a load is complete or recovered, since there is nothing to accept."""
    author, why = check_author(by, reason)
    whole = [load for load in loads if load.state not in ACCEPTABLE_LOADS]
    if whole:
        named = "; ".join(
            f"{load.model_name}'s load {load.invocation_id} is {load.state}" for load in whole
        )
        raise InputError(
            f"accept-load refused, nothing recorded: nothing to accept ({named}; only "
            f"{', '.join(ACCEPTABLE_LOADS)} loads are accepted)"
        )
    at = now or datetime.now(UTC)
    return tuple(
        Decision(
            decision_id=uuid.uuid4().hex,
            exception_id=f"load:{load.invocation_id}",
            model_unique_id=load.model_unique_id,
            decision="accept_load",
            decided_by=author,
            reason=why,
            decided_at=at,
            identity=identity,
        )
        for load in loads
    )


@dataclass(frozen=True)
class ModelRules:
    """A sluice model as its latest build recorded it (``sluice_runs``): its rules, with their
    severities and routes, which the approval policy matches an override of its gate against."""

    model_name: str
    model_unique_id: str
    rules: tuple[RuleCount, ...]


def plan_override(
    model: ModelRules,
    by: str | None,
    reason: str | None,
    *,
    identity: Identity,
    now: datetime | None = None,
) -> Decision:
    """An ``override`` of the model's gate: its next build publishes despite the gate, once
    (the held rows stay in the quarantine)."""
    author, why = check_author(by, reason)
    return Decision(
        decision_id=uuid.uuid4().hex,
        exception_id=None,
        model_unique_id=model.model_unique_id,
        decision="override",
        decided_by=author,
        reason=why,
        decided_at=now or datetime.now(UTC),
        identity=identity,
    )


@dataclass(frozen=True)
class Approval:
    """An approval or a withdrawal of a decision (``sluice_decision_approvals``)."""

    approval_id: str
    decision_id: str
    model_unique_id: str
    action: str
    """``approve`` or ``withdraw``; ``applied``: a build spent the override it approves (written
    by the package)."""
    approved_by: str
    approved_at: datetime
    reason: str
    identity: Identity


@dataclass(frozen=True)
class Requested:
    """A recorded decision with its approvals, as ``review approve|withdraw|pending`` read it."""

    decision_id: str
    exception_id: str | None
    """None for an override of a model's gate."""
    model_unique_id: str
    decision: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    requester: str | None
    """The identity the warehouse authenticated for the request (None: not recorded)."""
    approvals: tuple[Approval, ...]

    @property
    def withdrawn(self) -> bool:
        return any(a.action == "withdraw" for a in self.approvals)

    @property
    def applied(self) -> bool:
        """An override a build spent (its ``applied`` row, written by the package)."""
        return any(a.action == "applied" for a in self.approvals)

    @property
    def approvers(self) -> tuple[str, ...]:
        """The distinct identities other than the requester's that approved it."""
        return tuple(
            dict.fromkeys(
                a.identity.user
                for a in self.approvals
                if a.action == "approve"
                and a.identity.user is not None
                and a.identity.user != (self.requester or "")
            )
        )
