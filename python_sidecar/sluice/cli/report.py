"""``sluice report``: impact of dbt's latest known results on exposures, freshness, BI tables.

Exit codes: 0 every exposure healthy and no problem found; 1 some exposure not healthy or a
problem found; 2 usage or input error (nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sluice.cli.flags import add_project_flags, project_flags
from sluice.errors import SluiceError

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
    add_project_flags(parser, target_path=True)
    parser.add_argument(
        "--format",
        default=None,
        help="comma-separated output formats: html, json, md (default: all three)",
    )
    parser.add_argument(
        "--output-dir", type=Path, default=None, help="default: <target-path>/sluice"
    )
    parser.add_argument(
        "--no-warehouse",
        action="store_true",
        help="do not read sluice_runs nor write the BI tables (no dbt adapter is loaded)",
    )
    parser.add_argument(
        "--state-path",
        type=Path,
        default=None,
        help="the file keeping each node's latest result across invocations "
        "(default: <target-path>/sluice/state.json)",
    )
    parser.add_argument(
        "--horizon",
        default=None,
        help="results older than this before the latest invocation count as unknown, e.g. 36h "
        "or 7d (default: var sluice_report_horizon, else 7d)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # imported here: every command builds this parser, and the report's modules are many
    from sluice.project import load_project, parse_duration
    from sluice.report import FORMATS, generate_report

    try:
        warehouse = not args.no_warehouse
        project = load_project(project_flags(args), require=warehouse)
        result = generate_report(
            project=project,
            output_dir=args.output_dir,
            formats=(args.format,) if args.format is not None else FORMATS,
            warehouse=warehouse,
            state_path=args.state_path,
            horizon=parse_duration(args.horizon, "--horizon") if args.horizon else None,
        )
    except SluiceError as exc:
        print(f"sluice report: {exc}", file=sys.stderr)
        return exc.exit_code
    for warning in result.impact.warnings:
        print(f"sluice report: warning: {warning}", file=sys.stderr)
    counts = result.impact.status_counts()
    summary = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    print(f"sluice report: {len(result.exposures)} exposures ({summary or 'none'})")
    for fmt, path in result.outputs.items():
        print(f"  {fmt}: {path}")
    for table in result.warehouse_tables:
        print(f"  table: {table}")
    if result.head_note:
        print(f"sluice report: warning: {result.head_note}", file=sys.stderr)
    return EXIT_PROBLEMS if result.has_problems else EXIT_HEALTHY
