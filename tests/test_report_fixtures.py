"""The report on real artifacts of the example project, written by dbt 1.10 and dbt 1.11.

Regenerate them with `make fixtures` (tests/fixtures/regenerate.sh).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sluice.artifacts import load_artifacts
from sluice.impact import ExposureStatus, ProblemKind
from sluice.report import ReportResult, generate_report

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "artifacts"
VERSIONS = ("dbt_1_10", "dbt_1_11")


def _report(tmp_path: Path, version: str) -> ReportResult:
    source = FIXTURES / version
    assert (source / "manifest.json").exists(), f"run `make fixtures` to create {source}"
    shutil.copytree(source, tmp_path / version / "target")
    return generate_report(tmp_path / version, warehouse=False)


@pytest.mark.parametrize("version", VERSIONS)
def test_gate_hold_in_the_example_project(tmp_path: Path, version: str) -> None:
    result = _report(tmp_path, version)
    artifacts = load_artifacts(FIXTURES / version)
    statuses = {r.unique_id: r.status for r in artifacts.run_results.results}
    held = [rc for rc in result.impact.root_causes if rc.kind is ProblemKind.GATE_HELD]
    assert held, "the example project holds one model's publication"
    for root in held:
        assert statuses[root.node_id] == "error"
        # what dbt skipped below the hold is affected, not a root cause of its own
        for node_id in root.affected_nodes:
            if statuses.get(node_id) == "skipped":
                assert all(rc.node_id != node_id for rc in result.impact.root_causes)
        for exposure_id in root.affected_exposures:
            status = result.exposure_statuses[exposure_id]
            assert status.rank >= ExposureStatus.STALE.rank
    sluice_models = [
        r.unique_id for r in artifacts.run_results.results if r.adapter_response.code == "SLUICE"
    ]
    assert sluice_models
    by_model = {q.model_unique_id: q for q in result.impact.quarantine}
    assert set(sluice_models) <= set(by_model)
    assert result.has_problems


def test_same_project_same_impact_across_dbt_versions(tmp_path: Path) -> None:
    first, second = (_report(tmp_path, version) for version in VERSIONS)
    assert dict(first.exposure_statuses) == dict(second.exposure_statuses)
    assert [rc.id for rc in first.impact.root_causes] == [rc.id for rc in second.impact.root_causes]
    assert [(s.unique_id, s.status) for s in first.impact.sources] == [
        (s.unique_id, s.status) for s in second.impact.sources
    ]
