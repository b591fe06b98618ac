"""generate_report and `sluice report`: files, exit codes, warehouse tables, no half writes."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from sluice.cli import main
from sluice.errors import InputError
from sluice.impact import ExposureStatus
from sluice.project import ProjectFlags, load_project
from sluice.report import generate_report

from tests.fixtures import synth


def _project(tmp_path: Path, *, with_runs: bool = True) -> Path:
    project = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    synth.write_target(project / "target", man, runs, fresh)
    rows = [synth.sluice_run("orders", rows_held=40)] if with_runs else []
    # an older invocation whose gate passed: the last good data of a later hold
    rows.append(
        synth.sluice_run("orders", invocation_id="older", run_started_at="2026-01-01 06:00:00")
    )
    synth.create_sluice_runs(project / "wh.duckdb", rows)
    return project


def _rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_no_warehouse_writes_three_files(tmp_path: Path) -> None:
    man, runs, fresh = synth.shop()
    synth.write_target(tmp_path / "target", man, runs, fresh)
    result = generate_report(tmp_path, warehouse=False)
    assert set(result.outputs) == {"html", "json", "md"}
    assert all(p.parent == tmp_path / "target" / "sluice" for p in result.outputs.values())
    doc = json.loads(result.outputs["json"].read_text())
    assert doc["schema_version"] == 1
    assert doc["invocation_id"] == synth.INVOCATION
    assert doc["quarantine_source"] == "run_results"
    assert {e["name"]: e["status"] for e in doc["exposures"]} == {
        "exec": "blocked",
        "crm": "blocked",
        "finance": "degraded",
    }
    assert result.exposure_statuses["exposure.shop.finance"] is ExposureStatus.DEGRADED
    assert result.warehouse_tables == ()
    md = result.outputs["md"].read_text()
    assert "3 of 3 exposures not healthy" in md
    html = result.outputs["html"].read_text()
    assert 'id="board"' in html and "finance" in html


def test_formats_and_output_dir(tmp_path: Path) -> None:
    man, runs, fresh = synth.shop()
    synth.write_target(tmp_path / "target", man, runs, fresh)
    out = tmp_path / "out"
    result = generate_report(tmp_path, warehouse=False, formats=("md,json",), output_dir=out)
    assert sorted(p.name for p in out.iterdir()) == ["impact.json", "summary.md"]
    assert set(result.outputs) == {"md", "json"}


def test_unknown_format_is_an_input_error(tmp_path: Path) -> None:
    man, runs, fresh = synth.shop()
    synth.write_target(tmp_path / "target", man, runs, fresh)
    with pytest.raises(InputError, match="unknown report format 'pdf'"):
        generate_report(tmp_path, warehouse=False, formats=("html,pdf",))
    assert not (tmp_path / "target" / "sluice").exists()


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    man, runs, fresh = synth.shop()
    synth.write_target(tmp_path / "target", man, runs, fresh)
    assert main(["report", "--project-dir", str(tmp_path), "--no-warehouse"]) == 1
    assert "3 exposures" in capsys.readouterr().out

    healthy = tmp_path / "healthy"
    man = synth.manifest([synth.model("a")], exposures=[synth.exposure("dash", (synth.uid("a"),))])
    synth.write_target(
        healthy / "target", man, synth.run_results([synth.result(synth.uid("a"), "success")])
    )
    assert main(["report", "--project-dir", str(healthy), "--no-warehouse"]) == 0

    (healthy / "target" / "run_results.json").write_text('{"metadata": {"dbt_sch')
    assert main(["report", "--project-dir", str(healthy), "--no-warehouse"]) == 2
    err = capsys.readouterr().err
    assert "run_results.json" in err and "JSON" in err
    assert main(["report", "--project-dir", str(healthy), "--format", "pdf"]) == 2
    assert main(["report", "--project-dir", str(healthy), "--format", ""]) == 2
    assert main(["report", "--bogus-option"]) == 2


def test_invalid_input_writes_nothing(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "target" / "sources.json").write_text("{truncated")
    with pytest.raises(InputError, match=r"sources\.json"):
        generate_report(project, profiles_dir=project)
    assert not (project / "target" / "sluice").exists()
    tables = _rows(
        project / "wh.duckdb",
        "select table_name from information_schema.tables where table_name like 'sluice_%'",
    )
    assert tables == [("sluice_runs",)]


def test_previous_outputs_survive_a_refused_run(tmp_path: Path) -> None:
    man, runs, fresh = synth.shop()
    target = synth.write_target(tmp_path / "target", man, runs, fresh)
    first = generate_report(tmp_path, warehouse=False)
    before = first.outputs["json"].read_text()
    runs["metadata"]["invocation_id"] = "other"
    (target / "run_results.json").write_text(json.dumps(runs))
    with pytest.raises(InputError):
        generate_report(tmp_path, warehouse=False)
    assert first.outputs["json"].read_text() == before
    assert sorted(p.name for p in (target / "sluice").iterdir()) == [
        "impact.json",
        "report.html",
        "report_files.txt",  # the report files written, for `sluice review forget`
        "state.json",
        "state.json.lock",  # the state file's lock, kept for the next report
        "summary.md",
    ]


def test_warehouse_enrichment_and_tables(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = generate_report(project, profiles_dir=project)
    assert result.quarantine_source == "warehouse"
    assert result.warehouse_tables == (
        "analytics.sluice_exposure_status",
        "analytics.sluice_node_status",
        "analytics.sluice_source_freshness",
        "analytics.sluice_incidents",
        "analytics.sluice_incident_causes",
        # the rows it wrote (status rows, incident changes), sealed into the audit trail
        "analytics.sluice_audit_chain",
        "analytics.sluice_audit_records",
    )
    finance = next(e for e in result.exposures if e.name == "finance")
    assert finance.rows_held_upstream == 40  # sluice_runs, not the run result message (5)
    doc = json.loads(result.outputs["json"].read_text())
    assert doc["quarantine"]["by_error_class"] == {"invalid_value": 40}
    assert doc["quarantine"]["by_severity"] == {"high": 40}
    html = result.outputs["html"].read_text()
    assert "invalid_value" in html

    db = project / "wh.duckdb"
    rows = _rows(
        db,
        "select exposure_name, status, criticality, rows_held_upstream, invocation_id "
        "from analytics.sluice_exposure_status order by exposure_name",
    )
    assert rows == [
        ("crm", "blocked", "medium", 40, synth.INVOCATION),
        ("exec", "blocked", "critical", 40, synth.INVOCATION),
        ("finance", "degraded", "critical", 40, synth.INVOCATION),
    ]
    nodes = dict(
        _rows(
            db,
            "select node_unique_id, coalesce(problem, run_status) "
            "from analytics.sluice_node_status",
        )
    )
    assert nodes["model.shop.customers"] == "error"
    assert nodes["model.shop.customer_360"] == "skipped"
    assert nodes["model.shop.orders"] == "rows_held"
    fresh = dict(_rows(db, "select table_name, status from analytics.sluice_source_freshness"))
    assert fresh == {"orders": "pass", "customers": "warn"}


def test_rerunning_an_invocation_is_idempotent_and_others_append(tmp_path: Path) -> None:
    project = _project(tmp_path)
    db = project / "wh.duckdb"
    count = "select invocation_id, count(*) from analytics.{} group by 1 order by 1"
    generate_report(project, profiles_dir=project)
    first = {
        t: _rows(db, count.format(t))
        for t in ("sluice_exposure_status", "sluice_node_status", "sluice_source_freshness")
    }
    generate_report(project, profiles_dir=project)
    assert {t: _rows(db, count.format(t)) for t in first} == first

    man, runs, fresh = synth.shop()
    man["metadata"]["invocation_id"] = runs["metadata"]["invocation_id"] = "second-run"
    synth.write_target(project / "target", man, runs, fresh)
    generate_report(project, profiles_dir=project)
    rows = _rows(db, count.format("sluice_exposure_status"))
    assert rows == [(synth.INVOCATION, 3), ("second-run", 3)]


def test_missing_sluice_runs_table_is_not_an_error(tmp_path: Path) -> None:
    project = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    synth.write_target(project / "target", man, runs, fresh)
    duckdb.connect(str(project / "wh.duckdb")).close()
    result = generate_report(project, profiles_dir=project)
    assert result.quarantine_source == "run_results"
    assert len(result.warehouse_tables) == 7  # with the audit trail's two tables


def test_gate_hold_since_last_good_run(tmp_path: Path) -> None:
    project = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    orders = next(r for r in runs["results"] if r["unique_id"] == "model.shop.orders")
    orders.update(status="error", message="sluice gate held publication of model 'orders': x")
    orders["adapter_response"] = {}
    for r in runs["results"]:
        if r["unique_id"] in ("model.shop.revenue", "model.shop.customer_360"):
            r["status"] = "skipped"
    synth.write_target(project / "target", man, runs, fresh)
    synth.create_sluice_runs(
        project / "wh.duckdb",
        [
            synth.sluice_run("orders", gate_status="held", rows_held=30),
            synth.sluice_run("orders", invocation_id="older", run_started_at="2026-01-01 06:00:00"),
        ],
    )
    result = generate_report(project, profiles_dir=project)
    finance = next(e for e in result.exposures if e.name == "finance")
    assert finance.status is ExposureStatus.STALE
    assert finance.rows_held_upstream == 30
    assert finance.models_built_at is not None and finance.models_built_at.isoformat().startswith(
        "2026-01-01T06:00"
    )


def test_profile_env_var_and_target_resolution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = synth.write_project(tmp_path / "proj")

    def target(**flags):
        return load_project(ProjectFlags(project_dir=project, profiles_dir=project, **flags)).target

    assert target().adapter_type == "duckdb"
    assert target().credentials["path"] == str(project / "wh.duckdb")
    assert target().schema == "analytics"
    monkeypatch.setenv("SLUICE_TEST_DB", str(tmp_path / "elsewhere.duckdb"))
    assert target().credentials["path"] == str(tmp_path / "elsewhere.duckdb")
    with pytest.raises(InputError, match="no target 'prod'"):
        target(target="prod")


def test_target_path_from_dbt_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = synth.write_project(tmp_path / "proj")
    monkeypatch.setenv("SLUICE_TEST_TARGET_PATH", "custom_target")
    man, runs, fresh = synth.shop()
    synth.write_target(project / "custom_target", man, runs, fresh)
    result = generate_report(project, warehouse=False)
    assert result.outputs["json"].parent == project / "custom_target" / "sluice"


def test_unreadable_sluice_runs_is_an_input_error_and_writes_nothing(tmp_path: Path) -> None:
    project = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    synth.write_target(project / "target", man, runs, fresh)
    con = duckdb.connect(str(project / "wh.duckdb"))
    con.execute("create schema analytics")
    con.execute("create table analytics.sluice_runs (invocation_id varchar)")
    con.close()
    with pytest.raises(InputError, match=r"cannot read analytics\.sluice_runs"):
        generate_report(project, profiles_dir=project)
    assert not (project / "target" / "sluice").exists()
    tables = _rows(
        project / "wh.duckdb",
        "select table_name from information_schema.tables where table_name like 'sluice_%'",
    )
    assert tables == [("sluice_runs",)]
