"""Real dbt projects shaped unlike the example project, read by every sluice command.

One project carries the shapes at once: hooks using ``this`` and ``target``, vars from ``var()``
and ``--vars`` (``sluice_runs_table`` itself comes from a var given on the command line), an
``env_var(...) | as_number`` profile, several targets (one that cannot even be rendered here), a
target path renamed with ``{{ target.name }}``, and a local package with a model of its own.
dbt builds it; then ``sluice report``, ``sluice summary``, ``sluice review`` and the pandas API
must find everything where dbt put it.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import sluice
from sluice.cli import main

from tests import scenario
from tests.dbt_harness import REPO, DbtProject

VARS = "{runs_table_name: shape_runs}"

PROJECT = """
name: shapes
version: "1.0"
config-version: 2
profile: shapes
model-paths: ["models"]
seed-paths: ["seeds"]
test-paths: ["tests"]
macro-paths: ["macros"]
snapshot-paths: ["snapshots"]
analysis-paths: ["analyses"]
target-path: "build_output/{{ target.name }}"
on-run-start:
  - "{{ log('starting on ' ~ target.name ~ ' as ' ~ target.schema, info=true) }}"
on-run-end: "{{ log('finished ' ~ target.name, info=true) }}"
models:
  shapes:
    +post-hook: "select '{{ this }}' as checked_relation"
vars:
  sluice_schema: "{{ env_var('SHAPES_AUDIT_SCHEMA', 'audit') }}"
  sluice_runs_table: "{{ var('runs_table_name', 'sluice_runs') }}"
"""

PROFILES = """
shapes:
  target: "{{{{ env_var('SHAPES_TARGET', 'dev') }}}}"
  outputs:
    dev:
      type: duckdb
      path: "{path}"
      threads: "{{{{ env_var('SHAPES_THREADS', '2') | as_number }}}}"
      settings: {{preserve_insertion_order: true}}  # sluice then connects through dbt-duckdb
    other:
      type: postgres
      host: "{{{{ env_var('SHAPES_PG_HOST') }}}}"
      port: "{{{{ env_var('SHAPES_PG_PORT') | as_number }}}}"
      user: u
      password: p
      dbname: d
      schema: s
      threads: 1
"""

HELPER = """
name: helpers
version: "1.0"
config-version: 2
model-paths: ["models"]
macro-paths: ["macros"]
seed-paths: ["seeds"]
test-paths: ["tests"]
snapshot-paths: ["snapshots"]
analysis-paths: ["analyses"]
"""

EXPOSURES = """
exposures:
  - name: finance_board
    type: dashboard
    maturity: high
    owner: {name: Finance, email: finance@example.com}
    depends_on:
      - ref('orders_daily')
      - ref('helper_calendar')
