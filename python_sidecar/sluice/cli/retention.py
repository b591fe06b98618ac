"""`sluice retention apply`: redact and delete closed exceptions past their retention."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from sluice.cli.flags import add_project_flags, project_flags
from sluice.errors import SluiceError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retention",
        help="apply the retention of closed exceptions",
        description="Retention of closed exceptions (docs/privacy.md). Exit codes: 0 done "
        "(or nothing to do), 2 a bad setting or an unreadable warehouse (nothing changed).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    text = "redact and delete closed exceptions past their retention"
    sub = actions.add_parser(
        "apply",
        help=text,
        description=f"{text}: the evidence of exceptions closed for more than redact_after is "
        "replaced by redaction markers (quarantine, history, decisions), exceptions closed for "
        "more than delete_after are deleted from their quarantine (their history and decisions "
        "stay, redacted). Open and dead-letter exceptions are never touched. One transaction; "
        "a second run changes nothing; the audit trail still verifies.",
    )
    add_project_flags(sub)
    sub.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    sub.add_argument(
        "--by",
        default=None,
        help="the actor of the events (default 'sluice retention')",
    )
    sub.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sluice.artifacts import MANIFEST_FILE, load_manifest
    from sluice.privacy import RETENTION_ACTOR
    from sluice.privacy.retention import apply, describe, load_policies
    from sluice.project import load_project
    from sluice.review.store import open_store

    try:
        project = load_project(project_flags(args))
        manifest_path = project.target_path / MANIFEST_FILE
        manifest = load_manifest(manifest_path) if manifest_path.exists() else None
        policies = load_policies(project, manifest)
        with open_store(project=project) as store:
            result = apply(
                store, policies, datetime.now(UTC), args.by or RETENTION_ACTOR, dry_run=args.dry_run
            )
    except SluiceError as exc:
        print(f"sluice retention: {exc}", file=sys.stderr)
        return exc.exit_code
    print("\n".join(describe(result, args.dry_run)))
    return 0
