"""The report is honest about its inputs, and agrees with the alerts on owners and criticality.

Hand-made artifacts (tests/fixtures/synth.py) for each case; the warehouse ones use a DuckDB
file through the dbt adapter, as a user's report would.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from sluice.artifacts import decode_manifest
from sluice.build import build
from sluice.classify import Failure, FailureClass
from sluice.cli import main
from sluice.errors import InputError
from sluice.escalate import escalate
from sluice.escalate.priority import priority
from sluice.impact import ExposureStatus, ProblemKind
from sluice.lineage import build_graph
from sluice.report import generate_report
from sluice.retry.config import EscalationSettings

from tests import scenario
from tests.fixtures import synth
from tests.fixtures.synth import exposure, model, result, uid

FIXTURES = Path(__file__).parent / "fixtures"


def _chain(tmp_path: Path, runs: dict, *, name: str = "proj") -> Path:
    root = tmp_path / name
    man = synth.manifest(
        [model("a"), model("b", (uid("a"),))],
        exposures=[exposure("dash", (uid("b"),))],
    )
    synth.write_target(root / "target", man, runs)
    return root


def _statuses(result) -> dict[str, str]:
    return {e.name: e.status.value for e in result.exposures}


def test_an_unknown_status_is_unknown_never_healthy(tmp_path: Path) -> None:
    runs = synth.run_results(
        [result(uid("a"), "success"), result(uid("b"), "cancelled_by_the_future")]
    )
    report = generate_report(_chain(tmp_path, runs), warehouse=False)
    assert _statuses(report) == {"dash": "unknown"}
    [root] = [rc for rc in report.impact.root_causes if rc.node_id == uid("b")]
    assert root.kind is ProblemKind.UNKNOWN_STATUS and root.status == "cancelled_by_the_future"


def test_sluice_build_without_its_report_reads_an_unknown_status_as_unknown(
    tmp_path: Path,
) -> None:
    """Without the report (disabled, or failed), the build states the exposures' statuses by
    the report's own rule: a status dbt might write one day is unknown, not healthy."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "dbt_project.yml").write_text("name: shop\nconfig-version: 2\n")
    man = synth.manifest(
        [model("a"), model("b", (uid("a"),))], exposures=[exposure("dash", (uid("b"),))]
    )
    runs = synth.run_results(
        [result(uid("a"), "success"), result(uid("b"), "cancelled_by_the_future")]
    )

    def dbt(args: list[str], log: Path) -> int:  # a dbt writing a status sluice does not know
        synth.write_target(root / "target", man, runs)
        return 0

    done = build(root, runner=dbt, report=False, warehouse=False, environ={})
    assert done.exposure_statuses_from == "build"
    assert dict(done.exposure_statuses) == {uid("dash", "exposure"): "unknown"}


def test_an_unknown_test_status_is_unknown(tmp_path: Path) -> None:
    root = tmp_path / "p"
    man = synth.manifest(
        [model("a"), synth.dbt_test("t_a", uid("a"))], exposures=[exposure("dash", (uid("a"),))]
    )
    runs = synth.run_results(
        [result(uid("a"), "success"), result("test.shop.t_a.abc123", "interrupted")]
    )
    synth.write_target(root / "target", man, runs)
    assert _statuses(generate_report(root, warehouse=False)) == {"dash": "unknown"}


def test_freshness_of_another_projects_sources_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = synth.source("raw", "orders")
    man = synth.manifest(
        [model("a", (src["unique_id"],))], sources=[src], exposures=[exposure("d", (uid("a"),))]
    )
    runs = synth.run_results([result(uid("a"), "success")])
    fresh = synth.sources_results(
        [
            synth.freshness(src["unique_id"], "pass"),
            synth.freshness("source.other_project.crm.accounts", "error"),
        ]
    )
    root = tmp_path / "p"
    synth.write_target(root / "target", man, runs, fresh)
    report = generate_report(root, warehouse=False)
    [warning] = report.impact.warnings
    assert "source.other_project.crm.accounts" in warning and "not in" in warning
    doc = json.loads(report.outputs["json"].read_text())
    assert doc["warnings"] == [warning]
    assert main(["report", "--project-dir", str(root), "--no-warehouse"]) == 0
    assert "warning: sources.json has freshness results" in capsys.readouterr().err


