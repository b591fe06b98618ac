"""The lineage graph: edges from depends_on, tests attached to what they check, an order."""

from __future__ import annotations

from types import MappingProxyType

import msgspec
import pytest
from sluice.artifacts.models import Manifest
from sluice.errors import InputError
from sluice.lineage import build_graph, topological_order, upstream

from tests.fixtures import synth
from tests.fixtures.synth import dbt_test, exposure, model, source, uid


def _manifest(doc: dict) -> Manifest:
    return msgspec.json.decode(msgspec.json.encode(doc), type=Manifest)


def test_graph_edges_tests_and_order() -> None:
    src = source("raw", "events")
    doc = synth.manifest(
        [
            model("b", (uid("a"), "model.shop.disabled_or_missing")),
            model("a", (src["unique_id"],)),
            dbt_test("rel_b_a", uid("b"), depends=(uid("a"), uid("b"))),
            {**dbt_test("plain", uid("a")), "attached_node": None},
        ],
        sources=[src],
        exposures=[exposure("dash", (uid("b"),))],
    )
    doc["metrics"] = {
        "metric.shop.m": {
            "unique_id": "metric.shop.m",
            "name": "m",
            "depends_on": {"nodes": [uid("a")]},
        }
    }
    doc["exposures"]["exposure.shop.dash"]["depends_on"]["nodes"].append("metric.shop.m")
    graph = build_graph(_manifest(doc))
    assert graph.parents[uid("b")] == (uid("a"),)  # the missing parent is not an edge
    assert set(graph.children[uid("a")]) == {uid("b"), "metric.shop.m"}
    assert graph.tested["test.shop.rel_b_a.abc123"] == (uid("b"),)  # attached node wins
    assert graph.tested["test.shop.plain.abc123"] == (uid("a"),)  # else depends_on
    assert "test.shop.plain.abc123" not in graph.parents
    order = graph.order
    assert order.index(src["unique_id"]) < order.index(uid("a")) < order.index(uid("b"))
    assert order.index("metric.shop.m") < order.index("exposure.shop.dash")
    assert upstream(graph, "exposure.shop.dash") == {
        src["unique_id"],
        uid("a"),
        uid("b"),
        "metric.shop.m",
    }


def test_tests_and_unit_tests_attach_to_members_without_repeats() -> None:
    doc = synth.manifest(
        [
            model("a"),
            model("b", (uid("a"), uid("a"))),
            # checks a model that is not in the graph: it checks nothing, whatever it depends on
            dbt_test("gone", "model.shop.disabled", depends=(uid("a"), uid("b"), uid("a"))),
            dbt_test("two", uid("b"), depends=(uid("b"), "model.shop.disabled", uid("a"))),
        ]
    )
    doc["unit_tests"] = {
        "unit_test.shop.b.ut": {
            "unique_id": "unit_test.shop.b.ut",
            "resource_type": "unit_test",
            "name": "ut",
            "depends_on": {"nodes": [uid("b"), uid("b")]},
        }
    }
    graph = build_graph(_manifest(doc))
    gone, two, unit = "test.shop.gone.abc123", "test.shop.two.abc123", "unit_test.shop.b.ut"
    assert graph.parents[uid("b")] == (uid("a"),)
    assert dict(graph.tested) == {gone: (), two: (uid("b"),), unit: (uid("b"),)}
    assert dict(graph.test_parents) == {
        gone: (uid("a"), uid("b")),
        two: (uid("b"), uid("a")),
        unit: (uid("b"),),
    }
    assert dict(graph.tests_on) == {uid("a"): (gone, two), uid("b"): (gone, two, unit)}
    assert graph.parents_of(two) == (uid("b"), uid("a"))
    assert graph.parents_of(uid("b")) == (uid("a"),)
    assert unit not in graph.parents and unit not in graph.order


def test_a_cycle_is_refused_naming_its_nodes() -> None:
    parents = MappingProxyType({"a": (), "b": ("a", "c"), "c": ("b",), "d": ("a",), "e": ("c",)})
    with pytest.raises(InputError, match=r"cycle: b -> c -> b"):
        topological_order(parents)
    acyclic = MappingProxyType({"a": (), "b": ("a",), "d": ("a",)})
    assert topological_order(acyclic) == ("a", "b", "d")
