"""`sluice build` and `sluice audit` find the project, profile, target and vars as every sluice
command does (dbt's flags and `DBT_*` variables, through `sluice.project`), reach the warehouse
through the one door (the project's dbt adapter and profile), and refuse an output folder that
cannot be written before anything is written. Real dbt, DuckDB and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sluice.cli import main

from tests import scenario
from tests.dbt_harness import PG_DBNAME, PG_HOST, PG_PORT, DbtProject


def _out(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_build_and_audit_find_the_project_from_dbt_project_dir(
    make_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    project: DbtProject = make_project("duckdb")
    scenario.setup(project)
    project.dbt("seed")  # installs the package too
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("DBT_PROJECT_DIR", str(project.root))
    monkeypatch.setenv("DBT_PROFILES_DIR", str(project.root))

    assert main(["build", "--dbt-log"]) == 0, _out(capsys)
    record = json.loads((project.root / "target" / "sluice" / "build.json").read_text())
    assert record["status"] == "finished" and record["project_dir"] == str(project.root)
    assert not (elsewhere / "target").exists()
    assert main(["audit", "verify"]) == 0
    out, _ = _out(capsys)
    assert "intact" in out and "nothing sealed" not in out

    # without the variable, from a folder inside the project: its nearest parent, as dbt
    monkeypatch.delenv("DBT_PROJECT_DIR")
    monkeypatch.chdir(project.root / "models")
    assert main(["audit", "verify"]) == 0
    assert "intact" in _out(capsys)[0]


def test_audit_reads_the_vars_the_build_was_given(make_project, capsys) -> None:
    project: DbtProject = make_project("duckdb")
    scenario.setup(project)
    project.dbt("seed")
    where = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    renamed = ["--vars", "{sluice_audit_chain_table: trail_seals}"]

    assert main(["build", *where, *renamed, "--dbt-log", "--no-report"]) == 0, _out(capsys)
    assert project.relation_exists("trail_seals")
    assert not project.relation_exists("sluice_audit_chain")
    _out(capsys)

    assert main(["audit", "verify", *where, *renamed]) == 0
    out, _ = _out(capsys)
    assert "intact" in out and "head: none" not in out
    # without them it looks for the seals in sluice_audit_chain: the records have none there
    assert main(["audit", "verify", *where]) == 1
    out, _ = _out(capsys)
    assert "seal removed" in out and "head: none" in out


def test_a_report_folder_under_a_file_is_refused_before_dbt_runs_and_recorded(
    make_project, tmp_path: Path, capsys
) -> None:
    project: DbtProject = make_project("duckdb")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    reports = blocker / "reports"

    code = main(
        [
            "build",
            "--project-dir",
            str(project.root),
            "--profiles-dir",
            str(project.root),
            "--report-dir",
            str(reports),
        ]
    )

    _, err = _out(capsys)
    assert code == 2, err
    assert str(reports) in err and "not a folder" in err and "Traceback" not in err
    sluice = project.root / "target" / "sluice"
    assert not (sluice / "attempts").exists(), "dbt never ran"
    record = json.loads((sluice / "build.json").read_text())  # the usage error is recorded
    assert record["status"] == "usage_error" and str(reports) in record["notes"][-1]


# -- the warehouse door: the profile as dbt reads it --------------------------------------------


@pytest.mark.postgres
def test_audit_connects_with_the_profiles_role(make_project, tmp_path: Path, capsys) -> None:
    """A login that can read the trail only through the profile's `role:` (dbt-postgres sets it
    on connecting): `sluice audit` reads it because it connects through dbt's adapter."""
    project: DbtProject = make_project("postgres")
    scenario.setup(project)
    project.dbt("build")
    suffix = uuid.uuid4().hex[:8]
    login, reader = f"sluice_auditor_{suffix}", f"sluice_reader_{suffix}"
    project.execute(
        f"create role {reader} nologin; "
        f'grant usage on schema "{project.schema}" to {reader}; '
        f'grant select on all tables in schema "{project.schema}" to {reader}; '
        f"create role {login} login password 'audit-only' noinherit in role {reader}"
    )
    profiles = tmp_path / "auditor"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(
        "sluice_test:\n  target: audit\n  outputs:\n    audit:\n      type: postgres\n"
        f"      host: {PG_HOST}\n      port: {PG_PORT}\n      user: {login}\n"
        f"      password: audit-only\n      dbname: {PG_DBNAME}\n"
        f"      schema: {project.schema}\n      role: {reader}\n      threads: 1\n"
    )
    try:
        code = main(
            ["audit", "verify", "--project-dir", str(project.root), "--profiles-dir", str(profiles)]
        )
        out, err = _out(capsys)
        assert code == 0, err
        assert "intact" in out and "head: none" not in out
    finally:
        project.execute(f"drop owned by {reader}; drop role {login}; drop role {reader}")
