"""``sluice report``: impact of the last dbt invocation on exposures, freshness, BI tables.

Exit codes: 0 every exposure healthy and no problem found; 1 some exposure not healthy or a
problem found; 2 usage or input error (nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sluice.errors import SluiceError
from sluice.report import FORMATS, generate_report

EXIT_HEALTHY = 0
EXIT_PROBLEMS = 1
EXIT_INPUT = 2


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="report which exposures the last dbt invocation's problems affect",
        description=(
            "Read target/manifest.json, run_results.json and sources.json (and the package's "
            "sluice_runs table when the warehouse is reachable); write impact.json, "
            "report.html and summary.md under target/sluice/, and the tables "
            "sluice_exposure_status, sluice_node_status and sluice_source_freshness."
        ),
        epilog="Exit codes: 0 all exposures healthy, 1 some exposure not healthy or problems "
        "found, 2 usage or input error (nothing written).",
    )
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(), help="dbt project")
    parser.add_argument(
        "--target-path", type=Path, default=None, help="artifacts directory (default: target)"
    )
    parser.add_argument("--profiles-dir", type=Path, default=None, help="where profiles.yml is")
    parser.add_argument("--target", default=None, help="profile target (default: the profile's)")
    parser.add_argument(
        "--format",
        default=",".join(FORMATS),
        help=f"comma-separated output formats (default: {','.join(FORMATS)})",
    )
    parser.add_argument(
        "--output-dir", type=Path, default=None, help="default: <target-path>/sluice"
    )
    parser.add_argument(
        "--no-warehouse",
        action="store_true",
        help="do not read sluice_runs nor write the BI tables",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        result = generate_report(
            args.project_dir,
            target_path=args.target_path,
            output_dir=args.output_dir,
            formats=(args.format,),
            warehouse=not args.no_warehouse,
            profiles_dir=args.profiles_dir,
            target=args.target,
        )
    except SluiceError as exc:
        print(f"sluice report: {exc}", file=sys.stderr)
        return exc.exit_code
    counts = result.impact.status_counts()
    summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    print(f"sluice report: {len(result.exposures)} exposures ({summary or 'none'})")
    for fmt, path in result.outputs.items():
        print(f"  {fmt}: {path}")
    for table in result.warehouse_tables:
        print(f"  table: {table}")
    return EXIT_PROBLEMS if result.has_problems else EXIT_HEALTHY
