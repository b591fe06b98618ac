"""From run results, freshness and quarantine counts to the status of every exposure.

One pass over the graph in topological order. Each root cause gets a bit; a node's bits are
its own root causes or'ed with its parents' bits, so every node knows which root causes reach
it without walking the graph once per problem. A skipped node whose upstream failed, or a node
with no run result under one that already explains it, inherits bits but is not a root cause.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple

from sluice.artifacts.history import NodeResult
from sluice.artifacts.models import Exposure, Manifest, RunResult, RunResults, SourcesResults
from sluice.freshness import FreshnessStatus, SourceFreshness, source_freshness
from sluice.freshness.sources import as_utc
from sluice.impact.criticality import exposure_criticality
from sluice.impact.model import (
    CRITICALITIES,
    ExposureImpact,
    ExposureStatus,
    Impact,
    ModelQuarantine,
    NodeStatus,
    Owner,
    ProblemKind,
    Reason,
    RootCause,
    RuleCount,
)
from sluice.impact.owners import resolve_owner
from sluice.lineage import Graph, build_graph, exposures_reached

GATE_HELD_MARK: Final = "sluice gate held publication"
SLUICE_CODE: Final = "SLUICE"
COUNTS_MARK: Final = "sluice-counts: "
_BUILT_TYPES: Final = frozenset({"model", "seed", "snapshot"})
# a seed left out of a run (``--exclude resource_type:seed``) still holds its static data
_EXPECTED_IN_RUN: Final = frozenset({"model", "snapshot"})
_BUILT_OK: Final = frozenset({"success", "no-op"})
# problems whose downstream nodes dbt skips: a skip below one of them is not its own root cause
_SKIP_CAUSES: Final = frozenset(
    {
        ProblemKind.ERROR,
        ProblemKind.SKIPPED,
        ProblemKind.TEST_FAIL,
        ProblemKind.TEST_ERROR,
        ProblemKind.GATE_HELD,
    }
)
_TEST_KINDS: Final = {
    "fail": ProblemKind.TEST_FAIL,
    "error": ProblemKind.TEST_ERROR,
    "runtime error": ProblemKind.TEST_ERROR,
    "warn": ProblemKind.TEST_WARN,
}
_TEST_FINE: Final = frozenset({"pass", "skipped", "success", "no-op"})
# every status dbt writes for a model, seed, snapshot or other built node
_NODE_STATUSES: Final = frozenset(
    {"success", "no-op", "error", "runtime error", "fail", "skipped", "partial success", "pass"}
)
_ROW_LEVEL: Final = frozenset({ProblemKind.GATE_HELD, ProblemKind.ROWS_HELD})


def _bits(mask: int) -> Iterator[int]:
    """Indexes of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _completed_at(result: RunResult) -> datetime | None:
    for timing in reversed(result.timing):
        if timing.completed_at is not None:
            return as_utc(timing.completed_at)
    return None


def _payload(message: str) -> dict[str, Any] | None:
    """The JSON object the materialization puts after ``sluice-counts: `` in its message."""
    at = message.find(COUNTS_MARK)
    if at < 0:
        return None
    line = message[at + len(COUNTS_MARK) :].split("\n", 1)[0].strip()
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _payload_int(data: dict[str, Any] | None, key: str) -> int | None:
    value = data.get(key) if data else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _payload_rules(data: dict[str, Any] | None) -> tuple[RuleCount, ...]:
    rules = data.get("rule_counts") if data else None
    if not isinstance(rules, list):
        return ()
    out = []
    for r in rules:
        if isinstance(r, dict) and isinstance(r.get("rows"), int):
            out.append(
                RuleCount(
                    rule_name=str(r.get("rule_name", "")),
                    error_class=str(r.get("error_class", "")),
                    severity=str(r.get("severity", "")),
                    route=str(r.get("route", "")),
                    rows=int(r["rows"]),
                )
            )
    return tuple(out)


