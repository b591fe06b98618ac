"""Pure rules for reviewers' decisions: which decision may be recorded for which exception."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sluice.errors import InputError

# decision -> statuses it may be made on
ACTIONS: dict[str, tuple[str, ...]] = {
    "release": ("open",),
    "reject": ("open",),
    "retry": ("dead_letter", "rejected", "released"),
}


@dataclass(frozen=True)
class ExceptionRow:
    exception_id: str
    model_name: str
    model_unique_id: str
    record_key: str
    rule_name: str
    error_class: str
    severity: str
    route: str
    owner: str | None
    status: str
    attempt_count: int
    first_seen_at: datetime | None
    message: str | None
    failed_value: str | None


@dataclass(frozen=True)
class Decision:
    decision_id: str
    exception_id: str
    model_unique_id: str
    decision: str
    decided_by: str
    reason: str


def validate_decision(
    action: str, exception_id: str, found: ExceptionRow | None, by: str | None, reason: str | None
) -> Decision:
    """The decision to record, or an InputError saying why it is refused."""
    if action not in ACTIONS:
        raise InputError(f"unknown decision {action!r} (expected one of {', '.join(ACTIONS)})")
    if not by or not by.strip():
        raise InputError("a decision needs its author: pass --by NAME")
    if not reason or not reason.strip():
        raise InputError("a decision needs a reason: pass --reason TEXT")
    if found is None:
        raise InputError(f"no exception {exception_id!r} in any sluice quarantine")
    allowed = ACTIONS[action]
    if found.status not in allowed:
        if action in ("release", "reject"):
            raise InputError(
                f"exception {exception_id} ({found.model_name}, record {found.record_key}) is "
                f"{found.status}, not open: only open exceptions can be {action}d"
            )
        raise InputError(
            f"exception {exception_id} ({found.model_name}, record {found.record_key}) is "
            f"{found.status}: only dead_letter, rejected or released exceptions can be retried"
        )
    return Decision(
        decision_id=uuid.uuid4().hex,
        exception_id=found.exception_id,
        model_unique_id=found.model_unique_id,
        decision=action,
        decided_by=by.strip(),
        reason=reason.strip(),
    )
