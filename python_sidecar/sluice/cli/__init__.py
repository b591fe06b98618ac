"""The command line: parse arguments, call the core, render, map errors to exit codes.

Each subcommand lives in its own module under ``sluice.cli`` and exposes
``register(subparsers)`` and a ``run(args) -> int``. Nothing below this package prints or exits.

Exit codes (stable, documented in README.md):

* 0 - success, everything published;
* 1 - a data-quality or structural failure (publication held somewhere);
* 2 - a usage or configuration error, or unreadable input, or dbt failing before its first node
  for a reason no pattern knows (nothing written, except ``sluice build``'s own record of the
  run under ``target/sluice/``);
* 3 - transient failures still failing after the retry budget;
* 130 / 143 - ``sluice build`` interrupted by SIGINT / SIGTERM (dbt stopped, the run recorded);
* 141 - stdout was closed before the output was written (``sluice review list | head -1``):
  the command stops writing, quietly, as a command stopped by SIGPIPE does.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 3
EXIT_CLOSED_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a command whose reader went away."""

# (subcommand, module) pairs; a module missing from an installation is skipped.
SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("summary", "sluice.cli.summary"),
    ("report", "sluice.cli.report"),
    ("build", "sluice.cli.build"),
    ("review", "sluice.cli.review"),
    ("audit", "sluice.cli.audit"),
    ("load-state", "sluice.cli.load_state"),
    ("metrics", "sluice.cli.metrics"),
    ("retention", "sluice.cli.retention"),
    ("incidents", "sluice.cli.incidents"),
)


class _Version(argparse.Action):
    """``--version``: the installed version, read only when asked for."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        import sluice

        print(f"sluice {sluice.__version__}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sluice",
        description=(
            "Integration error handling for dbt: quarantine, publication gates, "
            "retries and impact reports."
        ),
        epilog="Exit codes: 0 ok, 1 publication held or failure, 2 usage/input error, "
        "3 transient failures left after retries, 130/143 build interrupted by SIGINT/SIGTERM, "
        "141 stdout closed before the output was written (| head).",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for _name, module_name in SUBCOMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _run(argv)
        sys.stdout.flush()  # what is still buffered fails here, not at the interpreter's exit
    except BrokenPipeError:
        # The reader of stdout went away (`sluice review list | head -1`): stop quietly. What
        # is left to write goes to /dev/null, so the interpreter's own flush at exit is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_CLOSED_PIPE
    return code


def _run(argv: Sequence[str] | None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    result: int = args.run(args)
    return result
