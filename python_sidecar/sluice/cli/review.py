"""`sluice review list|show|release|reject|retry|approve|withdraw|pending|override|accept-load`:
what is quarantined, reviewers' decisions and their approvals."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sluice.cli import review_forget
from sluice.cli.flags import add_project_flags, project_flags
from sluice.errors import InputError, SluiceError

EXIT_OK = 0

_STATUS_HELP = (
    "open, recovered, released, rejected, dead_letter, withdrawn (several separated by commas) "
    "or all"
)
_DECISIONS = (
    ("release", "publish open exceptions' rows as they are (an override)"),
    ("reject", "keep open exceptions' rows out for good"),
    ("retry", "re-open dead_letter, rejected or released exceptions"),
)


def _add_filters(parser: argparse.ArgumentParser, status_help: str) -> None:
    parser.add_argument("--status", default=None, help=status_help)
    parser.add_argument("--model", default=None, help="only this model (name or unique_id)")
    parser.add_argument("--rule", default=None, help="only this rule")
    parser.add_argument(
        "--route", default=None, help="only this route (quarantine, manual_review, ...)"
    )
    parser.add_argument(
        "--since",
        default=None,
        help="only exceptions first seen or changed at or after this date or time "
        "(ISO 8601, UTC unless it gives an offset)",
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "review",
        help="list and show quarantined exceptions; release, reject or retry them",
        description="List and show exceptions; record reviewers' decisions (by id, or in bulk "
        "by filters). Decisions take effect at the next build of the model.",
    )
    actions = parser.add_subparsers(dest="review_action", metavar="ACTION", required=True)

    text = "exceptions by status (default open), model, rule, route and time"
    sub = actions.add_parser("list", help=text, description=text)
    add_project_flags(sub)
    _add_filters(sub, f"{_STATUS_HELP} (default: open)")
    sub.add_argument("--format", choices=("text", "json"), default="text")
    sub.set_defaults(run=run)

    text = "one exception: its row, the evidence and its whole history"
    sub = actions.add_parser("show", help=text, description=text)
    add_project_flags(sub)
    sub.add_argument("exception_id", help="the exception's id (see `sluice review list`)")
    sub.add_argument("--format", choices=("text", "json"), default="text")
    sub.set_defaults(run=run)

    for name, text in _DECISIONS:
        sub = actions.add_parser(
            name,
            help=text,
            description=f"{text}: the exceptions given by id, or every exception the filters "
            "match (--status required). All or nothing: refused, with nothing recorded, when "
            "nothing matches or when any exception's status does not fit the decision.",
        )
        add_project_flags(sub)
        sub.add_argument(
            "exception_ids",
            nargs="*",
            metavar="EXCEPTION_ID",
            help="exception ids (see `sluice review list`); or use the filters",
        )
        _add_filters(sub, f"{_STATUS_HELP} (required without ids)")
        if name in ("release", "reject"):
            sub.add_argument(
                "--take",
                action="append",
                default=[],
                metavar="[FIELD=]SIDE",
                help="for a conflict between two systems: the side that is right, source or "
                "target, for every field or per field (repeat: --take status=target); recorded "
                "and sealed with the decision, the row itself is not changed",
            )
        sub.add_argument("--by", default=None, help="who decides (required)")
        sub.add_argument("--reason", default=None, help="why (required)")
        sub.set_defaults(run=run)

    for name, text in (
        ("approve", "approve a pending decision (counted once per authenticated identity)"),
        ("withdraw", "withdraw a decision that was not applied yet: it never applies"),
    ):
        sub = actions.add_parser(
            name,
            help=text,
            description=f"{text}. Recorded with the identity the warehouse authenticated, "
            "sealed at the next build of the decision's model (docs/approvals.md).",
        )
        add_project_flags(sub)
        sub.add_argument("decision_id", help="the decision's id (see `sluice review pending`)")
        sub.add_argument("--by", default=None, help="who (required)")
        sub.add_argument("--reason", default=None, help="why (required)")
        sub.set_defaults(run=run)

    text = "decisions waiting for approvers under the approval policy, and for whom"
    sub = actions.add_parser("pending", help=text, description=text)
    add_project_flags(sub)
    sub.add_argument("--format", choices=("text", "json"), default="text")
    sub.set_defaults(run=run)

    text = "let the next build of a model publish despite its gate, once"
    sub = actions.add_parser(
        "override",
        help=text,
        description=f"{text}: the rows its rules hold stay in the quarantine, the load state "
        "says overridden, and the build after it publishes only if its own gate passes. "
        "Under the approval policy (the strictest entry covering the model's rules): pending "
        "until approved (sluice review approve). Sealed at the model's next build.",
    )
    add_project_flags(sub)
    sub.add_argument("model", metavar="MODEL", help="sluice model name or unique id")
    sub.add_argument("--by", default=None, help="who decides (required)")
    sub.add_argument("--reason", default=None, help="why (required)")
    sub.set_defaults(run=run)

    text = "let consumers build once from a partial load of a model"
    sub = actions.add_parser(
        "accept-load",
        help=text,
        description=f"{text}: the latest load of each MODEL (or of --invocation), "
        "exception_filtered, upstream_held, held or overridden, is accepted for the models and "
        "exposures "
        "that accept only complete input (meta.sluice.accepts). Recorded as a decision of the "
        "model, sealed at its next build. All or nothing.",
    )
    add_project_flags(sub)
    sub.add_argument("models", nargs="+", metavar="MODEL", help="model name or unique id")
    sub.add_argument(
        "--invocation", default=None, help="the load of this dbt invocation (default: the latest)"
    )
    sub.add_argument("--by", default=None, help="who decides (required)")
    sub.add_argument("--reason", default=None, help="why (required)")
    sub.set_defaults(run=run)

    review_forget.register(actions)


def run(args: argparse.Namespace) -> int:
    from sluice.project import load_project
    from sluice.review import core, policy, render
    from sluice.review.conflicts import parse_takes
    from sluice.review.store import open_store

    action: str = args.review_action
    try:
        if action == "list":
            selection = core.make_selection(
                status=args.status,
                model=args.model,
                rule=args.rule,
                route=args.route,
                since=args.since,
            )
        elif action in ("accept-load", "approve", "withdraw", "override"):
            core.check_author(args.by, args.reason)
        elif action not in ("show", "pending"):
            core.check_author(args.by, args.reason)
            takes = parse_takes(getattr(args, "take", []))
            bulk = core.check_request(
                action,
                args.exception_ids,
                status=args.status,
                model=args.model,
                rule=args.rule,
                route=args.route,
                since=args.since,
            )
        project = load_project(project_flags(args))
        entries = policy.parse_policy(project.var(policy.VAR, None))
        groups = policy.parse_groups(project.var(policy.GROUPS_VAR, None))
        with open_store(project=project) as store:
            if action == "list":
                rows = store.exceptions(selection)
                output = (
                    render.list_json(rows)
                    if args.format == "json"
                    else render.list_text(rows, selection)
                )
            elif action == "accept-load":
                loads = [store.load(m, args.invocation) for m in dict.fromkeys(args.models)]
                decisions = core.plan_load_acceptances(
                    loads, args.by, args.reason, identity=store.identity()
                )
                store.record(decisions)
                output = render.accepted_loads_text(decisions, loads)
            elif action in ("approve", "withdraw"):
                by, why = core.check_author(args.by, args.reason)
                requested = store.requests([args.decision_id])
                if not requested:
                    raise InputError(
                        f"{action} refused, nothing recorded: no decision {args.decision_id!r}"
                    )
                entry = policy.entry_of(entries, requested[0], store.find, store.model_rules)
                identity = store.identity()
                if action == "approve":
                    policy.check_member(entry, identity, groups, store.role_member, action)
                approval = policy.plan_approval(action, requested[0], entry, by, why, identity)
                store.record_approval(approval)
                output = render.approval_text(approval, requested[0], entry)
            elif action == "pending":
                waiting = policy.waiting(entries, store.requests(), store.find, store.model_rules)
                output = (
                    render.pending_json(waiting)
                    if args.format == "json"
                    else render.pending_text(waiting)
                )
            elif action == "override":
                model = store.model_rules(args.model)
                if model is None:
                    raise InputError(
                        f"override refused, nothing recorded: no build of a sluice model "
                        f"{args.model!r} is recorded (run dbt build first)"
                    )
                identity = store.identity()
                decision, entry = policy.override_under_policy(
                    entries,
                    core.plan_override(model, args.by, args.reason, identity=identity),
                    model,
                )
                policy.check_member(entry, identity, groups, store.role_member, action)
                store.record([decision])
                output = render.override_text(decision, model, entry)
            elif action == "show":
                detail = store.detail(args.exception_id)
                if detail is None:
                    raise InputError(f"no exception {args.exception_id!r} in any sluice quarantine")
                output = (
                    render.show_json(detail) if args.format == "json" else render.show_text(detail)
                )
            else:
                if bulk is None:
                    found = store.find(args.exception_ids)
                    missing = [i for i in dict.fromkeys(args.exception_ids) if i not in found]
                    if missing:
                        raise InputError(
                            f"{action} refused, nothing recorded: no exception "
                            f"{', '.join(repr(i) for i in missing)} in any sluice quarantine"
                        )
                    targets = [found[i] for i in dict.fromkeys(args.exception_ids)]
                    asked = "the ids given"
                else:
                    targets = store.exceptions(bulk)
                    asked = bulk.describe()
                identity = store.identity()
                decisions = core.plan_decisions(
                    action,
                    targets,
                    args.by,
                    args.reason,
                    asked=asked,
                    identity=identity,
                    takes=takes,
                )
                decisions = policy.under_policy(
                    entries, decisions, {r.exception_id: r for r in targets}
                )
                for entry in dict.fromkeys(policy.policy_for(entries, r) for r in targets):
                    policy.check_member(entry, identity, groups, store.role_member, action)
                store.record(decisions)
                output = render.decided_text(decisions, {r.exception_id: r for r in targets})
    except SluiceError as exc:
        print(f"sluice review: {exc}", file=sys.stderr)
        return exc.exit_code
    print(output)
    return EXIT_OK
