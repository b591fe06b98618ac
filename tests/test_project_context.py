"""dbt_project.yml values that use dbt's load-time context beyond env_var and var: ``flags``,
``run_started_at`` and ``modules`` (pytz included) render as dbt renders them, not as "cannot
render"."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

from sluice.cli import main
from sluice.project import ProjectFlags, load_project

from tests.fixtures import synth

PROJECT = """
name: shop
profile: shop
config-version: 2
models:
  shop:
    +schema: "{{ 'full' if flags.FULL_REFRESH else 'incremental' }}"
    +alias: "{{ 'x' ~ (flags.NOT_A_DBT_FLAG or '') }}"
    +tags: ["{{ flags.TARGET_PATH }}"]
    marts:
      +meta:
        year: "{{ run_started_at.strftime('%Y') }}"
        zone: "{{ modules.pytz.timezone('Europe/Paris').zone }}"
        today: "{{ modules.datetime.date.today().isoformat() }}"
"""


def _project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(textwrap.dedent(PROJECT).lstrip())
    return root


def test_flags_run_started_at_and_pytz_render_as_dbt_renders_them(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    project = load_project(
        ProjectFlags(project_dir=root, target_path=Path("out")), environ={}, cwd=root
    )
    models = project.data["models"]["shop"]
    assert models["+schema"] == "incremental"  # dbt's default: no --full-refresh
    assert models["+alias"] == "x"  # a flag dbt does not have is undefined, as in dbt
    assert models["+tags"] == ["out"]
    meta = models["marts"]["+meta"]
    assert meta["year"] == str(datetime.now(UTC).year)
    assert meta["zone"] == "Europe/Paris"
    assert meta["today"]


def test_the_report_reads_such_a_project(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    man, runs, fresh = synth.shop()
    synth.write_target(root / "target", man, runs, fresh)
    assert main(["report", "--project-dir", str(root), "--no-warehouse"]) == 1
    assert (root / "target" / "sluice" / "impact.json").exists()
