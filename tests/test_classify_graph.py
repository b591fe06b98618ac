"""Classification over typed, frozen artifacts: root causes through the graph, and statuses."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from sluice.artifacts import decode_manifest, decode_run_results, load_manifest, load_run_results
from sluice.classify import FailureClass, builtin_patterns, classify, effective_class
from sluice.classify.artifacts import merge_run_results
from sluice.errors import InputError

PARSER_ARTIFACTS = Path(__file__).resolve().parent / "fixtures" / "dbt-artifacts-parser"
MANIFEST_V12 = "https://schemas.getdbt.com/dbt/manifest/v12.json"
RESULTS_V6 = "https://schemas.getdbt.com/dbt/run-results/v6.json"


def model(name, *parents, resource_type="model", **extra):
    return {
        "unique_id": f"{resource_type}.shop.{name}",
        "resource_type": resource_type,
        "name": name,
        "fqn": ["shop", name],
        "depends_on": {"nodes": list(parents), "macros": []},
        "an_unknown_field": {"ignored": True},
        **extra,
    }


def manifest(*nodes, sources=(), exposures=(), adapter="duckdb"):
    return decode_manifest(
        msgspec.json.encode(
            {
                "metadata": {"dbt_schema_version": MANIFEST_V12, "adapter_type": adapter},
                "nodes": {n["unique_id"]: n for n in nodes},
                "sources": {s["unique_id"]: s for s in sources},
                "exposures": {e["unique_id"]: e for e in exposures},
            }
        )
    )


def results(*rows):
    return decode_run_results(
        msgspec.json.encode(
            {
                "metadata": {"dbt_schema_version": RESULTS_V6, "invocation_id": "abc"},
                "results": [
                    {
                        "unique_id": uid,
                        "status": status,
                        "message": message,
                        "failures": None,
                        "timing": [],
                        "thread_id": "Thread-1",
                    }
                    for uid, status, message in rows
                ],
                "elapsed_time": 1.5,
                "args": {"which": "build"},
            }
        )
    )


LOCK = 'IO Error: Could not set lock on file "/d/x.duckdb": Conflicting lock is held in x'
DROPPED = 'Binder Error: Referenced column "email" not found in FROM clause!'
RAW = {
    "unique_id": "source.shop.erp.orders",
    "name": "orders",
    "source_name": "erp",
    "identifier": "orders",
    "relation_name": '"db"."erp"."orders"',
}

GRAPH = manifest(
    model("stg_orders", "source.shop.erp.orders"),
    model("stg_customers"),
    model("orders", "model.shop.stg_orders", "model.shop.stg_customers"),
    model(
        "not_null_stg_customers_id",
        "model.shop.stg_customers",
        resource_type="test",
        attached_node="model.shop.stg_customers",
    ),
    model("not_null_orders_id", "model.shop.orders", resource_type="test"),
    model("finance", "model.shop.orders"),
    sources=[RAW],
)


def by_id(failures):
    return {f.unique_id: f for f in failures}


def test_skipped_nodes_trace_back_to_their_root_cause():
    run = results(
        ("model.shop.stg_orders", "error", LOCK),
        ("model.shop.stg_customers", "success", "OK"),
        ("test.shop.not_null_stg_customers_id", "pass", None),
        ("model.shop.orders", "skipped", None),
        ("test.shop.not_null_orders_id", "skipped", None),
        ("model.shop.finance", "skipped", None),
    )
    found = by_id(classify(run, GRAPH, builtin_patterns()))
    assert set(found) == {
        "model.shop.stg_orders",
        "model.shop.orders",
        "test.shop.not_null_orders_id",
        "model.shop.finance",
    }
    assert found["model.shop.stg_orders"].failure_class is FailureClass.TRANSIENT
    for uid in ("model.shop.orders", "test.shop.not_null_orders_id", "model.shop.finance"):
        assert found[uid].failure_class is FailureClass.DEPENDENCY_FAILED
        assert found[uid].root_causes == ("model.shop.stg_orders",)
        assert found[uid].effective_class is FailureClass.TRANSIENT


def test_a_failed_test_on_a_parent_is_the_root_cause_of_a_skip():
    run = results(
        ("model.shop.stg_orders", "success", "OK"),
        ("model.shop.stg_customers", "success", "OK"),
        (
            "test.shop.not_null_stg_customers_id",
            "fail",
            "Got 3 results, configured to fail if != 0",
        ),
        ("model.shop.orders", "skipped", None),
    )
    found = by_id(classify(run, GRAPH, builtin_patterns()))
    assert found["test.shop.not_null_stg_customers_id"].failure_class is FailureClass.DATA_QUALITY
    assert found["model.shop.orders"].root_causes == ("test.shop.not_null_stg_customers_id",)
    assert found["model.shop.orders"].effective_class is FailureClass.DATA_QUALITY


def test_mixed_root_causes_are_not_transient():
    run = results(
        ("model.shop.stg_orders", "error", LOCK),
        ("model.shop.stg_customers", "error", DROPPED),
        ("model.shop.orders", "skipped", None),
    )
    found = by_id(classify(run, GRAPH, builtin_patterns()))
    assert found["model.shop.orders"].root_causes == (
        "model.shop.stg_customers",
        "model.shop.stg_orders",
    )
    assert found["model.shop.orders"].effective_class is FailureClass.SCHEMA_CHANGE


@pytest.mark.parametrize(
    ("uid", "status", "message", "expected"),
    [
        (
            "model.shop.orders",
            "partial success",
            "2 of 5 batches failed",
            FailureClass.PARTIAL_LOAD,
        ),
        (
            "source.shop.erp.orders",
            "runtime error",
            "Freshness check failed",
            FailureClass.SOURCE_UNAVAILABLE,
        ),
        (
            "source.shop.erp.orders",
            "error",
            "loaded_at 5 hours ago",
            FailureClass.SOURCE_UNAVAILABLE,
        ),
        (
            "model.shop.stg_orders",
            "error",
            "Catalog Error: Table with name orders does not exist!",
            FailureClass.SOURCE_UNAVAILABLE,
        ),
        (
            "model.shop.orders",
            "error",
            "Catalog Error: Table with name stg_orders does not exist!",
            FailureClass.SCHEMA_CHANGE,
        ),
        ("model.shop.orders", "error", "surprise", FailureClass.UNKNOWN),
    ],
)
def test_statuses_and_sources(uid, status, message, expected):
    [failure] = classify(results((uid, status, message)), GRAPH, builtin_patterns())
    assert failure.failure_class is expected


def test_a_missing_relation_read_by_a_rule_is_not_a_schema_change():
    # children's relationship rule reads parents, which children does not depend on: on a fresh
    # warehouse dbt may build children first
    graph = manifest(
        model("parents"),
        model("children"),
        model("grandchildren", "model.shop.children"),
        model(
            "relationships_children_parent_id__id__ref_parents_",
            "model.shop.children",
            "model.shop.parents",
            resource_type="test",
            attached_node="model.shop.children",
        ),
        model(
            "relationships_grandchildren_child_id__id__ref_children_",
            "model.shop.grandchildren",
            "model.shop.children",
            resource_type="test",
            attached_node="model.shop.grandchildren",
        ),
    )
    missing = "Catalog Error: Table with name {} does not exist!"
    [failure] = classify(
        results(("model.shop.children", "error", missing.format("parents"))),
        graph,
        builtin_patterns(),
    )
    assert failure.failure_class is FailureClass.UNKNOWN
    assert "relationships_children_parent_id__id__ref_parents_ reads parents" in failure.reason
    assert "-- depends_on: {{ ref('parents') }}" in failure.reason
    # a relation the model itself reads, or that only another model's rule reads, is still one
    # that was dropped or renamed
    for uid, name in (("model.shop.grandchildren", "children"), ("model.shop.children", "other")):
        [failure] = classify(
            results((uid, "error", missing.format(name))), graph, builtin_patterns()
        )
        assert failure.failure_class is FailureClass.SCHEMA_CHANGE, (uid, name)


def test_gate_hold_is_data_quality_and_marked():
    message = (
        "sluice gate held publication of model 'orders': high: 4 rows (4.00% of 100) "
        "over the threshold of 1%"
    )
    [failure] = classify(
        results(("model.shop.orders", "error", message)), GRAPH, builtin_patterns()
    )
    assert failure.failure_class is FailureClass.DATA_QUALITY and failure.gate_held


def test_passing_warning_and_noop_results_are_not_failures():
    run = results(
        ("model.shop.orders", "success", "OK"),
        ("test.shop.not_null_orders_id", "warn", "1"),
        ("exposure.shop.x", "no-op", None),
        ("test.shop.y", "pass", None),
    )
    assert classify(run, GRAPH, builtin_patterns()) == ()


def test_skip_without_a_failed_upstream_is_unknown():
    [failure] = classify(results(("model.shop.orders", "skipped", None)), GRAPH, builtin_patterns())
    assert failure.root_causes == () and failure.effective_class is FailureClass.UNKNOWN


def test_effective_class_precedence():
    assert (
        effective_class([FailureClass.TRANSIENT, FailureClass.TRANSIENT]) is FailureClass.TRANSIENT
    )
    assert (
        effective_class([FailureClass.TRANSIENT, FailureClass.DATA_QUALITY])
        is FailureClass.DATA_QUALITY
    )
    assert effective_class([]) is FailureClass.UNKNOWN


def test_merge_keeps_the_latest_result_and_every_field():
    first = msgspec.json.encode(
        {
            "metadata": {"dbt_schema_version": RESULTS_V6, "invocation_id": "one"},
            "results": [
                {"unique_id": "a", "status": "error", "timing": [{"name": "execute", "x": 1}]},
                {"unique_id": "b", "status": "success"},
                {"unique_id": "c", "status": "skipped"},
            ],
            "elapsed_time": 2.0,
            "args": {"which": "build"},
        }
    )
    second = msgspec.json.encode(
        {
            "metadata": {"dbt_schema_version": RESULTS_V6, "invocation_id": "two"},
            "results": [
                {"unique_id": "c", "status": "success"},
                {"unique_id": "a", "status": "success", "timing": [{"name": "execute", "x": 2}]},
            ],
            "elapsed_time": 1.0,
            "args": {"which": "retry"},
        }
    )
    merged = msgspec.json.decode(merge_run_results([first, second]))
    assert [(r["unique_id"], r["status"]) for r in merged["results"]] == [
        ("a", "success"),
        ("b", "success"),
        ("c", "success"),
    ]
    assert merged["results"][0]["timing"] == [{"name": "execute", "x": 2}]
    assert merged["metadata"]["invocation_id"] == "two" and merged["elapsed_time"] == 3.0
    decode_run_results(merge_run_results([first, second]))  # still a valid run_results


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            b'{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v8.json"}}',
            "v8 is too old",
        ),
        (b'{"metadata": {"dbt_schema_version": "https://schemas', "truncated"),
        (b'{"metadata": {}}', "dbt_schema_version"),
    ],
)
def test_unsupported_manifests_are_refused(data, error):
    with pytest.raises(InputError, match=error):
        decode_manifest(data)


def _real(kind, version):
    paths = sorted((PARSER_ARTIFACTS / kind / f"v{version}").rglob("*.json"))
    assert paths, f"no {kind} v{version} under {PARSER_ARTIFACTS}"
    return paths


def test_real_artifacts_from_several_dbt_versions():
    for version in (9, 10, 11, 12):
        for path in _real("manifest", version):
            assert load_manifest(path).nodes
    for version in (4, 5, 6):
        for path in _real("run_results", version):
            assert load_run_results(path).results
    for path in _real("run_results", 3):
        with pytest.raises(InputError, match="too old"):
            load_run_results(path)