def test_a_cycle_is_refused_with_exit_2_naming_the_nodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    man = synth.manifest(
        [model("a", (uid("c"),)), model("b", (uid("a"),)), model("c", (uid("b"),))],
        exposures=[exposure("dash", (uid("c"),))],
    )
    root = tmp_path / "p"
    synth.write_target(root / "target", man, synth.run_results([result(uid("a"), "success")]))
    assert main(["report", "--project-dir", str(root), "--no-warehouse"]) == 2
    err = capsys.readouterr().err
    assert "cycle" in err and "model.shop.a" in err and "model.shop.b" in err
    assert "Traceback" not in err
    assert not (root / "target" / "sluice").exists()


# `args.which` of commands that build nothing, and how the report names them; None: run results
# naming no command (every dbt writes it: fixtures of run_results v1-v6 under tests/fixtures/)
NOT_BUILDS = [
    ("compile", "dbt compile"),
    ("generate", "dbt docs generate"),
    ("show", "dbt show"),
    ("ls", "dbt ls"),
    ("list", "dbt ls"),
    ("parse", "dbt parse"),
    ("run-operation", "dbt run-operation"),
    ("clone", "dbt clone"),
    # a build or run --empty: every model built with no rows, every test passing on nothing
    ("build --empty", "dbt build --empty"),
    ("run --empty", "dbt run --empty"),
    (None, "names no dbt command"),
]


@pytest.mark.parametrize(("which", "named"), NOT_BUILDS)
def test_results_of_a_command_that_builds_nothing_never_count(
    tmp_path: Path, which: str | None, named: str
) -> None:
    built = synth.run_results([result(uid("a"), "success"), result(uid("b"), "error", "boom")])
    root = _chain(tmp_path, built)
    first = generate_report(root, warehouse=False)
    assert _statuses(first) == {"dash": "blocked"}

    # the command rewrites the artifacts: every node "success", nothing built
    other = synth.run_results(
        [result(uid("a"), "success"), result(uid("b"), "success")], invocation_id="other-run"
    )
    command, _, flag = (which or "").partition(" --")
    other["args"] = {"which": command} if command else {}
    if flag:
        other["args"][flag] = True
    man = json.loads((root / "target" / "manifest.json").read_text())
    man["metadata"]["invocation_id"] = "other-run"
    synth.write_target(root / "target", man, other)
    second = generate_report(root, warehouse=False)
    assert _statuses(second) == {"dash": "blocked"}, "the earlier state stands"
    assert any(named in w and "not counted" in w for w in second.impact.warnings)
    node_b = next(n for n in second.impact.nodes if n.unique_id == uid("b"))
    assert node_b.invocation_id == synth.INVOCATION and node_b.run_status == "error"

    # with no earlier state, such results are refused (exit 2), nothing written
    fresh = _chain(tmp_path, other, name="fresh")
    synth.write_target(fresh / "target", man, other)
    with pytest.raises(InputError, match=re.escape(named)):
        generate_report(fresh, warehouse=False)
    assert main(["report", "--project-dir", str(fresh), "--no-warehouse"]) == 2
    assert not (fresh / "target" / "sluice").exists()


def test_every_dbt_release_names_its_command_in_run_results() -> None:
    """What the None case rests on: run results of every schema version (v1, dbt 0.19, to v6)
    carry ``args.which``."""
    found = {}
    for path in sorted(FIXTURES.glob("**/run_results*.json")):
        data = json.loads(path.read_text())
        found[data["metadata"]["dbt_schema_version"].rsplit("/", 1)[-1]] = data["args"]["which"]
    assert sorted(found) == [f"v{n}.json" for n in range(1, 7)]
    assert all(found.values())


def test_results_older_than_the_horizon_count_as_unknown(tmp_path: Path) -> None:
    old = synth.run_results([result(uid("a"), "success"), result(uid("b"), "success")])
    old["metadata"]["generated_at"] = "2026-01-01T09:00:00Z"
    root = _chain(tmp_path, old)
    assert _statuses(generate_report(root, warehouse=False)) == {"dash": "healthy"}
    # a run of `a` alone, ten days later: b's result is older than the 7-day horizon
    later = synth.run_results([result(uid("a"), "success")], invocation_id="later")
    later["metadata"]["generated_at"] = "2026-01-11T09:00:00Z"
    man = json.loads((root / "target" / "manifest.json").read_text())
    man["metadata"]["invocation_id"] = "later"
    synth.write_target(root / "target", man, later)
    report = generate_report(root, warehouse=False)
    assert _statuses(report) == {"dash": "unknown"}
    assert any("older" in w or "horizon" in w for w in report.impact.warnings)
    # a longer horizon keeps b's result
    wide = generate_report(root, warehouse=False, horizon=timedelta(days=30))
    assert _statuses(wide) == {"dash": "healthy"}


