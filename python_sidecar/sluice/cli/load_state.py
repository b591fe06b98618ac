"""`sluice load-state [MODEL] [--history]`: what each relation's latest load gave its consumers.

Exit codes: 0 the states were printed (also when no build has recorded a load yet); 2 a usage,
connection or input error, or a MODEL that has recorded no load.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sluice.cli.flags import add_project_flags, project_flags
from sluice.errors import InputError, SluiceError

EXIT_OK = 0


def register(subparsers: Any) -> None:
    text = "the load state of every model (or one): complete, held, what is missing, its age"
    parser = subparsers.add_parser(
        "load-state",
        help=text,
        description="The current load state of every model that records one (sluice models, "
        "and models with the sluice.record_load_state() post-hook): its state, when the build "
        "recorded it, how old the published data is, rows published and held, what is missing "
        "and who accepted the load. With MODEL, that model only; with --history, every load of "
        "MODEL, newest first. Times are UTC.",
    )
    add_project_flags(parser)
    parser.add_argument("model", nargs="?", default=None, metavar="MODEL", help="name or unique_id")
    parser.add_argument(
        "--history", action="store_true", help="every recorded load of MODEL, newest first"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sluice.loadstate import current_states, describe_missing, load_history
    from sluice.loadstate.render import to_json, to_text
    from sluice.project import load_project
    from sluice.warehouse import connect

    model: str | None = args.model
    try:
        if args.history and model is None:
            raise InputError("--history needs a MODEL (a name or unique_id)")
        project = load_project(project_flags(args))
        with connect(project, read_only=True) as wh:
            states = (
                load_history(wh, model) if args.history and model else current_states(wh, model)
            )
            if model is not None and not states:
                raise InputError(describe_missing(wh, model))
    except SluiceError as exc:
        print(f"sluice load-state: {exc}", file=sys.stderr)
        return exc.exit_code
    print(to_json(states) if args.format == "json" else to_text(states, history=args.history))
    return EXIT_OK
