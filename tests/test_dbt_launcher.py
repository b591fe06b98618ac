"""The launcher the tests start dbt from behaves as the `dbt` program does: the request's
directory, environment and arguments, dbt's exit code and output."""

from __future__ import annotations

import os
from pathlib import Path

from tests.dbt_harness import DbtProject
from tests.dbt_launcher import run_dbt


def test_a_launched_dbt_runs_where_and_with_what_it_is_asked(tmp_path: Path) -> None:
    project = DbtProject(tmp_path / "proj")
    project.write("models/probe.sql", "select '{{ env_var(\"SLUICE_PROBE\") }}' as v\n")
    where = ["--profiles-dir", str(project.root)]
    env = dict(os.environ, SLUICE_PROBE="from the request", DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    # no --project-dir: dbt finds the project in its working directory
    assert run_dbt(["deps", *where], project.root, env, timeout=300).returncode == 0
    done = run_dbt(["compile", "-s", "probe", *where], project.root, env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    compiled = project.root / "target" / "compiled" / "sluice_test" / "models" / "probe.sql"
    assert "from the request" in compiled.read_text()

    del env["SLUICE_PROBE"]
    failed = run_dbt(["compile", "-s", "probe", *where], project.root, env, timeout=300)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "SLUICE_PROBE" in failed.stdout + failed.stderr


def test_a_project_macro_named_like_a_compiled_one_is_its_own(tmp_path: Path) -> None:
    """The launcher compiles dbt's macros before it forks; a project's macro of the same name
    (here dbt's generate_alias_name) is other text and is the one a launched dbt calls."""
    project = DbtProject(tmp_path / "proj")
    project.write(
        "macros/alias.sql",
        "{% macro generate_alias_name(custom_alias_name=none, node=none) -%}\n"
        "  {{ node.name ~ '_from_project' }}\n"
        "{%- endmacro %}\n",
    )
    project.write("models/probe.sql", "select '{{ this.identifier }}' as v\n")
    where = ["--profiles-dir", str(project.root)]
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    assert run_dbt(["deps", *where], project.root, env, timeout=300).returncode == 0
    done = run_dbt(["compile", "-s", "probe", *where], project.root, env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    compiled = project.root / "target" / "compiled" / "sluice_test" / "models" / "probe.sql"
    assert "probe_from_project" in compiled.read_text()
