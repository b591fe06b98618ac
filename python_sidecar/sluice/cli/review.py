"""`sluice review list|show|release|reject|retry`: reviewers' decisions on quarantined records."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sluice.cli.flags import add_project_flags, project_flags
from sluice.errors import InputError, SluiceError

EXIT_OK = 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "review",
        help="list exceptions waiting for review; release, reject or retry one",
        description="Record reviewers' decisions. They take effect at the next build of the model.",
    )
    actions = parser.add_subparsers(dest="review_action", metavar="ACTION", required=True)
    for name, text in (
        ("list", "open exceptions routed manual_review (--all: every open exception)"),
        ("show", "one exception: its record, rule, status, owner, message and failing value"),
        ("release", "publish an open exception's row as it is (an override)"),
        ("reject", "keep an open exception's row out for good"),
        ("retry", "re-open a dead_letter, rejected or released exception"),
    ):
        sub = actions.add_parser(name, help=text, description=text)
        add_project_flags(sub)
        if name == "list":
            sub.add_argument("--model", default=None, help="only this model")
            sub.add_argument("--all", action="store_true", help="every open exception")
            sub.add_argument("--format", choices=("table", "json"), default="table")
        elif name == "show":
            sub.add_argument("exception_id", help="the exception's id (see `sluice review list`)")
            sub.add_argument("--format", choices=("table", "json"), default="table")
        else:
            sub.add_argument("exception_id", help="the exception's id (see `sluice review list`)")
            sub.add_argument("--by", default=None, help="who decides (required)")
            sub.add_argument("--reason", default=None, help="why (required)")
        sub.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sluice.project import load_project
    from sluice.review import open_store, validate_decision

    try:
        project = load_project(project_flags(args))
        with open_store(project=project) as store:
            if args.review_action == "list":
                rows = store.exceptions(all_open=args.all, model=args.model)
                if args.format == "json":
                    out = [{**r.__dict__, "first_seen_at": str(r.first_seen_at)} for r in rows]
                    print(json.dumps(out, indent=2))
                else:
                    print(
                        f"{len(rows)} open exception(s){'' if args.all else ' waiting for review'}"
                    )
                    for r in rows:
                        print(
                            f"  {r.exception_id}  {r.model_name}  record {r.record_key}  "
                            f"{r.rule_name} "
                            f"({r.error_class}, {r.severity})  owner {r.owner or '-'}  "
                            f"attempts {r.attempt_count}  since {r.first_seen_at}\n"
                            f"      {r.message or ''}  value: {r.failed_value!r}"
                        )
                return EXIT_OK
            found = store.find(args.exception_id)
            if args.review_action == "show":
                if found is None:
                    raise InputError(f"no exception {args.exception_id!r} in any sluice quarantine")
                if args.format == "json":
                    print(json.dumps({**found.__dict__, "first_seen_at": str(found.first_seen_at)}))
                else:
                    for label, value in (
                        ("exception", found.exception_id),
                        ("model", found.model_name),
                        ("record", found.record_key),
                        ("rule", f"{found.rule_name} ({found.error_class}, {found.severity})"),
                        ("route", found.route),
                        ("status", found.status),
                        ("owner", found.owner or "-"),
                        ("attempts", found.attempt_count),
                        ("first seen", found.first_seen_at),
                        ("message", found.message or ""),
                        ("value", repr(found.failed_value)),
                    ):
                        print(f"{label:>10}  {value}")
                return EXIT_OK
            decision = validate_decision(
                args.review_action, args.exception_id, found, args.by, args.reason
            )
            store.record(decision)
    except SluiceError as exc:
        print(f"sluice review: {exc}", file=sys.stderr)
        return exc.exit_code
    print(
        f"recorded: {decision.decision} of exception {decision.exception_id} "
        f"({found.model_name if found else ''}, record {found.record_key if found else ''}) "
        f"by {decision.decided_by}: {decision.reason}\n"
        "It takes effect at the next build of the model."
    )
    return EXIT_OK
