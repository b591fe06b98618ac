"""The few graph questions classification and escalation ask of a manifest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sluice.classify.artifacts import Manifest


@dataclass(frozen=True, slots=True)
class Graph:
    """Parents, the tests on each node, and the exposures each node reaches."""

    parents: Mapping[str, tuple[str, ...]]
    tests_on: Mapping[str, tuple[str, ...]]
    exposures_reached: Mapping[str, tuple[str, ...]]

    def ancestors(self, unique_id: str) -> set[str]:
        seen: set[str] = set()
        stack = [unique_id]
        while stack:
            for parent in self.parents.get(stack.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen


def build_graph(manifest: Manifest) -> Graph:
    parents: dict[str, tuple[str, ...]] = {}
    tests_on: dict[str, list[str]] = {}
    for uid, node in manifest.nodes.items():
        parents[uid] = node.depends_on.nodes
        if node.resource_type in ("test", "unit_test"):
            for parent in node.depends_on.nodes:
                tests_on.setdefault(parent, []).append(uid)
    for uid, exposure in manifest.exposures.items():
        parents[uid] = exposure.depends_on.nodes
    graph = Graph(parents, {k: tuple(v) for k, v in tests_on.items()}, {})
    reached: dict[str, list[str]] = {}
    for uid in sorted(manifest.exposures):
        for ancestor in graph.ancestors(uid):
            reached.setdefault(ancestor, []).append(uid)
    return Graph(graph.parents, graph.tests_on, {k: tuple(v) for k, v in reached.items()})


def exposures_reached(graph: Graph, unique_ids: Iterable[str]) -> tuple[str, ...]:
    found: set[str] = set()
    for uid in unique_ids:
        found.update(graph.exposures_reached.get(uid, ()))
    return tuple(sorted(found))
