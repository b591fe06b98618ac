"""One root cause per problem, named as dbt names the node, from results that are builds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from sluice.artifacts.models import Manifest, RunResults
from sluice.impact import ProblemKind, analyze
from sluice.report import generate_report

from tests.fixtures import synth
from tests.fixtures.synth import exposure, model, result, uid

NOW = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)


def _decode(man: dict[str, Any], runs: dict[str, Any]) -> tuple[Manifest, RunResults]:
    return (
        msgspec.json.decode(msgspec.json.encode(man), type=Manifest),
        msgspec.json.decode(msgspec.json.encode(runs), type=RunResults),
    )


def _unit_test(name: str, tested: str) -> dict[str, Any]:
    """A unit test as dbt 1.11 writes it in the manifest's ``unit_tests``."""
    return {
        "unique_id": f"unit_test.{synth.PKG}.{tested}.{name}",
        "resource_type": "unit_test",
        "name": name,
        "package_name": synth.PKG,
        "model": tested,
        "depends_on": {"nodes": [uid(tested)], "macros": []},
        "fqn": [synth.PKG, tested, name],
    }


def test_a_failing_unit_test_that_skips_its_model_is_one_root_cause() -> None:
    # dbt build runs orders' unit test first; it fails, so orders and revenue are skipped
    man = synth.manifest(
        [model("stg"), model("orders", (uid("stg"),)), model("revenue", (uid("orders"),))],
        exposures=[exposure("finance", (uid("revenue"),))],
    )
    unit = _unit_test("test_totals", "orders")
    man["unit_tests"] = {unit["unique_id"]: unit}
    runs = synth.run_results(
        [
            result(uid("stg"), "success"),
            result(unit["unique_id"], "fail", "actual differs from expected"),
            result(uid("orders"), "skipped"),
            result(uid("revenue"), "skipped"),
        ]
    )
    impact = analyze(*_decode(man, runs), generated_at=NOW)
    assert [(rc.node_id, rc.kind) for rc in impact.root_causes] == [
        (unit["unique_id"], ProblemKind.TEST_FAIL)
    ]
    (cause,) = impact.root_causes
    assert {uid("orders"), uid("revenue")} <= set(cause.affected_nodes)
    assert {e.name: e.status.value for e in impact.exposures} == {"finance": "blocked"}


def test_a_skip_with_nothing_failing_is_still_its_own_root_cause() -> None:
    man = synth.manifest([model("orders")], exposures=[exposure("finance", (uid("orders"),))])
    unit = _unit_test("test_totals", "orders")
    man["unit_tests"] = {unit["unique_id"]: unit}
    runs = synth.run_results([result(unit["unique_id"], "pass"), result(uid("orders"), "skipped")])
    impact = analyze(*_decode(man, runs), generated_at=NOW)
    assert [(rc.node_id, rc.kind) for rc in impact.root_causes] == [
        (uid("orders"), ProblemKind.SKIPPED)
    ]


def _versioned(name: str, version: int, depends: tuple[str, ...] = ()) -> dict[str, Any]:
    node = model(name, depends)
    node["unique_id"] = f"model.{synth.PKG}.{name}.v{version}"
    node["version"] = version
    node["latest_version"] = version
    node["alias"] = f"{name}_v{version}"
    return node


def test_a_versioned_model_is_named_with_its_version_everywhere(tmp_path: Path) -> None:
    v1, v2 = _versioned("orders", 1), _versioned("orders", 2)
    man = synth.manifest(
        [v1, v2, model("revenue", (v2["unique_id"],))],
        exposures=[exposure("finance", (uid("revenue"),))],
    )
    runs = synth.run_results(
        [
            result(v1["unique_id"], "success"),
            result(v2["unique_id"], "error", "Runtime Error: boom"),
            result(uid("revenue"), "skipped"),
        ]
    )
    synth.write_target(tmp_path / "target", man, runs)
    report = generate_report(tmp_path, warehouse=False)
    (cause,) = report.impact.root_causes
    assert cause.node_name == "orders.v2"
    doc = json.loads(report.outputs["json"].read_text())
    assert doc["root_causes"][0]["node_name"] == "orders.v2"
    md = report.outputs["md"].read_text()
    html = report.outputs["html"].read_text()
    assert "| orders.v2 |" in md
    assert "| v2 |" not in md and " v2, " not in md and "| v2, " not in md
    # the card, and the lineage picture and its path table
    assert ">orders.v2<" in html.replace("<wbr>", "")
    assert ">v2<" not in html.replace("<wbr>", "")


def _chain(root: Path, runs: dict[str, Any]) -> Path:
    man = synth.manifest(
        [model("a"), model("b", (uid("a"),))],
        exposures=[exposure("dash", (uid("b"),))],
        invocation_id=runs["metadata"]["invocation_id"],
    )
    synth.write_target(root / "target", man, runs)
    return root


def test_a_passing_empty_build_does_not_turn_exposures_healthy(tmp_path: Path) -> None:
    failed = synth.run_results([result(uid("a"), "success"), result(uid("b"), "error", "boom")])
    root = _chain(tmp_path, failed)
    assert {e.name: e.status.value for e in generate_report(root, warehouse=False).exposures} == {
        "dash": "blocked"
    }
    empty = synth.run_results(
        [result(uid("a"), "success"), result(uid("b"), "success")], invocation_id="empty-run"
    )
    empty["args"] = {"which": "build", "empty": True}
    _chain(root, empty)
    report = generate_report(root, warehouse=False)
    assert {e.name: e.status.value for e in report.exposures} == {"dash": "blocked"}
    assert any("dbt build --empty" in w and "not counted" in w for w in report.impact.warnings)


def test_the_header_counts_the_root_causes_the_cards_show(tmp_path: Path) -> None:
    # models that never ran: root causes of kind no_result, shown as cards, counted in the
    # header and listed with who fixes them in summary.md
    man = synth.manifest(
        [model("a"), model("b"), model("c", (uid("a"), uid("b")))],
        exposures=[exposure("dash", (uid("c"),))],
    )
    runs = synth.run_results([result(uid("c"), "success")])
    synth.write_target(tmp_path / "target", man, runs)
    report = generate_report(tmp_path, warehouse=False)
    kinds = [rc.kind for rc in report.impact.root_causes]
    assert kinds == [ProblemKind.NO_RESULT, ProblemKind.NO_RESULT]
    html = report.outputs["html"].read_text()
    assert html.count("data-root-cause=") == 2
    assert "root causes: 2 (2 with no known result)" in html
    md = report.outputs["md"].read_text()
    assert "· 2 root causes (2 with no known result) ·" in md
    assert "Root causes: who fixes what" in md
    assert "| a | no_result |" in md and "| b | no_result |" in md
