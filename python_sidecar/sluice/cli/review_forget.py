"""`sluice review forget`: erase one record's evidence (registered by :mod:`sluice.cli.review`)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from sluice.cli.flags import add_project_flags, project_flags
from sluice.errors import SluiceError


def register(actions: Any) -> None:
    text = "erase one record's evidence everywhere sluice stored it"
    sub = actions.add_parser(
        "forget",
        help=text,
        description=f"{text}: the quarantine's record key, failed value and row, the history's "
        "and the decisions' reasons, and the key where a report file sluice wrote lists the "
        "record are replaced by redaction markers; the audit trail still verifies, and an "
        "`erased` event records who, when and why. One transaction in the warehouse.",
    )
    add_project_flags(sub)
    sub.add_argument("--model", required=True, help="the model (name or unique_id)")
    sub.add_argument(
        "--key", required=True, help="the record key, as `sluice review list` shows it"
    )
    sub.add_argument("--by", default=None, help="who erases (required)")
    sub.add_argument("--reason", default=None, help="why (required)")
    sub.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sluice.project import load_project
    from sluice.review import core
    from sluice.review.forget import forget
    from sluice.review.store import open_store

    try:
        core.check_author(args.by, args.reason)
        with open_store(project=load_project(project_flags(args))) as store:
            erasure = forget(store, args.model, args.key, args.by, args.reason, datetime.now(UTC))
    except SluiceError as exc:
        print(f"sluice review: {exc}", file=sys.stderr)
        return exc.exit_code
    print(
        f"erased record {erasure.record_key} of {erasure.model_unique_id}: "
        f"{erasure.exceptions} exception(s), {erasure.events} event(s), "
        f"{erasure.decisions} decision(s) redacted (now {erasure.marker}); "
        "the erasure is sealed at the model's next build"
    )
    for path in erasure.report_files:
        print(f"redacted the record's key in {path}")
    return 0
