"""``sluice summary``: what the latest ``dbt build`` of a project published and held back.

Reads ``sluice_runs`` and the quarantines of the project's target through its dbt adapter (the
profile, target and vars as dbt reads them). Exit codes: 0 printed; 2 no ``sluice_runs`` table,
or the project, profile or warehouse cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sluice.cli.flags import add_project_flags, project_flags
from sluice.errors import SluiceError

EXIT_OK = 0


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "summary",
        help="print what the latest dbt build published, held back and why",
        description=(
            "Read sluice_runs and the quarantine tables of the project's target (through its "
            "dbt adapter); print rows published and held back per model and error class, and "
            "the gates that held."
        ),
        epilog="Exit codes: 0 printed, 2 no sluice_runs table (run `dbt build` first), or a "
        "project, profile or warehouse that cannot be used.",
    )
    add_project_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # imported here so that `sluice --help` and other commands do not load dbt's adapters
    from sluice.project import load_project
    from sluice.summary import read_summary, render_text

    try:
        summary = read_summary(load_project(project_flags(args)))
    except SluiceError as exc:
        print(f"sluice summary: {exc}", file=sys.stderr)
        return exc.exit_code
    sys.stdout.write(render_text(summary))
    return EXIT_OK
