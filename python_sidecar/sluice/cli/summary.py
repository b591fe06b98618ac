"""``sluice summary``: what the latest ``dbt build`` of a project published and held back.

Reads the DuckDB file of a target of the project's profile (``profiles.yml`` in the project
directory). Exit codes: 0 printed; 2 the file or its ``sluice_runs`` table is missing, or the
profile cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sluice.errors import SluiceError

EXIT_OK = 0


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "summary",
        help="print what the latest dbt build published, held back and why",
        description=(
            "Read sluice_runs and the quarantine tables from the DuckDB file of a target in the "
            "project's profiles.yml; print rows published and held back per model and error "
            "class, the gates that held, and where the file is."
        ),
        epilog="Exit codes: 0 printed, 2 no DuckDB file or no sluice_runs table (run `dbt build` "
        "first), or an unreadable profile.",
    )
    parser.add_argument("--project-dir", type=Path, default=Path(), help="dbt project (default: .)")
    parser.add_argument("--target", default="demo", help="DuckDB target (default: demo)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # imported here so that `sluice --help` and other commands do not load DuckDB
    from sluice.summary import duckdb_path, read_summary, render_text

    try:
        project_dir = Path(args.project_dir).resolve()
        summary = read_summary(duckdb_path(project_dir, args.target))
    except SluiceError as exc:
        print(f"sluice summary: {exc}", file=sys.stderr)
        return exc.exit_code
    sys.stdout.write(render_text(summary))
    return EXIT_OK
