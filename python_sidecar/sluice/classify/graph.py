"""Classification and escalation walk the one lineage graph of :mod:`sluice.lineage`."""

from sluice.lineage import Graph, build_graph, exposures_reached

__all__ = ["Graph", "build_graph", "exposures_reached"]