def quarantine_from_run_results(run_results: RunResults) -> dict[str, ModelQuarantine]:
    """The figures a sluice model states in its run result (used without a warehouse): the
    JSON payload after ``sluice-counts: ``, never the human sentence."""
    found: dict[str, ModelQuarantine] = {}
    for result in run_results.results:
        message = result.message or ""
        data = _payload(message)
        if result.adapter_response.code == SLUICE_CODE or message.startswith("sluice:"):
            held = (_payload_int(data, "rows_held") or 0) + (
                _payload_int(data, "rows_set_aside") or 0
            )
            found[result.unique_id] = ModelQuarantine(
                model_unique_id=result.unique_id,
                rows_in=_payload_int(data, "rows_in"),
                rows_published=_payload_int(data, "rows_published"),
                rows_held=held,
                rows_flagged=_payload_int(data, "rows_flagged") or 0,
                gate_status="passed",
                gate_message=None,
                rule_counts=_payload_rules(data),
                last_passed_at=_completed_at(result),
                rows_held_open=_payload_int(data, "rows_held_open"),
            )
        elif result.status == "error" and GATE_HELD_MARK in message:
            held = (_payload_int(data, "rows_held") or 0) + (
                _payload_int(data, "rows_set_aside") or 0
            )
            found[result.unique_id] = ModelQuarantine(
                model_unique_id=result.unique_id,
                rows_in=_payload_int(data, "rows_in"),
                rows_published=0,
                rows_held=held,
                rows_flagged=_payload_int(data, "rows_flagged") or 0,
                gate_status="held",
                gate_message=message.split(COUNTS_MARK, 1)[0].rstrip(),
                rule_counts=_payload_rules(data),
                last_passed_at=None,
                rows_held_open=_payload_int(data, "rows_held_open"),
            )
    return found


def quarantine_counts(
    run_results: RunResults, warehouse: Mapping[str, ModelQuarantine] | None = None
) -> dict[str, ModelQuarantine]:
    """Each sluice model's counts as the report and the alerts both read them: its
    ``sluice_runs`` row (``warehouse``) where one was read, else what its run result states
    (:func:`quarantine_from_run_results`, the only source under ``--no-warehouse``)."""
    return {**quarantine_from_run_results(run_results), **(warehouse or {})}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def exposure_owners(exposure: Exposure) -> tuple[Owner, ...]:
    """The exposure's ``owner`` plus any ``meta.owner`` (a name, a mapping, or a list of them)."""
    owners: list[Owner] = []
    emails = exposure.owner.email
    email_list: list[str | None] = list(emails) if isinstance(emails, list) else [emails]
    if exposure.owner.name or any(email_list):
        for email in email_list or [None]:
            owners.append(Owner(name=_text(exposure.owner.name), email=_text(email)))
    for meta in (exposure.config.meta, exposure.meta):
        raw = meta.get("owner")
        for item in raw if isinstance(raw, list) else [raw]:
            if isinstance(item, dict):
                owner = Owner(name=_text(item.get("name")), email=_text(item.get("email")))
            else:
                text = _text(item)
                is_email = text is not None and "@" in text
                owner = Owner(name=None if is_email else text, email=text if is_email else None)
            if owner.name or owner.email:
                owners.append(owner)
    return tuple(dict.fromkeys(owners))


@dataclass(slots=True)
class _Root:
    kind: ProblemKind
    node_id: str
    entry_nodes: tuple[str, ...]
    result: RunResult | None
    freshness: SourceFreshness | None
    rows_held: int


class _AsOf(NamedTuple):
    """How old a node's data is: one per graph node, so a tuple, quick to make."""

    built_at: datetime | None
    complete: bool
    source_at: datetime | None
    source_id: str | None


_NO_AGE: Final = _AsOf(None, True, None, None)
"""Nothing of its own to date: not built data (an exposure, a metric, an ephemeral model), or a
seed left out of the run."""


def _min_as_of(own: _AsOf, parents: list[_AsOf]) -> _AsOf:
    """The oldest of a node's own age and its parents' (of sources loaded at the same time, the
    first by id)."""
    if not parents:
        return own
    values = [own, *parents]
    built = [v.built_at for v in values if v.built_at is not None]
    sources = [(v.source_at, v.source_id) for v in values if v.source_at is not None]
    oldest_source = min(sources, key=lambda pair: (pair[0], pair[1] or "")) if sources else None
    return _AsOf(
        built_at=min(built) if built else None,
        complete=all(v.complete for v in values),
        source_at=oldest_source[0] if oldest_source else None,
        source_id=oldest_source[1] if oldest_source else None,
    )


