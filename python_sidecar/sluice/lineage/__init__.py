"""The dbt graph as frozen adjacency maps, with pure walks over it."""

from sluice.lineage.graph import (
    TEST_TYPES,
    Graph,
    build_graph,
    exposures_reached,
    short_id,
    topological_order,
    upstream,
)

__all__ = [
    "TEST_TYPES",
    "Graph",
    "build_graph",
    "exposures_reached",
    "short_id",
    "topological_order",
    "upstream",
]