"""


@pytest.fixture(scope="module")
def shaped(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    root = tmp_path_factory.mktemp("shapes") / "proj"
    project = DbtProject(root)
    helper = root.parent / "helpers"
    (helper / "models").mkdir(parents=True)
    (helper / "dbt_project.yml").write_text(textwrap.dedent(HELPER).lstrip())
    (helper / "models" / "helper_calendar.sql").write_text(
        "select cast('2024-01-01' as date) as day\n"
    )
    project.write("dbt_project.yml", PROJECT)
    project.write(
        "profiles.yml", textwrap.dedent(PROFILES).lstrip().format(path=root / "test.duckdb")
    )
    project.write("packages.yml", f"packages:\n  - local: {REPO}\n  - local: {helper}\n")
    scenario.setup(project)
    project.write("models/exposures.yml", EXPOSURES)
    project.dbt("build", "--vars", VARS)
    return project


def test_dbt_wrote_where_the_project_says(shaped: DbtProject) -> None:
    target = shaped.root / "build_output" / "dev"
    assert (target / "run_results.json").exists() and (target / "manifest.json").exists()
    assert not (shaped.root / "target" / "run_results.json").exists()
    runs = shaped.query("select count(*) from audit.shape_runs")[0][0]
    assert runs >= 1, "the package honoured sluice_schema and sluice_runs_table"


def _report(shaped: DbtProject, capsys: pytest.CaptureFixture[str], *extra: str):
    code = main(
        [
            "report",
            "--project-dir",
            str(shaped.root),
            "--profiles-dir",
            str(shaped.root),
            "--format",
            "json",
            *extra,
        ]
    )
    captured = capsys.readouterr()
    return code, captured


def test_report_reads_the_shaped_project(
    shaped: DbtProject, capsys: pytest.CaptureFixture[str]
) -> None:
    code, captured = _report(shaped, capsys, "--vars", VARS)
    assert code == 1, captured.err  # rows are held back: the board is degraded
    doc = json.loads((shaped.root / "build_output" / "dev" / "sluice" / "impact.json").read_text())
    assert doc["quarantine_source"] == "warehouse", "shape_runs found through --vars"
    [board] = doc["exposures"]
    assert board["status"] == "degraded" and board["criticality"] == "critical"
    assert board["rows_held_upstream"] > 0
    assert "table: audit.sluice_exposure_status" in captured.out
    rows = shaped.query("select exposure_name, status from audit.sluice_exposure_status")
    assert ("finance_board", "degraded") in rows
    helper = [n for n in doc["nodes"] if n["unique_id"] == "model.helpers.helper_calendar"]
    assert not helper or helper[0]["problem"] is None


def test_without_the_vars_the_runs_table_is_another_one(
    shaped: DbtProject, capsys: pytest.CaptureFixture[str]
) -> None:
    code, captured = _report(shaped, capsys, "--output-dir", str(shaped.root / "novars"))
    assert code == 1, captured.err
    doc = json.loads((shaped.root / "novars" / "impact.json").read_text())
    # var sluice_runs_table falls back to sluice_runs, which does not exist in audit
    assert doc["quarantine_source"] == "run_results"


def test_choosing_a_target_renders_only_that_target(
    shaped: DbtProject, capsys: pytest.CaptureFixture[str]
) -> None:
    code, captured = _report(shaped, capsys, "--target", "other")
    assert code == 2
    assert "SHAPES_PG_HOST" in captured.err and "shapes.other" in captured.err
    assert "Traceback" not in captured.err


def test_summary_and_review_use_the_same_project_reading(
    shaped: DbtProject, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--project-dir", str(shaped.root), "--profiles-dir", str(shaped.root)]
    assert main(["summary", *flags, "--vars", VARS]) == 0
    out = capsys.readouterr().out
    assert "orders" in out and "passed" in out
    assert main(["review", "list", "--format", "json", *flags, "--vars", VARS]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {r["rule_name"] for r in listed} == set(scenario.RULES)
    assert main(["summary", *flags]) == 2  # no sluice_runs table under the default name
    assert "audit.sluice_runs" in capsys.readouterr().err


def test_pandas_api(shaped: DbtProject) -> None:
    kwargs = {"profiles_dir": shaped.root, "vars": VARS}
    exceptions = sluice.read_exceptions(shaped.root, **kwargs)
    assert set(exceptions["rule_name"]) == set(scenario.RULES)
    assert (exceptions["status"] == "open").all()
    assert str(exceptions["first_seen_at"].dt.tz) == "UTC"
    held = sluice.read_exceptions(shaped.root, model="orders", status=["open"], **kwargs)
    assert len(held) == len(exceptions)
    history = sluice.read_exception_history(shaped.root, **kwargs)
    assert set(history["exception_id"]) >= set(exceptions["exception_id"])
    nodes = sluice.read_node_status(shaped.root, source="artifacts", **kwargs)
    orders = nodes[nodes["node_unique_id"] == "model.shapes.orders"].iloc[0]
    assert orders["result_command"] == "build" and orders["result_invocation_id"]
    board = sluice.read_exposure_status(shaped.root, source="artifacts", **kwargs)
    assert list(board["status"]) == ["degraded"]
