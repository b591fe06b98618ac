"""The vocabulary of the impact report, as frozen data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sluice.freshness import SourceFreshness
from sluice.impact import criticality as _criticality


class ExposureStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNKNOWN = "unknown"
    STALE = "stale"
    BLOCKED = "blocked"

    @property
    def rank(self) -> int:
        """Worse is higher: healthy < degraded < unknown < stale < blocked."""
        return _STATUS_RANK[self]


_STATUS_RANK: Final = {
    ExposureStatus.HEALTHY: 0,
    ExposureStatus.DEGRADED: 1,
    ExposureStatus.UNKNOWN: 2,
    ExposureStatus.STALE: 3,
    ExposureStatus.BLOCKED: 4,
}


class ProblemKind(StrEnum):
    """Why a node is a root cause. Each kind has one effect on the exposures it reaches."""

    ERROR = "error"
    """A model, seed or snapshot failed."""
    SKIPPED = "skipped"
    """Skipped with no failing node upstream (e.g. ``--fail-fast``, a failed hook)."""
    TEST_FAIL = "test_fail"
    TEST_ERROR = "test_error"
    TEST_WARN = "test_warn"
    GATE_HELD = "gate_held"
    """A sluice gate held publication: the last good data stays."""
    INPUT_WAITING = "input_waiting"
    """A model that accepts only some load states of its inputs (``meta.sluice.accepts``) did not
    build from a partial input: its last good data stays."""
    ROWS_HELD = "rows_held"
    """Published, with rows held back in quarantine that are not decided yet (a rejected
    record or a duplicate copy set aside is decided, and no problem)."""
    PARTIAL = "partial_success"
    """A microbatch model where some batches failed."""
    SOURCE_LATE = "source_late"
    """Source freshness past ``warn_after`` or ``error_after``."""
    SOURCE_ERROR = "source_error"
    """Source freshness could not be measured."""
    NO_RESULT = "no_result"
    """No known result (never run, or older than the horizon): state unknown."""
    UNKNOWN_STATUS = "unknown_status"
    """A status this sluice version does not know: state unknown, never healthy."""

    @property
    def effect(self) -> ExposureStatus:
        return _EFFECT[self]

    @property
    def is_problem(self) -> bool:
        """A missing run result is reported, but is not a problem of the run."""
        return self is not ProblemKind.NO_RESULT


_EFFECT: Final = {
    ProblemKind.ERROR: ExposureStatus.BLOCKED,
    ProblemKind.SKIPPED: ExposureStatus.BLOCKED,
    ProblemKind.TEST_FAIL: ExposureStatus.BLOCKED,
    ProblemKind.TEST_ERROR: ExposureStatus.BLOCKED,
    ProblemKind.GATE_HELD: ExposureStatus.STALE,
    ProblemKind.INPUT_WAITING: ExposureStatus.STALE,
    ProblemKind.SOURCE_LATE: ExposureStatus.STALE,
    ProblemKind.SOURCE_ERROR: ExposureStatus.UNKNOWN,
    ProblemKind.NO_RESULT: ExposureStatus.UNKNOWN,
    ProblemKind.UNKNOWN_STATUS: ExposureStatus.UNKNOWN,
    ProblemKind.ROWS_HELD: ExposureStatus.DEGRADED,
    ProblemKind.TEST_WARN: ExposureStatus.DEGRADED,
    ProblemKind.PARTIAL: ExposureStatus.DEGRADED,
}

# One rule for the report and the alerts: see sluice.impact.criticality.
CRITICALITIES: Final = _criticality.CRITICALITIES
MATURITY_CRITICALITY: Final = _criticality.MATURITY_CRITICALITY
DEFAULT_CRITICALITY: Final = _criticality.DEFAULT_CRITICALITY


@dataclass(frozen=True, slots=True)
class RuleCount:
    """Rows of one model that failed one rule in one build, and where they went."""

    rule_name: str
    error_class: str
    severity: str
    route: str
    rows: int


@dataclass(frozen=True, slots=True)
class ModelQuarantine:
    """What a sluice model recorded for one invocation (sluice_runs, or its run result)."""

    model_unique_id: str
    rows_in: int | None
    rows_published: int | None
    rows_held: int
    """Rows held back from publication: held rows and duplicate copies set aside."""
    rows_flagged: int
    gate_status: str | None
    gate_message: str | None
    rule_counts: tuple[RuleCount, ...]
    last_passed_at: datetime | None
    """When this model's gate last passed (its last good data), if known."""
    quarantine_relation: str | None = None
    rows_held_open: int | None = None
    """Of ``rows_held``, the rows not decided yet: held by an open or dead-lettered failure.
    None when the build did not record it (a sluice version before it)."""

    @property
    def rows_undecided(self) -> int:
        """Rows held back that are an open problem: every held row when the build did not
        say which are decided."""
        if self.rows_held_open is None:
            return self.rows_held
        return min(self.rows_held_open, self.rows_held)

    @property
    def rows_decided(self) -> int:
        """Rows held back by a decision (a rejected record, a duplicate copy set aside): the
        data is published without them, and that is not a problem."""
        return self.rows_held - self.rows_undecided


