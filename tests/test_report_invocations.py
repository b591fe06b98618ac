"""The report follows what dbt ran across invocations: ``dbt run`` then ``dbt test`` gives the
same report as one ``dbt build``; ``dbt compile`` and ``dbt docs generate`` change nothing."""

from __future__ import annotations

import json
from pathlib import Path

from sluice.cli import main

from tests import scenario

EXPOSURES = """
exposures:
  - name: finance
    type: dashboard
    maturity: high
    owner: {name: Finance, email: finance@example.com}
    depends_on: [ref('orders_daily')]
  - name: ops
    type: application
    maturity: low
    owner: {name: Ops}
    depends_on: [ref('customers')]
"""


def _report(project, name: str, capsys) -> dict:
    out = project.root / "reports" / name
    code = main(
        [
            "report",
            "--project-dir",
            str(project.root),
            "--profiles-dir",
            str(project.root),
            "--format",
            "json",
            "--output-dir",
            str(out),
            "--state-path",
            str(project.root / "states" / f"{name.split('-')[0]}.json"),
        ]
    )
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    doc = json.loads((out / "impact.json").read_text())
    doc["_stderr"] = captured.err
    return doc


def _picture(doc: dict) -> dict:
    return {
        "exposures": {
            e["name"]: (e["status"], e["rows_held_upstream"], e["criticality"])
            for e in doc["exposures"]
        },
        "root_causes": sorted(rc["id"] for rc in doc["root_causes"]),
        "rows_held": doc["summary"]["rows_held"],
    }


def test_run_then_test_reports_as_build_and_compile_changes_nothing(make_project, capsys):
    project = make_project("duckdb")
    scenario.setup(project)
    project.write("models/exposures.yml", EXPOSURES)
    # a plain dbt test that fails on a model downstream of the sluice model
    project.write(
        "tests/daily_amount_small.sql",
        "select * from {{ ref('orders_daily') }} where amount > 10\n",
    )

    project.dbt("build", expect=1)
    built = _report(project, "build", capsys)
    assert built["quarantine_source"] == "warehouse"
    assert built["exposures"][0]["status"] == "blocked"  # the failing test on orders_daily

    project.dbt("run")
    after_run = _report(project, "split-run", capsys)
    # the tests have not run yet in this history: nothing says the daily amounts are wrong
    assert {e["name"]: e["status"] for e in after_run["exposures"]}["finance"] == "degraded"
    project.dbt("test", expect=1)
    after_test = _report(project, "split-test", capsys)
    assert _picture(after_test) == _picture(built)

    nodes = {n["unique_id"]: n for n in after_test["nodes"]}
    daily = nodes["model.sluice_test.orders_daily"]
    test = next(n for uid, n in nodes.items() if uid.startswith("test.sluice_test.daily_amount"))
    assert daily["command"] == "run" and test["command"] == "test"
    assert daily["invocation_id"] != test["invocation_id"]
    assert daily["result_at"] and test["result_at"]
    assert {i["command"] for i in after_test["invocations"]} == {"run", "test"}

    # commands that build nothing are never counted: the statuses stand, with a warning
    project.dbt("compile")
    compiled = _report(project, "split-compile", capsys)
    assert _picture(compiled) == _picture(built)
    assert any("dbt compile" in w for w in compiled["warnings"])
    assert "warning: run_results.json was written by `dbt compile`" in compiled["_stderr"]
    project.dbt("docs", "generate")
    documented = _report(project, "split-docs", capsys)
    assert _picture(documented) == _picture(built)
    assert any("dbt docs generate" in w for w in documented["warnings"])


def test_a_first_report_on_compile_results_exits_2(make_project, capsys):
    project = make_project("duckdb")
    scenario.setup(project)
    project.write("models/exposures.yml", EXPOSURES)
    project.dbt("compile")
    code = main(
        [
            "report",
            "--project-dir",
            str(project.root),
            "--profiles-dir",
            str(project.root),
            "--no-warehouse",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "dbt compile" in err and "builds nothing" in err
    assert not (Path(project.root) / "target" / "sluice").exists()
