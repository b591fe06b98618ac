"""`sluice incidents review INCIDENT_ID [--format md|json]`: a post-incident review of one
incident from the sealed records, to attach to a ticket.

Exit codes: 0 the review was written; 2 a usage, connection or input error, or an incident id
that is not recorded (nothing written).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sluice.cli.flags import add_project_flags, project_flags
from sluice.errors import SluiceError

EXIT_OK = 0
FORMATS = ("md", "json")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "incidents",
        help="incidents per exposure: a post-incident review",
        description="Incidents per exposure, as sluice report records them.",
    )
    commands = parser.add_subparsers(dest="incidents_command", metavar="COMMAND", required=True)
    review = commands.add_parser(
        "review",
        help="a post-incident review of one incident",
        description="What failed and when, how it was detected (rule, build, alert) and how "
        "long that took, the exposure and owners affected and for how long, the recovery "
        "actions and who approved them, what is still open, and the culprits earlier incidents "
        "named too; read from the sealed records in the warehouse (incidents, exception "
        "events, sluice_runs, build alerts, decisions and approvals).",
    )
    review.add_argument("incident_id", metavar="INCIDENT_ID", help="the incident (inc_...)")
    review.add_argument(
        "--format", choices=FORMATS, default="md", help="Markdown (default) or JSON"
    )
    add_project_flags(review)
    review.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sluice.incident_review.render import render_json, render_md
    from sluice.incident_review.store import read_review
    from sluice.project import load_project
    from sluice.warehouse import connect

    try:
        project = load_project(project_flags(args))
        with connect(project, read_only=True) as wh:
            found = read_review(wh, args.incident_id)
    except SluiceError as exc:
        print(f"sluice incidents review: {exc}", file=sys.stderr)
        return exc.exit_code
    sys.stdout.write(render_json(found) if args.format == "json" else render_md(found))
    return EXIT_OK