def test_the_horizon_var_is_read_from_the_project_file_and_from_vars(tmp_path: Path) -> None:
    old = synth.run_results([result(uid("a"), "success"), result(uid("b"), "success")])
    old["metadata"]["generated_at"] = "2026-01-01T09:00:00Z"
    root = _chain(tmp_path, old)
    (root / "dbt_project.yml").write_text(
        "name: shop\nprofile: shop\nconfig-version: 2\nvars:\n  sluice_report_horizon: 30d\n"
    )
    report = ["report", "--project-dir", str(root), "--no-warehouse"]
    assert main(report) == 0
    later = synth.run_results([result(uid("a"), "success")], invocation_id="later")
    later["metadata"]["generated_at"] = "2026-01-11T09:00:00Z"
    man = json.loads((root / "target" / "manifest.json").read_text())
    man["metadata"]["invocation_id"] = "later"
    synth.write_target(root / "target", man, later)
    impact = root / "target" / "sluice" / "impact.json"

    def dash() -> str:
        [only] = json.loads(impact.read_text())["exposures"]
        return str(only["status"])

    # b's result is ten days old: within the project's 30 days, past the default 7
    assert main(report) == 0 and dash() == "healthy"
    assert main([*report, "--vars", "{sluice_report_horizon: 5d}"]) == 1 and dash() == "unknown"
    assert main([*report, "--vars", "{sluice_report_horizon: 12d}"]) == 0 and dash() == "healthy"
    assert main([*report, "--vars", "{sluice_report_horizon: soon}"]) == 2


