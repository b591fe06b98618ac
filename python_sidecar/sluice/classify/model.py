"""The run-level failure classes, what happens next for each, and the classified failure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureClass(StrEnum):
    """The run-level failure class of a failed dbt node."""

    TRANSIENT = "transient"
    SOURCE_UNAVAILABLE = "source_unavailable"
    SCHEMA_CHANGE = "schema_change"
    AUTHORIZATION = "authorization"
    DATA_QUALITY = "data_quality"
    PARTIAL_LOAD = "partial_load"
    DEPENDENCY_FAILED = "dependency_failed"
    UNKNOWN = "unknown"


class Action(StrEnum):
    """What ``sluice build`` does with a failure of a class."""

    RETRY = "retry"
    WAIT_FOR_SOURCE = "wait_for_source"
    ESCALATE = "escalate"
    HOLD_AND_ESCALATE = "hold_and_escalate"
    FOLLOW_ROOT_CAUSE = "follow_root_cause"
    ESCALATE_REPEATED = "escalate_repeated"
    """A transient failure that repeated identically: retries stopped early, a person looks."""


@dataclass(frozen=True, slots=True)
class Response:
    """The documented rule for a failure class."""

    action: Action
    retried: bool
    rule: str


RESPONSES: dict[FailureClass, Response] = {
    FailureClass.TRANSIENT: Response(
        Action.RETRY,
        True,
        "Retried with capped exponential backoff and full jitter until it passes or the attempt "
        "or time budget is spent; escalated only if it is still failing then (exit 3).",
    ),
    FailureClass.SOURCE_UNAVAILABLE: Response(
        Action.WAIT_FOR_SOURCE,
        False,
        "Not retried in this run: the source system must deliver first. Escalated to the "
        "source's owner; the next scheduled run picks the data up.",
    ),
    FailureClass.SCHEMA_CHANGE: Response(
        Action.ESCALATE,
        False,
        "Never retried: the same error would repeat. Escalated to the model's owner for a "
        "schema review or a change to the model.",
    ),
    FailureClass.AUTHORIZATION: Response(
        Action.ESCALATE,
        False,
        "Never retried: grants, roles or credentials must be fixed first. Escalated to the "
        "owner (and, through the source override, to the platform team).",
    ),
    FailureClass.DATA_QUALITY: Response(
        Action.HOLD_AND_ESCALATE,
        False,
        "Never retried: publication stays held (the last good data stays in place) and the "
        "owner reviews the quarantined rows or the failing test.",
    ),
    FailureClass.PARTIAL_LOAD: Response(
        Action.ESCALATE,
        False,
        "Not retried automatically: re-running part of a load can write rows twice. Escalated; "
        "`dbt retry` resumes microbatch models by batch once the cause is fixed.",
    ),
    FailureClass.DEPENDENCY_FAILED: Response(
        Action.FOLLOW_ROOT_CAUSE,
        False,
        "Skipped because an upstream node failed: follows its root cause. It reruns with a "
        "retry of a transient root cause; otherwise it waits for the root cause's fix and is "
        "not alerted on its own.",
    ),
    FailureClass.UNKNOWN: Response(
        Action.ESCALATE,
        False,
        "Not retried (an unknown error is treated as structural). Escalated with the full "
        "message; add a pattern to classify it next time.",
    ),
}

REPEATED_RESPONSE = Response(
    Action.ESCALATE_REPEATED,
    False,
    "Failed the same way (same node, same message) on consecutive attempts: retrying again "
    "would repeat it, so retries stopped early. Escalated: find what keeps failing (a query "
    "that always hits its timeout, a lock the same job keeps holding) before the next run.",
)
"""The rule for a transient failure that repeated identically (``Failure.repeated``)."""

# Statuses in run_results.json that count as failed (not skipped).
FAILED_STATUSES = frozenset({"error", "fail", "runtime error", "partial success"})
SKIPPED_STATUS = "skipped"


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed or skipped dbt node, classified.

    ``effective_class`` is the class that decides what happens: the node's own class, or for a
    dependency failure the class of its root causes (transient only when every root cause is).
    """

    unique_id: str
    name: str
    resource_type: str
    status: str
    failure_class: FailureClass
    message: str
    reason: str
    root_causes: tuple[str, ...] = ()
    effective_class: FailureClass = FailureClass.UNKNOWN
    gate_held: bool = False
    repeated: int = 0
    """On how many consecutive attempts, this one included, the node failed with this same
    message, when that stopped the retries early (0 otherwise)."""

    @property
    def is_root(self) -> bool:
        return self.failure_class is not FailureClass.DEPENDENCY_FAILED

    @property
    def response(self) -> Response:
        if self.repeated and self.failure_class is FailureClass.TRANSIENT:
            return REPEATED_RESPONSE
        return RESPONSES[self.failure_class]
