"""`sluice audit verify|export`: check the tamper-evident audit trail, or write it out.

Exit codes: 0 the trail is intact (verify) or written (export); 1 a record or seal was edited,
removed or inserted, or a chain is shorter than (or differs from) the head recorded outside the
warehouse (verify names the first); 2 a usage, connection or input error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sluice.cli.flags import add_project_flags, project_flags
from sluice.errors import InputError, SluiceError

EXIT_OK = 0
EXIT_CHANGED = 1
SHOWN = 20
"""Findings listed after the first one."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="verify the tamper-evident audit trail, or export it as JSON lines",
        description=(
            "The package seals every build's exception events, run row and reviewers' "
            "decisions into hash chains. `verify` walks them; `export` writes them out."
        ),
    )
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="walk every chain; exit 1 naming the first record edited, removed or inserted",
        description=(
            "Walk every chain: exit 0 when intact, 1 naming the first record or seal edited, "
            "removed or inserted, 2 on a usage or connection error. Prints the trail's head: "
            "keep it (or an export) elsewhere to catch a complete rewrite with --against."
        ),
    )
    export = actions.add_parser(
        "export",
        help="write the seals and the sealed records as JSON lines",
        description="Write every seal, every sealed record and the head as JSON lines.",
    )
    for sub in (verify, export):
        add_project_flags(sub)
        sub.set_defaults(run=run)
    verify.add_argument(
        "--against",
        default=None,
        metavar="FILE",
        help="an earlier `sluice audit export` (or its last line) kept elsewhere: every seal "
        "in it must still be in the trail, unchanged",
    )
    verify.add_argument(
        "--heads",
        default=None,
        metavar="FILE",
        help="the heads sluice recorded outside the warehouse (default: "
        "<target-path>/sluice/audit_heads.jsonl, when it is there): no chain may be shorter "
        "than the latest one, or rewritten since",
    )
    verify.add_argument(
        "--no-heads", action="store_true", help="do not check against the recorded heads"
    )
    export.add_argument("--output", required=True, metavar="FILE", help="the JSON lines file")


def run(args: argparse.Namespace) -> int:
    from sluice.audit import export_trail, open_trail, read_copy, verify_trail
    from sluice.audit.heads import heads_path, latest_head
    from sluice.project import load_project

    try:
        project = load_project(project_flags(args))
        if args.audit_action == "export":
            with open_trail(project) as trail:
                summary = export_trail(trail, Path(args.output))
            print(
                f"sluice audit export: {summary.seals} seals and {summary.records} sealed records "
                f"written to {summary.path}"
            )
            _print_head(summary.head)
            return EXIT_OK
        copy = read_copy(Path(args.against)) if args.against else ()
        recorded = None
        if not args.no_heads:
            path = Path(args.heads) if args.heads else heads_path(project.target_path)
            recorded = latest_head(path)
            if recorded is None and args.heads:
                raise InputError(f"{path}: no recorded head in it")
        with open_trail(project) as trail:
            result = verify_trail(trail, copy, recorded)
    except SluiceError as exc:
        print(f"sluice audit {args.audit_action}: {exc}", file=sys.stderr)
        return exc.exit_code
    if result.intact:
        head = result.head
        size = (
            f"{head.chains} chains, {head.seals} seals, {head.records} sealed records"
            if head
            else ("nothing sealed yet")
        )
        print(f"sluice audit verify: intact: {size} ({result.description})")
    else:
        total = len(result.findings) + result.unnamed
        print(
            f"sluice audit verify: the trail was changed outside sluice: {total} finding(s) "
            f"({result.description})"
        )
        if result.findings:
            print(f"first: {result.findings[0].describe()}")
            for finding in result.findings[1 : SHOWN + 1]:
                print(f"  {finding.describe()}")
        more = total - min(len(result.findings), SHOWN + 1)
        if more > 0:
            print(f"  ... and {more} more")
    if result.pending or result.unnamed_pending:
        count = len(result.pending) + result.unnamed_pending
        print(f"{count} decision(s) wait for their seal at their model's next build:")
        for pending in result.pending[:SHOWN]:
            print(
                f"  {pending.table} {pending.record.record_key} ({pending.record.model_unique_id})"
            )
    if recorded is not None:
        print(
            f"checked against the head recorded in {recorded.path} "
            f"(line {recorded.line}, {recorded.recorded_at}, by {recorded.recorded_by})"
        )
    _print_head(result.head)
    return EXIT_OK if result.intact else EXIT_CHANGED


def _print_head(head: Any) -> None:
    if head is None:
        print("head: none (nothing sealed yet)")
        return
    when = (
        f", last sealed {head.last_sealed_at:%Y-%m-%d %H:%M:%S} UTC" if head.last_sealed_at else ""
    )
    print(f"head: {head.digest} ({head.chains} chains, {head.seals} seals{when})")