@dataclass(frozen=True, slots=True)
class Owner:
    name: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class RootCause:
    id: str
    kind: ProblemKind
    node_id: str
    node_name: str
    resource_type: str
    status: str
    message: str | None
    failures: int | None
    rows_held: int
    owner: str | None
    owner_basis: str | None
    """Who fixes it and why them (the same rule as the alerts of ``sluice build``)."""
    entry_nodes: tuple[str, ...]
    """The graph nodes the problem starts from: the node itself, or the nodes a test checks."""
    affected_nodes: tuple[str, ...]
    """Graph nodes downstream of the entry nodes (exposures excluded)."""
    affected_exposures: tuple[str, ...]
    breached_rules: tuple[str, ...] = ()
    """For rows held back (``rows_held``, ``gate_held``): the sluice rules that held them, most
    severe first, then most rows (the first one with an ``owner`` owns the fix)."""

    @property
    def effect(self) -> ExposureStatus:
        return self.kind.effect


@dataclass(frozen=True, slots=True)
class Reason:
    root_cause_id: str
    kind: ProblemKind
    effect: ExposureStatus
    node_id: str
    path: tuple[str, ...]
    """From the root cause to the exposure, both included."""


@dataclass(frozen=True, slots=True)
class ExposureImpact:
    unique_id: str
    name: str
    label: str | None
    type: str | None
    url: str | None
    maturity: str | None
    criticality: str
    owners: tuple[Owner, ...]
    status: ExposureStatus
    reasons: tuple[Reason, ...]
    rows_held_upstream: int
    models_built_at: datetime | None
    """Oldest last successful build among upstream models, seeds and snapshots."""
    oldest_source_loaded_at: datetime | None
    oldest_source_id: str | None
    data_as_of: datetime | None
    """The older of the two above: how old the oldest data feeding the exposure is."""
    as_of_complete: bool
    """False when some upstream model has no known last successful build."""
    accepts: tuple[str, ...] | None = None
    """The load states of its inputs the exposure accepts (``meta.sluice.accepts``); None: any.
    Rows held upstream make an exposure that accepts only complete input stale, not degraded."""


@dataclass(frozen=True, slots=True)
class NodeStatus:
    unique_id: str
    name: str
    resource_type: str
    run_status: str | None
    problem: ProblemKind | None
    """The node's own problem, when it is a root cause."""
    caused_by: tuple[str, ...]
    """Root causes upstream of this node (ids)."""
    message: str | None
    completed_at: datetime | None
    rows_held: int | None
    rows_flagged: int | None
    gate_status: str | None
    invocation_id: str | None = None
    """The dbt invocation this node's status comes from."""
    command: str | None = None
    """The dbt command of that invocation (``build``, ``run``, ``test`` ...)."""
    result_at: datetime | None = None
    """When that invocation wrote its results."""


@dataclass(frozen=True, slots=True)
class Impact:
    invocation_id: str
    generated_at: datetime
    dbt_version: str | None
    run_generated_at: datetime | None
    freshness_generated_at: datetime | None
    exposures: tuple[ExposureImpact, ...]
    root_causes: tuple[RootCause, ...]
    nodes: tuple[NodeStatus, ...]
    sources: tuple[SourceFreshness, ...]
    quarantine: tuple[ModelQuarantine, ...]
    warnings: tuple[str, ...] = ()
    """Inputs sluice could not use, said out loud (e.g. freshness of another project)."""
    invocations: tuple[tuple[str, str | None, datetime | None], ...] = ()
    """(invocation id, command, generated at) of every invocation the statuses come from."""

    @property
    def has_problems(self) -> bool:
        return any(rc.kind.is_problem for rc in self.root_causes) or any(
            e.status is not ExposureStatus.HEALTHY for e in self.exposures
        )

    def status_counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in ExposureStatus}
        for exposure in self.exposures:
            counts[exposure.status.value] += 1
        return counts