def test_an_unwritable_output_folder_is_refused_before_the_warehouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    synth.write_target(project / "target", man, runs, fresh)
    synth.create_sluice_runs(project / "wh.duckdb", [synth.sluice_run("orders", rows_held=40)])
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code = main(
        [
            "report",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--output-dir",
            str(blocker / "reports"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "not a folder" in err and "Traceback" not in err
    con = duckdb.connect(str(project / "wh.duckdb"), read_only=True)
    try:
        tables = con.execute(
            "select table_name from information_schema.tables where table_name like 'sluice_%'"
        ).fetchall()
    finally:
        con.close()
    assert tables == [("sluice_runs",)], "nothing was written to the warehouse"
    assert not (project / "target" / "sluice").exists()


# -- the report and the alerts share one rule -----------------------------------------------------


def _ruled_manifest() -> dict:
    rule = synth.dbt_test("orders_customer_required", uid("orders"))
    rule["test_metadata"] = {
        "name": "sluice_not_null",
        "namespace": "sluice",
        "kwargs": {"column_name": "customer_id", "owner": "crm-team@example.com"},
    }
    other = synth.dbt_test("orders_status_known", uid("orders"))
    other["test_metadata"] = {
        "name": "sluice_accepted_values",
        "namespace": "sluice",
        "kwargs": {"column_name": "status", "owner": "ops@example.com"},
    }
    orders = model(
        "orders", materialized="sluice", meta={"sluice": {"owner": "erp-team@example.com"}}
    )
    return synth.manifest(
        [orders, model("revenue", (uid("orders"),)), rule, other],
        exposures=[
            exposure("board", (uid("revenue"),), maturity="high", owner={"name": "CFO"}),
        ],
    )


def test_report_and_alerts_agree_on_owner_and_criticality(tmp_path: Path) -> None:
    project = synth.write_project(tmp_path / "proj")
    man = _ruled_manifest()
    runs = synth.run_results(
        [
            result(uid("orders"), "error", "sluice gate held publication of model 'orders': ..."),
            result(uid("revenue"), "skipped"),
        ]
    )
    synth.write_target(project / "target", man, runs)
    counts = [
        {"rule_name": "orders_status_known", "error_class": "invalid_value", "severity": "medium",
         "route": "quarantine", "rows": 30},
        {"rule_name": "orders_customer_required", "error_class": "missing_required_field",
         "severity": "critical", "route": "quarantine", "rows": 2},
    ]  # fmt: skip
    synth.create_sluice_runs(
        project / "wh.duckdb",
        [synth.sluice_run("orders", gate_status="held", rows_held=32, rule_counts=counts)],
    )
    report = generate_report(project, profiles_dir=project)
    [held] = [rc for rc in report.impact.root_causes if rc.kind is ProblemKind.GATE_HELD]
    board = next(e for e in report.exposures if e.name == "board")
    assert board.status is ExposureStatus.STALE and board.criticality == "critical"
    # the most severe breaching rule's owner, not the model's
    assert held.owner == "crm-team@example.com"
    assert "orders_customer_required" in (held.owner_basis or "")

    manifest = decode_manifest(json.dumps(man).encode())
    failure = Failure(
        uid("orders"), "orders", "model", "error", FailureClass.DATA_QUALITY, "held", "why",
        (), FailureClass.DATA_QUALITY, True,
    )  # fmt: skip
    [alert] = escalate(
        [failure],
        manifest,
        build_graph(manifest),
        EscalationSettings(),
        rule_counts={
            uid(q.model_unique_id.split(".")[-1]): q.rule_counts for q in report.impact.quarantine
        },
    )
    assert alert.owner == held.owner
    assert alert.criticality == board.criticality == "critical"
    assert alert.severity == "critical" and alert.priority == "P1"
    doc = json.loads(report.outputs["json"].read_text())
    [root_doc] = [r for r in doc["root_causes"] if r["kind"] == "gate_held"]
    assert root_doc["owner"] == "crm-team@example.com"


EXPOSURE_YML = """
exposures:
  - name: board
    type: dashboard
    maturity: high
    owner: {name: CFO, email: cfo@example.com}
    depends_on: [ref('orders_daily')]
"""


def test_sluice_build_without_the_warehouse_alerts_as_its_report_says(make_project) -> None:
    """Under --no-warehouse both read the counts the model's run result states: the breaching
    rule's owner and severity, the exposure's criticality, hence one priority."""
    project = make_project("duckdb")
    critical_faults = [
        "9,,paid,5,2024-01-09,2024-01-02 10:00:00",
        "10,,open,6,2024-01-10,2024-01-02 10:00:00",
    ]
    scenario.setup(
        project, orders=scenario.GOOD_ORDERS + critical_faults, required_severity="critical"
    )
    project.write("models/exposures.yml", EXPOSURE_YML)
    project.dbt("seed")  # installs the package too
    where = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    assert main(["build", *where, "--no-warehouse", "--dbt-log", "--max-attempts", "1"]) == 1

    out = project.root / "target" / "sluice"
    alerts = json.loads((out / "alerts.json").read_text())
    [alert] = [e for e in alerts["escalations"] if e["name"] == "orders"]
    impact = json.loads((out / "impact.json").read_text())
    [held] = [r for r in impact["root_causes"] if r["kind"] == "gate_held"]
    [board] = impact["exposures"]
    [counts] = [
        m for m in impact["quarantine"]["models"] if m["model_unique_id"] == alert["unique_id"]
    ]
    assert impact["quarantine_source"] == "run_results"
    # the rule's owner first for a row-level breach, not the model's (erp-team)
    assert held["breached_rules"][0] == "orders_customer_required"
    assert alert["owner"] == held["owner"] == "crm-team"
    assert alert["criticality"] == board["criticality"] == "critical"
    severity = next(
        r["severity"] for r in counts["rule_counts"] if r["rule_name"] == held["breached_rules"][0]
    )
    assert alert["severity"] == severity == "critical"
    assert alert["priority"] == priority(severity, board["criticality"]) == "P1"


def test_no_warehouse_never_imports_dbt(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = _chain(tmp_path, synth.run_results([result(uid("a"), "success")]))
    code = (
        "import sys\n"
        "from sluice.cli import main\n"
        f"rc = main(['report', '--project-dir', {str(root)!r}, '--no-warehouse'])\n"
        "loaded = sorted(m for m in sys.modules if m == 'dbt' or m.startswith('dbt.'))\n"
        "print(rc, loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "1 []", done.stdout + done.stderr
