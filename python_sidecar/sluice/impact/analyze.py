"""From run results, freshness and quarantine counts to the status of every exposure.

:func:`analyze` is a short sequence of named steps, each a function of its own: the counts
merged (:func:`sluice.impact.quarantine.quarantine_counts`), source freshness
(:func:`freshness_of`), the roots found (:func:`sluice.impact.walk.find_roots`), their reach
to nodes and exposures (:func:`reach_of`), the root causes with their owners
(:func:`root_causes`), each exposure's status and data age (:func:`exposure_impacts`) and each
node's status (:func:`node_statuses`).

Owns the assembly of :class:`sluice.impact.model.Impact`. It reads only the decoded artifacts
and the counts it is handed; storage, alerting, the report and incidents are callers, never
imported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sluice.artifacts.history import NodeResult
from sluice.artifacts.models import Exposure, Manifest, RunResults, SourcesResults
from sluice.freshness import SourceFreshness, source_freshness
from sluice.freshness.sources import as_utc
from sluice.impact.criticality import exposure_accepts, exposure_criticality
from sluice.impact.model import (
    CRITICALITIES,
    ExposureImpact,
    ExposureStatus,
    Impact,
    ModelQuarantine,
    NodeStatus,
    ProblemKind,
    Reason,
    RootCause,
    RuleCount,
)
from sluice.impact.owners import exposure_owners, resolve_owner
from sluice.impact.quarantine import (
    COUNTS_MARK,
    SLUICE_CODE,
    quarantine_counts,
    quarantine_from_run_results,
)
from sluice.impact.walk import (
    GATE_HELD_MARK,
    NO_AGE,
    TEST_KINDS,
    Analysis,
    Root,
    bits,
    completed_at,
    find_roots,
)
from sluice.lineage import exposures_reached

__all__ = [
    "COUNTS_MARK",
    "GATE_HELD_MARK",
    "SLUICE_CODE",
    "Reach",
    "analyze",
    "exposure_impacts",
    "exposure_owners",
    "find_roots",
    "freshness_of",
    "node_statuses",
    "quarantine_counts",
    "quarantine_from_run_results",
    "reach_of",
    "root_causes",
]

_ROW_LEVEL = frozenset({ProblemKind.GATE_HELD, ProblemKind.ROWS_HELD})


def analyze(
    manifest: Manifest,
    run_results: RunResults,
    *,
    generated_at: datetime,
    sources: SourcesResults | None = None,
    quarantine: Mapping[str, ModelQuarantine] | None = None,
    provenance: Mapping[str, NodeResult] | None = None,
    warnings: tuple[str, ...] = (),
    invocations: tuple[tuple[str, str | None, datetime | None], ...] = (),
    source_owners: Mapping[str, str] | None = None,
    default_owner: str = "unowned",
) -> Impact:
    """The impact of the known results on every exposure of the manifest.

    ``run_results`` holds each node's latest known result (one invocation's, or several merged
    by :mod:`sluice.artifacts.history`, with ``provenance`` saying where each came from).
    ``quarantine`` (from the warehouse's ``sluice_runs``) takes precedence over the counts a
    sluice model states in its run result. Owners follow :func:`sluice.impact.owners.
    resolve_owner`, the rule ``sluice build`` alerts with.
    """
    held = quarantine_counts(run_results, quarantine)
    freshness, foreign = freshness_of(manifest, sources)
    state = find_roots(manifest, run_results, freshness, held)
    reach = reach_of(state)
    causes = root_causes(
        state, reach, held, source_owners=source_owners, default_owner=default_owner
    )
    return Impact(
        invocation_id=run_results.metadata.invocation_id or "",
        generated_at=generated_at,
        dbt_version=run_results.metadata.dbt_version,
        run_generated_at=as_utc(run_results.metadata.generated_at),
        freshness_generated_at=as_utc(sources.metadata.generated_at) if sources else None,
        exposures=exposure_impacts(state, reach),
        root_causes=causes,
        nodes=node_statuses(state, reach, held, run_results, provenance or {}),
        sources=freshness,
        quarantine=tuple(held[k] for k in sorted(held)),
        warnings=(*warnings, *foreign),
        invocations=invocations,
    )


def freshness_of(
    manifest: Manifest, sources: SourcesResults | None
) -> tuple[tuple[SourceFreshness, ...], tuple[str, ...]]:
    """Each source's freshness, and a warning for results of sources not in the manifest."""
    freshness = source_freshness(manifest, sources)
    foreign = sorted(
        {r.unique_id for r in sources.results} - set(manifest.sources) if sources else set()
    )
    if not foreign:
        return freshness, ()
    return freshness, (
        f"sources.json has freshness results for {len(foreign)} source(s) that are not in "
        f"this project's manifest, ignored (another project's, or a renamed source?): "
        + ", ".join(foreign[:5])
        + (", ..." if len(foreign) > 5 else ""),
    )


@dataclass(frozen=True, slots=True)
class Reach:
    """Where each root cause reaches, by the root's index in :attr:`Analysis.roots`."""

    root_ids: tuple[str, ...]
    affected_nodes: tuple[tuple[str, ...], ...]
    affected_exposures: tuple[tuple[str, ...], ...]
    caused_by: Mapping[str, tuple[str, ...]]
    """The root causes upstream of a node, by id."""


def _root_id(root: Root) -> str:
    return f"{root.kind.value}:{root.node_id}"


def reach_of(state: Analysis) -> Reach:
    """The nodes and exposures each root cause reaches, and the causes upstream of each node."""
    root_ids = tuple(_root_id(root) for root in state.roots)
    affected_nodes: list[list[str]] = [[] for _ in state.roots]
    affected_exposures: list[list[str]] = [[] for _ in state.roots]
    caused_by: dict[str, tuple[str, ...]] = {}
    exposures = state.manifest.exposures
    for node_id in state.graph.order:
        mask = state.total[node_id]
        if not mask:
            continue
        upstream = [i for i in bits(mask) if state.roots[i].node_id != node_id]
        target = affected_exposures if node_id in exposures else affected_nodes
        for index in upstream:
            target[index].append(node_id)
        caused_by[node_id] = tuple([root_ids[i] for i in upstream])
    return Reach(
        root_ids,
        tuple(tuple(n) for n in affected_nodes),
        tuple(tuple(e) for e in affected_exposures),
        caused_by,
    )


def _breached(counts: tuple[RuleCount, ...]) -> list[RuleCount]:
    """The rules that held rows, most severe first, then most rows."""
    rank = {name: index for index, name in enumerate(CRITICALITIES)}
    failing = [c for c in counts if c.rows > 0]
    return sorted(failing, key=lambda c: (rank.get(c.severity, 99), -c.rows, c.rule_name))


def _breached_rules(root: Root, held: Mapping[str, ModelQuarantine]) -> tuple[str, ...]:
    if root.kind in _ROW_LEVEL and root.node_id in held:
        return tuple(r.rule_name for r in _breached(held[root.node_id].rule_counts))
    return ()


def _owner_of(
    state: Analysis,
    root: Root,
    breached: tuple[str, ...],
    source_owners: Mapping[str, str] | None,
    default_owner: str,
) -> tuple[str | None, str | None]:
    if not root.kind.is_problem:
        return None, None
    found = resolve_owner(
        root.node_id,
        state.manifest,
        parents=state.graph.parents_of(root.node_id),
        reached_exposures=exposures_reached(state.graph, root.entry_nodes),
        source_owners=source_owners,
        default_owner=default_owner,
        source_first=root.kind is ProblemKind.SOURCE_ERROR,
        breached_rules=list(breached),
    )
    return found.owner, found.basis


def root_causes(
    state: Analysis,
    reach: Reach,
    held: Mapping[str, ModelQuarantine],
    *,
    source_owners: Mapping[str, str] | None = None,
    default_owner: str = "unowned",
) -> tuple[RootCause, ...]:
    """Every root cause with its owner and reach, the worst effect first."""
    causes = []
    for index, root in enumerate(state.roots):
        breached = _breached_rules(root, held)
        owner, basis = _owner_of(state, root, breached, source_owners, default_owner)
        result, fresh = root.result, root.freshness
        causes.append(
            RootCause(
                id=reach.root_ids[index],
                kind=root.kind,
                node_id=root.node_id,
                node_name=state.name(root.node_id),
                resource_type=state.resource_type(root.node_id),
                status=(
                    result.status
                    if result is not None
                    else fresh.status.value
                    if fresh is not None
                    else "no result"
                ),
                message=(
                    result.message
                    if result is not None
                    else fresh.message
                    if fresh is not None
                    else None
                ),
                failures=result.failures if result is not None else None,
                rows_held=root.rows_held,
                owner=owner,
                owner_basis=basis,
                entry_nodes=root.entry_nodes,
                affected_nodes=reach.affected_nodes[index],
                affected_exposures=reach.affected_exposures[index],
                breached_rules=breached,
            )
        )
    return tuple(sorted(causes, key=lambda rc: (-rc.effect.rank, rc.node_id, rc.kind.value)))


def _reasons(
    state: Analysis, reach: Reach, exposure_id: str, indexes: tuple[int, ...]
) -> tuple[Reason, ...]:
    """Why an exposure is not healthy: one reason per root cause reaching it, with its path."""
    reasons = (
        Reason(
            root_cause_id=reach.root_ids[i],
            kind=state.roots[i].kind,
            effect=state.roots[i].kind.effect,
            node_id=state.roots[i].node_id,
            path=state.path(i, exposure_id),
        )
        for i in indexes
    )
    return tuple(sorted(reasons, key=lambda r: (-r.effect.rank, r.node_id, r.kind.value)))


def _exposure_impact(
    state: Analysis, reach: Reach, exposure_id: str, exposure: Exposure
) -> ExposureImpact:
    indexes = tuple(bits(state.total.get(exposure_id, 0)))
    reasons = _reasons(state, reach, exposure_id, indexes)
    accepts = exposure_accepts(exposure)
    status = max(
        (_effect_on(r, accepts) for r in reasons),
        key=lambda s: s.rank,
        default=ExposureStatus.HEALTHY,
    )
    as_of = state.as_of.get(exposure_id, NO_AGE)
    times = [t for t in (as_of.built_at, as_of.source_at) if t is not None]
    return ExposureImpact(
        unique_id=exposure_id,
        name=exposure.name,
        label=exposure.label,
        type=exposure.type,
        url=exposure.url,
        maturity=exposure.maturity,
        criticality=exposure_criticality(exposure),
        owners=exposure_owners(exposure),
        status=status,
        reasons=reasons,
        rows_held_upstream=sum(state.roots[i].rows_held for i in indexes),
        models_built_at=as_of.built_at,
        oldest_source_loaded_at=as_of.source_at,
        oldest_source_id=as_of.source_id,
        data_as_of=min(times) if times else None,
        as_of_complete=as_of.complete,
        accepts=accepts,
    )


def _effect_on(reason: Reason, accepts: tuple[str, ...] | None) -> ExposureStatus:
    """A reason's effect on an exposure: rows held upstream leave one that accepts only
    complete input stale (it should not be read as it is), not degraded."""
    if (
        reason.kind is ProblemKind.ROWS_HELD
        and accepts is not None
        and "exception_filtered" not in accepts
        and "upstream_held" not in accepts
    ):
        return ExposureStatus.STALE
    return reason.effect


def exposure_impacts(state: Analysis, reach: Reach) -> tuple[ExposureImpact, ...]:
    """Each exposure's status (its worst reason) and data age, the worst and most critical
    first."""
    exposures = [
        _exposure_impact(state, reach, exposure_id, exposure)
        for exposure_id, exposure in state.manifest.exposures.items()
    ]
    exposures.sort(
        key=lambda e: (-e.status.rank, CRITICALITIES.index(e.criticality), e.name, e.unique_id)
    )
    return tuple(exposures)


_Origin = tuple[str | None, str | None, datetime | None]


def node_statuses(
    state: Analysis,
    reach: Reach,
    held: Mapping[str, ModelQuarantine],
    run_results: RunResults,
    provenance: Mapping[str, NodeResult],
) -> tuple[NodeStatus, ...]:
    """One status per graph node and test with a result or a problem (tens of thousands on a
    large project, so what is the same for all of them is looked up once)."""
    nodes: list[NodeStatus] = []
    results, own_kinds, tested = state.results, state.own_kind, state.graph.tested
    exposures = state.manifest.exposures
    # where a result comes from when no provenance names it: the run results given
    which = run_results.args.get("which")
    this_run: _Origin = (
        run_results.metadata.invocation_id,
        str(which) if which else None,
        as_utc(run_results.metadata.generated_at),
    )
    for node_id in [*state.graph.order, *sorted(tested)]:
        result = results.get(node_id)
        own = own_kinds.get(node_id)
        causes = reach.caused_by.get(node_id, ())
        if node_id in exposures or (result is None and own is None and not causes):
            continue
        if own is None and result is not None and node_id in tested:
            own = TEST_KINDS.get(result.status)  # a failing test is its own problem
        origin = provenance.get(node_id)
        where: _Origin = (
            (origin.invocation_id, origin.command, origin.generated_at)
            if origin is not None
            else this_run
            if result is not None
            else (None, None, None)
        )
        nodes.append(_node_status(state, node_id, own, causes, held.get(node_id), where))
    return tuple(nodes)


def _node_status(
    state: Analysis,
    node_id: str,
    own: ProblemKind | None,
    causes: tuple[str, ...],
    quarantine_row: ModelQuarantine | None,
    origin: _Origin,
) -> NodeStatus:
    result = state.results.get(node_id)
    node = state.manifest.nodes.get(node_id)
    return NodeStatus(
        unique_id=node_id,
        name=state.name(node_id),
        resource_type=node.resource_type if node is not None else state.resource_type(node_id),
        run_status=result.status if result is not None else None,
        problem=own,
        caused_by=causes,
        message=result.message if result is not None else None,
        completed_at=completed_at(result) if result is not None else None,
        rows_held=quarantine_row.rows_held if quarantine_row else None,
        rows_flagged=quarantine_row.rows_flagged if quarantine_row else None,
        gate_status=quarantine_row.gate_status if quarantine_row else None,
        invocation_id=origin[0],
        command=origin[1],
        result_at=origin[2],
    )
