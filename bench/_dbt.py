"""Shared by the dbt benchmarks: a throwaway dbt project on DuckDB that installs sluice."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))


def make_duckdb_project(root: Path, name: str, database: Path, threads: int) -> None:
    """dbt_project.yml (every *-paths key set), packages.yml and profiles.yml under root."""
    write(
        root / "dbt_project.yml",
        f"""
        name: {name}
        version: "1.0"
        config-version: 2
        profile: bench
        model-paths: ["models"]
        test-paths: ["tests"]
        seed-paths: ["seeds"]
        macro-paths: ["macros"]
        snapshot-paths: ["snapshots"]
        analysis-paths: ["analyses"]
        """,
    )
    write(root / "packages.yml", f"packages:\n  - local: {REPO}\n")
    write(
        root / "profiles.yml",
        f"""
        bench:
          target: dev
          outputs:
            dev: {{type: duckdb, path: "{database}", threads: {threads}}}
        """,
    )
