"""Build the lineage graph from a manifest and walk it.

Edges come from each resource's ``depends_on.nodes`` (the same data as the manifest's
``parent_map``, without decoding it twice). Tests and unit tests are not graph members: a test
is attached to the nodes it checks (``tested``), so a failing test enters the graph there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from sluice.artifacts.models import Manifest, Node
from sluice.errors import InputError

TEST_TYPES: Final = frozenset({"test", "unit_test"})
_NOT_IN_GRAPH: Final = TEST_TYPES | {"operation", "sql_operation", "rpc"}


@dataclass(frozen=True, slots=True)
class Graph:
    """Parents and children of every graph member, and a topological order (parents first)."""

    parents: Mapping[str, tuple[str, ...]]
    children: Mapping[str, tuple[str, ...]]
    order: tuple[str, ...]
    tested: Mapping[str, tuple[str, ...]]
    """For each test or unit test: the graph nodes it checks."""
    test_parents: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    """For each test or unit test: every graph node it depends on (``depends_on``)."""
    tests_on: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """For each graph node: the tests that depend on it."""
    exposures: frozenset[str] = frozenset()

    def parents_of(self, unique_id: str) -> tuple[str, ...]:
        """A graph node's parents, or what a test depends on."""
        return self.parents.get(unique_id) or self.test_parents.get(unique_id, ())

    def ancestors(self, unique_id: str) -> frozenset[str]:
        return upstream(self, unique_id)


def _find_cycle(parents: Mapping[str, tuple[str, ...]], among: set[str]) -> list[str]:
    """One cycle among ``among`` (nodes left by Kahn's algorithm), as a closed path."""
    start = min(among)
    path: list[str] = []
    seen: dict[str, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = min(p for p in parents[node] if p in among)
    return [*path[seen[node] :], node]


def topological_order(parents: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Kahn's algorithm over ``parents``; a cycle (dbt refuses one) is an InputError naming
    its nodes."""
    indegree = {node: 0 for node in parents}
    children: dict[str, list[str]] = {node: [] for node in parents}
    for node, node_parents in parents.items():
        for parent in node_parents:
            if parent in indegree:
                indegree[node] += 1
                children[parent].append(node)
    ready = deque(node for node, degree in indegree.items() if degree == 0)
    order: list[str] = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) < len(indegree):
        # every node left has a parent left (or Kahn would have taken it): walking up finds a
        # cycle
        left = set(indegree) - set(order)
        cycle = _find_cycle(parents, left)
        raise InputError(
            "manifest.json: depends_on forms a cycle: "
            + " -> ".join(cycle)
            + " (dbt refuses such a project; the manifest was edited or is corrupt)"
        )
    return tuple(order)


def _freeze(mapping: dict[str, list[str]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({key: tuple(values) for key, values in mapping.items()})


def _members(ids: Sequence[str], members: Mapping[str, object]) -> tuple[str, ...]:
    """``ids`` without repeats, in order, keeping only graph members."""
    if len(ids) == 1:  # most tests check one node: no set of repeats to build
        return tuple(ids) if ids[0] in members else ()
    return tuple([n for n in dict.fromkeys(ids) if n in members])


def build_graph(manifest: Manifest) -> Graph:
    """One pass over the manifest for the members and what each declares it depends on, then
    one over the members and one over the tests for the edges between members."""
    declared: dict[str, Sequence[str]] = {}
    tests: list[tuple[str, Node]] = []
    for source_id in manifest.sources:
        declared[source_id] = ()
    for node_id, node in manifest.nodes.items():
        if node.resource_type in TEST_TYPES:
            tests.append((node_id, node))
        elif node.resource_type not in _NOT_IN_GRAPH:
            declared[node_id] = node.depends_on.nodes
    for group in (manifest.metrics, manifest.semantic_models, manifest.saved_queries):
        for other_id, other in group.items():
            declared[other_id] = other.depends_on.nodes
    for exposure_id, exposure in manifest.exposures.items():
        declared[exposure_id] = exposure.depends_on.nodes

    # a disabled or missing parent is not an edge
    parents = {node_id: _members(ids, declared) for node_id, ids in declared.items()}
    tested: dict[str, tuple[str, ...]] = {}
    test_parents: dict[str, tuple[str, ...]] = {}
    tests_on: dict[str, list[str]] = {}

    def add_test(test_id: str, found: tuple[str, ...]) -> None:
        test_parents[test_id] = found
        for parent in found:
            tests_on.setdefault(parent, []).append(test_id)

    for test_id, test in tests:
        found = _members(test.depends_on.nodes, parents)
        attached = test.attached_node
        # the attached node wins over depends_on
        tested[test_id] = _members((attached,), parents) if attached else found
        add_test(test_id, found)
    for unit_id, unit in manifest.unit_tests.items():
        found = _members(unit.depends_on.nodes, parents)
        tested[unit_id] = found
        if unit.resource_type in TEST_TYPES:
            add_test(unit_id, found)

    children: dict[str, list[str]] = {node_id: [] for node_id in parents}
    for node_id, node_parents in parents.items():
        for parent in node_parents:
            children[parent].append(node_id)
    frozen_parents = MappingProxyType(parents)
    return Graph(
        parents=frozen_parents,
        children=_freeze(children),
        order=topological_order(frozen_parents),
        tested=MappingProxyType(tested),
        test_parents=MappingProxyType(test_parents),
        tests_on=_freeze(tests_on),
        exposures=frozenset(manifest.exposures),
    )


def upstream(graph: Graph, start: str) -> frozenset[str]:
    """Every ancestor of ``start`` (not ``start`` itself)."""
    seen: set[str] = set()
    stack = list(graph.parents.get(start, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph.parents.get(node, ()))
    return frozenset(seen)


def exposures_reached(graph: Graph, start: Iterable[str]) -> tuple[str, ...]:
    """The exposures downstream of any of ``start`` (or among them), sorted."""
    seen: set[str] = set()
    stack = list(start)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(graph.children.get(node, ()))
    return tuple(sorted(seen & graph.exposures))


# resource types whose unique id is ``<type>.<package>.<name>[.v<version>]``
_NAMED_WITH_VERSION: Final = frozenset({"model", "seed", "snapshot", "analysis"})


def short_id(unique_id: str) -> str:
    """A node's id without its type and package, for people: ``model.pkg.orders`` ->
    ``orders``, ``model.pkg.orders.v2`` -> ``orders.v2`` (a versioned model),
    ``source.pkg.raw.orders`` -> ``raw.orders``, ``test.pkg.not_null_x.abc123`` ->
    ``not_null_x``."""
    parts = unique_id.split(".")
    if len(parts) < 2:
        return unique_id
    if parts[0] in ("source", *_NAMED_WITH_VERSION) and len(parts) >= 4:
        return ".".join(parts[2:])
    if parts[0] == "test" and len(parts) >= 4:
        return parts[2]
    return parts[-1]