class _Analysis:
    """Mutable working state of one :func:`analyze` call; never escapes it."""

    def __init__(
        self,
        manifest: Manifest,
        run_results: RunResults,
        freshness: tuple[SourceFreshness, ...],
        quarantine: Mapping[str, ModelQuarantine],
    ) -> None:
        self.manifest = manifest
        self.graph: Graph = build_graph(manifest)
        self.results = {r.unique_id: r for r in run_results.results}
        self.freshness = {f.unique_id: f for f in freshness}
        self.quarantine = quarantine
        self.roots: list[_Root] = []
        self.own: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.own_kind: dict[str, ProblemKind] = {}
        self.skip_mask = 0
        self.no_result_mask = 0
        self.as_of: dict[str, _AsOf] = {}

    def add_root(self, root: _Root) -> None:
        bit = 1 << len(self.roots)
        self.roots.append(root)
        if root.kind in _SKIP_CAUSES:
            self.skip_mask |= bit
        if root.kind is ProblemKind.NO_RESULT:
            self.no_result_mask |= bit
        for entry in root.entry_nodes:
            self.own[entry] = self.own.get(entry, 0) | bit

    def resource_type(self, node_id: str) -> str:
        node = self.manifest.nodes.get(node_id)
        if node is not None:
            return node.resource_type
        if node_id in self.manifest.sources:
            return "source"
        if node_id in self.manifest.exposures:
            return "exposure"
        return node_id.split(".", 1)[0]

    def name(self, node_id: str) -> str:
        for group in (
            self.manifest.nodes,
            self.manifest.sources,
            self.manifest.exposures,
            self.manifest.unit_tests,
        ):
            item = group.get(node_id)
            if item is not None:
                return item.name
        return node_id.rsplit(".", 1)[-1]

    def tests_first(self) -> None:
        for test_id in sorted(self.graph.tested):
            result = self.results.get(test_id)
            if result is None or result.status in _TEST_FINE:
                continue
            kind = _TEST_KINDS.get(result.status, ProblemKind.UNKNOWN_STATUS)
            entries = self.graph.tested[test_id]
            if entries:
                self.add_root(_Root(kind, test_id, entries, result, None, 0))

    def own_problem(self, node_id: str, inherited: int) -> ProblemKind | None:
        if node_id in self.freshness:
            fresh = self.freshness[node_id]
            if fresh.is_late:
                return ProblemKind.SOURCE_LATE
            if fresh.status is FreshnessStatus.RUNTIME_ERROR:
                return ProblemKind.SOURCE_ERROR
            return None
        result = self.results.get(node_id)
        held = self.quarantine.get(node_id)
        if result is None:
            node = self.manifest.nodes.get(node_id)
            if (
                node is not None
                and node.resource_type in _EXPECTED_IN_RUN
                and node.config.materialized != "ephemeral"
                and not inherited & (self.skip_mask | self.no_result_mask)
            ):
                return ProblemKind.NO_RESULT
            return None
        status = result.status
        if status not in _NODE_STATUSES:
            return ProblemKind.UNKNOWN_STATUS
        if status in ("error", "runtime error", "fail"):
            is_held = GATE_HELD_MARK in (result.message or "") or (
                held is not None and held.gate_status == "held"
            )
            return ProblemKind.GATE_HELD if is_held else ProblemKind.ERROR
        if status == "skipped":
            return None if inherited & self.skip_mask else ProblemKind.SKIPPED
        if status == "partial success":
            return ProblemKind.PARTIAL
        # rows held only by a decision (rejected, set aside as a copy) are no problem
        if held is not None and held.rows_undecided > 0:
            return ProblemKind.ROWS_HELD
        return None

    def own_as_of(self, node_id: str) -> _AsOf:
        fresh = self.freshness.get(node_id)
        if fresh is not None:
            return _AsOf(None, True, fresh.max_loaded_at, node_id if fresh.max_loaded_at else None)
        node = self.manifest.nodes.get(node_id)
        if (
            node is None
            or node.resource_type not in _BUILT_TYPES
            or node.config.materialized == "ephemeral"
        ):
            return _NO_AGE
        result = self.results.get(node_id)
        if result is None and node.resource_type not in _EXPECTED_IN_RUN:
            return _NO_AGE
        if result is not None and result.status in _BUILT_OK:
            built = _completed_at(result)
            return _AsOf(built, built is not None, None, None)
        held = self.quarantine.get(node_id)
        last = held.last_passed_at if held is not None else None
        return _AsOf(last, last is not None, None, None)

    def walk(self) -> None:
        self.tests_first()
        graph = self.graph
        for node_id in graph.order:
            parents = graph.parents[node_id]
            inherited = 0
            for parent in parents:
                inherited |= self.total[parent]
            kind = (
                None if node_id in self.manifest.exposures else self.own_problem(node_id, inherited)
            )
            if kind is not None:
                self.own_kind[node_id] = kind
                result = self.results.get(node_id)
                held = self.quarantine.get(node_id)
                self.add_root(
                    _Root(
                        kind,
                        node_id,
                        (node_id,),
                        result,
                        self.freshness.get(node_id),
                        held.rows_held if held is not None else 0,
                    )
                )
            self.total[node_id] = inherited | self.own.get(node_id, 0)
            self.as_of[node_id] = _min_as_of(
                self.own_as_of(node_id), [self.as_of[p] for p in parents]
            )

    def path(self, root_index: int, exposure_id: str) -> tuple[str, ...]:
        """Root cause to exposure: climb parents that carry the root's bit."""
        bit = 1 << root_index
        node = exposure_id
        path = [node]
        while not self.own.get(node, 0) & bit:
            node = next(p for p in self.graph.parents[node] if self.total[p] & bit)
            path.append(node)
        root = self.roots[root_index]
        if root.node_id != node:
            path.append(root.node_id)
        return tuple(reversed(path))


