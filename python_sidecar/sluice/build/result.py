"""What ``sluice build`` returns and raises: the exit codes, the result, the attempts.

Owns the public types of a build (:class:`BuildResult`, :class:`Attempt`, :class:`ReportStep`,
:class:`BuildError`, :class:`Interrupted`) and the rule from failures to an exit code
(:func:`decide_exit_code`). Plain data and one pure function: nothing here runs dbt, reads a
file or writes one.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sluice.classify.model import Failure, FailureClass
from sluice.classify.startup import INVOCATION_TYPE
from sluice.escalate.core import Escalation
from sluice.escalate.webhook import Delivery

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 3
EXIT_BUSY = 4
"""Another ``sluice build`` holds the target folder's lock, or the dbt of a killed one is still
running there: nothing was run or written."""


class BuildError(Exception):
    """A usage or configuration error, or dbt failing to start for a reason that is not
    transient: nothing could be built (exit code 2).

    ``result`` is the build's record (also in ``target/sluice/build.json``) when one could be
    written: not when the project itself is missing.
    """

    def __init__(self, message: str, result: BuildResult | None = None) -> None:
        super().__init__(message)
        self.result = result


EXIT_WRITE_FAILED = 5
"""A file of the build could not be written (a full disk, a quota, a read-only folder)."""


class WriteFailed(Exception):
    """A file of the build (dbt's log, a copy of dbt's artifacts, ``alerts.json``, the record)
    could not be written: the build stopped, dbt stopped first if it was running (exit code 5).

    ``recorded`` is this run's ``build.json`` when that could still be written, else None.
    """

    exit_code = EXIT_WRITE_FAILED

    def __init__(self, message: str, recorded: Path | None = None) -> None:
        super().__init__(message)
        self.recorded = recorded


EXIT_TRAIL_CHANGED = 6
"""The audit trail lost sealed history: the build refused to seal over it."""


class TrailChanged(Exception):
    """The audit trail lost sealed history (a chain shorter than, or different from, the head
    recorded in ``target/sluice/audit_heads.jsonl``, or deleted under rows it sealed): the
    build refused before dbt ran, nothing of it written (exit code 6)."""

    exit_code = EXIT_TRAIL_CHANGED


EXIT_RETENTION_FAILED = 7
"""dbt published everything, but the retention the var ``sluice_retention`` asks of the build
(``apply_at_build_end``) failed: nothing of it changed (docs/privacy.md)."""


class BuildBusy(Exception):
    """Another ``sluice build`` holds the target folder (or a killed build's dbt still runs
    there) and the wait for it ran out: nothing was run, the holder's record is untouched
    (exit code 4)."""

    exit_code = EXIT_BUSY


class Interrupted(BaseException):
    """Raised (by a signal handler, as ``sluice build`` installs) to stop a build.

    :func:`sluice.build.build` stops dbt, writes this run's record as ``interrupted`` and lets
    the exception go on. Any other exception that reaches it while dbt runs
    (``KeyboardInterrupt``, an orchestrator's own) is treated the same way.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.dbt_stopped = False
        """Whether dbt was running when the build was interrupted (and was stopped)."""
        self.recorded: Path | None = None
        """This run's ``build.json`` once the build wrote it; None if it could not (the
        project was not found yet, or its target folder cannot be written)."""

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    kind: str
    """``build``, ``retry`` (``dbt retry``) or ``rerun_selected`` (``dbt build --select``)."""
    dbt_args: tuple[str, ...]
    returncode: int | None
    """dbt's exit status; None when the attempt was interrupted."""
    delay_before: float
    duration_seconds: float
    failures: tuple[Failure, ...]
    """The attempt's failed and skipped nodes; for an attempt that ran no node, one failure
    that stands for the whole invocation (``resource_type`` ``invocation``)."""
    artifacts: Path
    rerun: tuple[str, ...] = ()
    """The nodes this attempt was started to rerun (empty for the first)."""
    started: bool = True
    """Whether dbt got to run nodes (False: it failed before its first node)."""
    interrupted: bool = False
    dbt_invocation_id: str | None = None
    """dbt's own invocation id, from the run results it wrote."""


@dataclass(frozen=True, slots=True)
class ReportStep:
    generated: bool
    note: str | None = None
    result: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class RetentionStep:
    """Retention applied after dbt (``apply_at_build_end``): how many closed exceptions had
    their evidence redacted and were deleted, per model, or why it failed (nothing changed)."""

    applied: bool
    redacted: Mapping[str, int] = field(default_factory=dict)
    deleted: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BuildResult:
    exit_code: int
    outcome: str
    """``published``, ``held`` (structural or data-quality failure), ``transient``,
    ``not_started`` (dbt could not start, not transiently), ``interrupted`` or
    ``usage_error``."""
    project_dir: Path
    target_dir: Path
    attempts: tuple[Attempt, ...]
    failures: tuple[Failure, ...]
    """Failed and skipped nodes of the whole run (a node's latest result wins)."""
    escalations: tuple[Escalation, ...]
    alert_delivery: Delivery
    stopped_because: str
    exposure_statuses: Mapping[str, str]
    exposure_statuses_from: str
    report: ReportStep
    notes: tuple[str, ...] = ()
    started_at: float = 0.0
    """Unix time the build started."""
    invocation_id: str = ""
    """This ``sluice build`` run's id, in ``build.json``, ``alerts.json`` and the metrics."""
    status: str = "finished"
    """``finished``, ``interrupted`` or ``usage_error``."""
    pending_decisions: tuple[Any, ...] = ()
    """Reviewers' decisions still waiting after the build (:class:`sluice.review.policy.Waiting`,
    by model): read from the warehouse after dbt, empty without it."""
    retention: RetentionStep | None = None
    """Retention after dbt, when the project asks for it (``apply_at_build_end``)."""

    @property
    def retries(self) -> int:
        return max(0, len(self.attempts) - 1)

    @property
    def alerts(self) -> tuple[Escalation, ...]:
        return tuple(e for e in self.escalations if e.alert)

    @property
    def root_failures(self) -> tuple[Failure, ...]:
        return tuple(f for f in self.failures if f.is_root)


def decide_exit_code(failures: Sequence[Failure], last_returncode: int | None) -> tuple[int, str]:
    """0 published, 1 held or structural, 2 dbt could not start (not transiently), 3 only
    transient failures left."""
    if not failures:
        if last_returncode == 0:
            return EXIT_OK, "published"
        return EXIT_FAILED, "held"
    roots = [f for f in failures if f.is_root]
    if roots and all(
        f.resource_type == INVOCATION_TYPE and f.failure_class is FailureClass.UNKNOWN
        for f in roots
    ):
        return EXIT_USAGE, "not_started"
    if any(f.effective_class is not FailureClass.TRANSIENT for f in failures):
        return EXIT_FAILED, "held"
    return EXIT_TRANSIENT, "transient"
