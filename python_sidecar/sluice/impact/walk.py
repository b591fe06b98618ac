"""Roots found: one pass over the graph in topological order, and each node's data age.

Each root cause gets a bit; a node's bits are its own root causes or'ed with its parents' bits,
so every node knows which root causes reach it without walking the graph once per problem. A
skipped node whose upstream failed or whose own unit test failed, or a node with no run result
under one that already explains it, inherits bits but is not a root cause. The same pass dates
every node's data (the oldest build and source load upstream of it).

Owns the walk's working state (:class:`Analysis`, never returned to callers of
:func:`sluice.impact.analyze`); reads only the decoded artifacts, freshness and counts it is
given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, NamedTuple

from sluice.artifacts.models import Manifest, RunResult, RunResults
from sluice.freshness import FreshnessStatus, SourceFreshness
from sluice.freshness.sources import as_utc
from sluice.impact.model import ModelQuarantine, ProblemKind
from sluice.lineage import Graph, build_graph

GATE_HELD_MARK: Final = "sluice gate held publication"
"""The words a held gate's error message carries (the materialization writes them)."""
WAITING_MARK: Final = "is waiting for complete input"
"""The words the error of a model that waited for complete input carries (the package writes
them, sluice.wait_for_inputs and the sluice materialization)."""
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
        ProblemKind.INPUT_WAITING,
    }
)
TEST_KINDS: Final = {
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


def bits(mask: int) -> Iterator[int]:
    """Indexes of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def completed_at(result: RunResult) -> datetime | None:
    for timing in reversed(result.timing):
        if timing.completed_at is not None:
            return as_utc(timing.completed_at)
    return None


@dataclass(slots=True)
class Root:
    kind: ProblemKind
    node_id: str
    entry_nodes: tuple[str, ...]
    result: RunResult | None
    freshness: SourceFreshness | None
    rows_held: int


class AsOf(NamedTuple):
    """How old a node's data is: one per graph node, so a tuple, quick to make."""

    built_at: datetime | None
    complete: bool
    source_at: datetime | None
    source_id: str | None


NO_AGE: Final = AsOf(None, True, None, None)
"""Nothing of its own to date: not built data (an exposure, a metric, an ephemeral model), or a
seed left out of the run."""


def min_as_of(own: AsOf, parents: list[AsOf]) -> AsOf:
    """The oldest of a node's own age and its parents' (of sources loaded at the same time, the
    first by id)."""
    if not parents:
        return own
    values = [own, *parents]
    built = [v.built_at for v in values if v.built_at is not None]
    sources = [(v.source_at, v.source_id) for v in values if v.source_at is not None]
    oldest_source = min(sources, key=lambda pair: (pair[0], pair[1] or "")) if sources else None
    return AsOf(
        built_at=min(built) if built else None,
        complete=all(v.complete for v in values),
        source_at=oldest_source[0] if oldest_source else None,
        source_id=oldest_source[1] if oldest_source else None,
    )


class Analysis:
    """Mutable working state of one :func:`sluice.impact.analyze` call; never escapes it."""

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
        self.roots: list[Root] = []
        self.own: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.own_kind: dict[str, ProblemKind] = {}
        self.skip_mask = 0
        self.unit_test_mask = 0
        self.no_result_mask = 0
        self.as_of: dict[str, AsOf] = {}

    def add_root(self, root: Root) -> None:
        bit = 1 << len(self.roots)
        self.roots.append(root)
        if root.kind in _SKIP_CAUSES:
            self.skip_mask |= bit
            if root.node_id in self.manifest.unit_tests:
                self.unit_test_mask |= bit
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
        node = self.manifest.nodes.get(node_id)
        if node is not None:
            return node.versioned_name
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
            kind = TEST_KINDS.get(result.status, ProblemKind.UNKNOWN_STATUS)
            entries = self.graph.tested[test_id]
            if entries:
                self.add_root(Root(kind, test_id, entries, result, None, 0))

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
            if WAITING_MARK in (result.message or ""):
                return ProblemKind.INPUT_WAITING
            return ProblemKind.GATE_HELD if is_held else ProblemKind.ERROR
        if status == "skipped":
            return None if inherited & self.skip_mask else ProblemKind.SKIPPED
        if status == "partial success":
            return ProblemKind.PARTIAL
        # rows held only by a decision (rejected, set aside as a copy) are no problem
        if held is not None and held.rows_undecided > 0:
            return ProblemKind.ROWS_HELD
        return None

    def own_as_of(self, node_id: str) -> AsOf:
        fresh = self.freshness.get(node_id)
        if fresh is not None:
            return AsOf(None, True, fresh.max_loaded_at, node_id if fresh.max_loaded_at else None)
        node = self.manifest.nodes.get(node_id)
        if (
            node is None
            or node.resource_type not in _BUILT_TYPES
            or node.config.materialized == "ephemeral"
        ):
            return NO_AGE
        result = self.results.get(node_id)
        if result is None and node.resource_type not in _EXPECTED_IN_RUN:
            return NO_AGE
        if result is not None and result.status in _BUILT_OK:
            built = completed_at(result)
            return AsOf(built, built is not None, None, None)
        held = self.quarantine.get(node_id)
        last = held.last_passed_at if held is not None else None
        return AsOf(last, last is not None, None, None)

    def walk(self) -> None:
        self.tests_first()
        graph = self.graph
        for node_id in graph.order:
            parents = graph.parents[node_id]
            inherited = 0
            for parent in parents:
                inherited |= self.total[parent]
            # dbt build runs a model's unit tests before it and skips the model when one fails:
            # that skip is the unit test's doing, as a skip below a failed parent is the parent's
            explained = inherited | (self.own.get(node_id, 0) & self.unit_test_mask)
            kind = (
                None if node_id in self.manifest.exposures else self.own_problem(node_id, explained)
            )
            if kind is not None:
                self.own_kind[node_id] = kind
                result = self.results.get(node_id)
                held = self.quarantine.get(node_id)
                self.add_root(
                    Root(
                        kind,
                        node_id,
                        (node_id,),
                        result,
                        self.freshness.get(node_id),
                        held.rows_held if held is not None else 0,
                    )
                )
            self.total[node_id] = inherited | self.own.get(node_id, 0)
            self.as_of[node_id] = min_as_of(
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


def find_roots(
    manifest: Manifest,
    run_results: RunResults,
    freshness: tuple[SourceFreshness, ...],
    quarantine: Mapping[str, ModelQuarantine],
) -> Analysis:
    """Every root cause, the root causes reaching each node, and each node's data age."""
    state = Analysis(manifest, run_results, freshness, quarantine)
    state.walk()
    return state