def _root_id(root: _Root) -> str:
    return f"{root.kind.value}:{root.node_id}"


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
    freshness = source_freshness(manifest, sources)
    foreign = sorted(
        {r.unique_id for r in sources.results} - set(manifest.sources) if sources else set()
    )
    if foreign:
        warnings = (
            *warnings,
            f"sources.json has freshness results for {len(foreign)} source(s) that are not in "
            f"this project's manifest, ignored (another project's, or a renamed source?): "
            + ", ".join(foreign[:5])
            + (", ..." if len(foreign) > 5 else ""),
        )
    known = provenance or {}
    state = _Analysis(manifest, run_results, freshness, held)
    state.walk()
    exposures_set = manifest.exposures

    root_ids = [_root_id(root) for root in state.roots]
    affected_nodes: list[list[str]] = [[] for _ in state.roots]
    affected_exposures: list[list[str]] = [[] for _ in state.roots]
    caused_by: dict[str, tuple[str, ...]] = {}  # the root causes upstream of a node, by id
    for node_id in state.graph.order:
        mask = state.total[node_id]
        if not mask:
            continue
        upstream = [i for i in _bits(mask) if state.roots[i].node_id != node_id]
        target = affected_exposures if node_id in exposures_set else affected_nodes
        for index in upstream:
            target[index].append(node_id)
        caused_by[node_id] = tuple([root_ids[i] for i in upstream])

    def breached(root: _Root) -> tuple[str, ...]:
        if root.kind in _ROW_LEVEL and root.node_id in held:
            return tuple(r.rule_name for r in _breached(held[root.node_id].rule_counts))
        return ()

    def owner_of(root: _Root) -> tuple[str, str]:
        found = resolve_owner(
            root.node_id,
            manifest,
            parents=state.graph.parents_of(root.node_id),
            reached_exposures=exposures_reached(state.graph, root.entry_nodes),
            source_owners=source_owners,
            default_owner=default_owner,
            source_first=root.kind is ProblemKind.SOURCE_ERROR,
            breached_rules=list(breached(root)),
        )
        return found.owner, found.basis

    owners = [owner_of(root) if root.kind.is_problem else (None, None) for root in state.roots]
    root_causes = tuple(
        sorted(
            (
                RootCause(
                    id=root_ids[index],
                    kind=root.kind,
                    node_id=root.node_id,
                    node_name=state.name(root.node_id),
                    resource_type=state.resource_type(root.node_id),
                    status=(
                        root.result.status
                        if root.result is not None
                        else root.freshness.status.value
                        if root.freshness is not None
                        else "no result"
                    ),
                    message=(
                        root.result.message
                        if root.result is not None
                        else root.freshness.message
                        if root.freshness is not None
                        else None
                    ),
                    failures=root.result.failures if root.result is not None else None,
                    rows_held=root.rows_held,
                    owner=owners[index][0],
                    owner_basis=owners[index][1],
                    entry_nodes=root.entry_nodes,
                    affected_nodes=tuple(affected_nodes[index]),
                    affected_exposures=tuple(affected_exposures[index]),
                    breached_rules=breached(root),
                )
                for index, root in enumerate(state.roots)
            ),
            key=lambda rc: (-rc.effect.rank, rc.node_id, rc.kind.value),
        )
    )

    exposures: list[ExposureImpact] = []
    for exposure_id, exposure in manifest.exposures.items():
        indexes = tuple(_bits(state.total.get(exposure_id, 0)))
        reasons = tuple(
            sorted(
                (
                    Reason(
                        root_cause_id=root_ids[i],
                        kind=state.roots[i].kind,
                        effect=state.roots[i].kind.effect,
                        node_id=state.roots[i].node_id,
                        path=state.path(i, exposure_id),
                    )
                    for i in indexes
                ),
                key=lambda r: (-r.effect.rank, r.node_id, r.kind.value),
            )
        )
        status = max(
            (r.effect for r in reasons), key=lambda s: s.rank, default=ExposureStatus.HEALTHY
        )
        as_of = state.as_of.get(exposure_id, _NO_AGE)
        times = [t for t in (as_of.built_at, as_of.source_at) if t is not None]
        exposures.append(
            ExposureImpact(
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
            )
        )
    exposures.sort(
        key=lambda e: (-e.status.rank, CRITICALITIES.index(e.criticality), e.name, e.unique_id)
    )

    # one status per graph node and test with a result or a problem: tens of thousands on a
    # large project, so what is the same for all of them is looked up once
    nodes: list[NodeStatus] = []
    results, own_kinds, tested = state.results, state.own_kind, state.graph.tested
    # where a result comes from when no provenance names it: the run results given
    this_run = (
        run_results.metadata.invocation_id,
        _which(run_results),
        as_utc(run_results.metadata.generated_at),
    )
    for node_id in [*state.graph.order, *sorted(tested)]:
        result = results.get(node_id)
        own = own_kinds.get(node_id)
        causes = caused_by.get(node_id, ())
        if node_id in exposures_set or (result is None and own is None and not causes):
            continue
        if own is None and result is not None and node_id in tested:
            own = _TEST_KINDS.get(result.status)  # a failing test is its own problem
        quarantine_row = held.get(node_id)
        origin = known.get(node_id)
        invocation_id, command, result_at = (
            (origin.invocation_id, origin.command, origin.generated_at)
            if origin is not None
            else this_run
            if result is not None
            else (None, None, None)
        )
        node = manifest.nodes.get(node_id)
        nodes.append(
            NodeStatus(
                unique_id=node_id,
                name=node.name if node is not None else state.name(node_id),
                resource_type=node.resource_type
                if node is not None
                else state.resource_type(node_id),
                run_status=result.status if result is not None else None,
                problem=own,
                caused_by=causes,
                message=result.message if result is not None else None,
                completed_at=_completed_at(result) if result is not None else None,
                rows_held=quarantine_row.rows_held if quarantine_row else None,
                rows_flagged=quarantine_row.rows_flagged if quarantine_row else None,
                gate_status=quarantine_row.gate_status if quarantine_row else None,
                invocation_id=invocation_id,
                command=command,
                result_at=result_at,
            )
        )

    return Impact(
        invocation_id=run_results.metadata.invocation_id or "",
        generated_at=generated_at,
        dbt_version=run_results.metadata.dbt_version,
        run_generated_at=as_utc(run_results.metadata.generated_at),
        freshness_generated_at=as_utc(sources.metadata.generated_at) if sources else None,
        exposures=tuple(exposures),
        root_causes=root_causes,
        nodes=tuple(nodes),
        sources=freshness,
        quarantine=tuple(held[k] for k in sorted(held)),
        warnings=warnings,
        invocations=invocations,
    )


def _which(run_results: RunResults) -> str | None:
    which = run_results.args.get("which")
    return str(which) if which else None


def _breached(counts: tuple[RuleCount, ...]) -> list[RuleCount]:
    """The rules that held rows, most severe first, then most rows."""
    rank = {name: index for index, name in enumerate(CRITICALITIES)}
    failing = [c for c in counts if c.rows > 0]
    return sorted(failing, key=lambda c: (rank.get(c.severity, 99), -c.rows, c.rule_name))
