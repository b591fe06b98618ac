"""``sluice build [options] [dbt build arguments]``: dbt build with classified retries.

Arguments sluice does not know (or everything after ``--``) are passed to ``dbt build``.
SIGTERM and SIGINT stop the build: dbt is asked to cancel its queries and exit (then killed
after ``--stop-timeout``), this run's record is written, one line is printed, and the exit
status is 143 or 130.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import signal
import sys
import types
from collections.abc import Iterator
from typing import Any, NoReturn

from sluice.cli.flags import add_project_flags

EPILOG = (
    "Other arguments (or everything after --) go to dbt build. Exit codes: 0 published, "
    "1 data-quality or structural failure (publication held), 2 usage or configuration error "
    "(or dbt could not start, not transiently), 3 transient failures left after the retry "
    "budget, 4 another sluice build holds the target folder (or the dbt of a killed one still "
    "runs there; see --wait-for-lock), 5 a file could not be written (a full disk), 130/143 "
    "interrupted by SIGINT/SIGTERM. Settings: "
    "flags > SLUICE_* environment variables > [tool.sluice] in the project's pyproject.toml "
    "> defaults."
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "build",
        help="run dbt build, retry transient failures, escalate the rest, write the report",
        description=(
            "Run dbt build; classify every failed node (and a dbt that fails before its first "
            "node, from its output); retry only transient failures with capped exponential "
            "backoff (full jitter); escalate the rest to their owners; write metrics and the "
            "impact report."
        ),
        epilog=EPILOG,
        allow_abbrev=False,
    )
    # dbt's project flags, read as every sluice command reads them, and passed on to dbt.
    add_project_flags(parser)
    # Numbers are checked by the build itself, so a bad value is recorded like any usage error.
    parser.add_argument("--max-attempts", help="dbt invocations in all (default 3)")
    parser.add_argument("--base-delay", help="seconds, first backoff (default 10)")
    parser.add_argument("--max-delay", help="seconds, backoff cap (default 300)")
    parser.add_argument("--budget", help="seconds of wall time within which retries start (1800)")
    parser.add_argument(
        "--repeat-limit",
        help="stop retrying once the transient failures repeat identically on this many "
        "consecutive attempts (default 2; 0: never stop early)",
    )
    parser.add_argument(
        "--stop-timeout",
        help="seconds dbt gets to cancel its queries after SIGTERM/SIGINT before it is "
        "killed (default 20)",
    )
    parser.add_argument(
        "--alert-min-priority",
        help="alert failures at or above this priority: P1, P2, P3 or P4 (default P3)",
    )
    parser.add_argument(
        "--wait-for-lock",
        metavar="SECONDS",
        help="when another sluice build holds the target folder (or a killed build's dbt still "
        "runs there), wait this long for it before refusing with exit code 4 (default 0: "
        "refuse at once)",
    )
    parser.add_argument("--no-report", action="store_true", help="skip the impact report")
    parser.add_argument("--report-dir", help="report folder (default target/sluice)")
    parser.add_argument(
        "--report-format",
        action="append",
        help="report format: html, json or md; repeatable (default: all three)",
    )
    parser.add_argument(
        "--no-warehouse",
        action="store_true",
        help="the report reads artifacts only, not sluice's tables in the warehouse, and the "
        "attempts and alerts are not recorded there",
    )
    parser.add_argument(
        "--dbt-log",
        action="store_true",
        help="keep dbt's output off the terminal (it is always in "
        "target/sluice/attempts/<n>/dbt.log)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the build summary as JSON on stdout"
    )
    parser.set_defaults(run=run, dbt_args=[])
    _pass_unknown_arguments_to_dbt(parser)
    _record_argument_errors(parser)


def _pass_unknown_arguments_to_dbt(parser: argparse.ArgumentParser) -> None:
    """Collect arguments this parser does not know into ``dbt_args`` instead of failing.

    A ``--`` among them is left in: the build drops it wherever it is (dbt's own parser would
    read every word after it as an unexpected argument).
    """
    parse = parser.parse_known_args

    def parse_known_args(
        self: argparse.ArgumentParser, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extra = parse(args, namespace)
        parsed.dbt_args = [*(getattr(parsed, "dbt_args", None) or []), *extra]
        return parsed, []

    parser.parse_known_args = types.MethodType(parse_known_args, parser)  # type: ignore[method-assign]


def _record_argument_errors(parser: argparse.ArgumentParser) -> None:
    """An argument error (``--max-attempts`` without its value, ...) is a usage error of the
    build like any other: this run's record replaces the previous run's before the parser
    exits with status 2, wherever the command line and the environment name the project."""
    seen: list[list[str]] = []
    parse = parser.parse_known_args
    error = parser.error

    def parse_known_args(
        self: argparse.ArgumentParser, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        seen.append([str(arg) for arg in (sys.argv[1:] if args is None else args)])
        return parse(args, namespace)

    def record_then_exit(self: argparse.ArgumentParser, message: str) -> NoReturn:
        from sluice.build import record_usage_error

        with contextlib.suppress(Exception):  # the error itself is what the user must see
            record_usage_error(seen[-1] if seen else [], f"{self.prog}: {message}")
        error(message)

    parser.parse_known_args = types.MethodType(parse_known_args, parser)  # type: ignore[method-assign]
    parser.error = types.MethodType(record_then_exit, parser)  # type: ignore[method-assign]


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """While the build runs, SIGTERM and SIGINT raise ``Interrupted`` in it (once: a second
    signal while dbt is being stopped is ignored, the stop is bounded anyway)."""
    from sluice.build import Interrupted

    received: list[int] = []

    def handler(signum: int, frame: types.FrameType | None) -> None:
        if received:
            return
        received.append(signum)
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace) -> int:
    from sluice.build import (
        EXIT_USAGE,
        BuildBusy,
        BuildError,
        Interrupted,
        TrailChanged,
        WriteFailed,
        build,
        summary,
    )
    from sluice.escalate.webhook import redact

    try:
        wait_for_lock = float(args.wait_for_lock or 0)
        if not 0 <= wait_for_lock < float("inf"):
            raise ValueError(args.wait_for_lock)
    except ValueError:
        print(
            f"sluice build: --wait-for-lock must be a number of seconds, not "
            f"{args.wait_for_lock!r}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        with _stop_on_signals():
            result = build(
                args.project_dir,
                [*_dbt_project_flags(args), *args.dbt_args],
                max_attempts=args.max_attempts,
                base_delay=args.base_delay,
                max_delay=args.max_delay,
                budget=args.budget,
                repeat_limit=args.repeat_limit,
                stop_timeout=args.stop_timeout,
                alert_min_priority=args.alert_min_priority,
                report=not args.no_report,
                report_formats=tuple(args.report_format or ("html", "json", "md")),
                report_dir=args.report_dir,
                warehouse=not args.no_warehouse,
                log_dbt_output=args.dbt_log,
                wait_for_lock=wait_for_lock,
                notify=lambda message: print(f"sluice build: {message}", file=sys.stderr),
            )
    except WriteFailed as exc:
        told = (
            f"this run's record was written to {exc.recorded.parent}"
            if exc.recorded is not None
            else "no record of this run could be written"
        )
        print(redact(f"sluice build: stopped: {exc}; {told}"), file=sys.stderr)
        return exc.exit_code
    except (BuildBusy, TrailChanged) as exc:
        print(redact(f"sluice build: refused: {exc}"), file=sys.stderr)
        return exc.exit_code
    except BuildError as exc:
        if exc.result is not None and exc.result.attempts:
            _print_summary(exc.result)
        print(redact(f"sluice build: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)
        recorded = exc.recorded if isinstance(exc, Interrupted) else None
        told = (
            f"this run's record was written to {recorded.parent}"
            if recorded is not None
            else "no record of this run could be written"
        )
        # said only when dbt was still running (a KeyboardInterrupt from a caller: unknown)
        stopped = "dbt was stopped and " if getattr(exc, "dbt_stopped", True) else ""
        print(
            f"sluice build: interrupted by {signal.Signals(signum).name}; {stopped}{told}",
            file=sys.stderr,
        )
        return 128 + signum
    if args.json:
        print(json.dumps(summary(result), indent=2, default=str))
    _print_summary(result)
    return result.exit_code


def _dbt_project_flags(args: argparse.Namespace) -> list[str]:
    """The project flags sluice read, for dbt as well (``--project-dir`` is the build's own)."""
    given = (
        ("--profiles-dir", args.profiles_dir),
        ("--target", args.target),
        ("--vars", args.vars),
    )
    return [part for flag, value in given if value is not None for part in (flag, str(value))]


def _print_summary(result: Any) -> None:
    from sluice.escalate.webhook import redact

    out = io.StringIO()
    _write_summary(result, out)
    # no URL credential reaches the terminal, whatever a message holds
    sys.stderr.write(redact(out.getvalue()))


def _write_pending(pending: Any, out: io.StringIO) -> None:
    """The decisions still waiting, per model: what each needs and who may give it."""
    from sluice.review.core import format_time

    waiting = [w for w in pending if w.needed > 0]
    accepted = len(pending) - len(waiting)
    if not pending:
        return
    print(
        f"  decisions waiting for approvers: {len(waiting)}"
        + (f" (and {accepted} accepted, applied at the model's next build)" if accepted else "")
        + "; see sluice review pending",
        file=out,
    )
    models: dict[str, list[Any]] = {}
    for w in waiting:
        models.setdefault(w.model_name, []).append(w)
    for model, decisions in models.items():
        print(f"    {model}: {len(decisions)} waiting", file=out)
        for w in decisions:
            r = w.requested
            more = f"{w.needed} more approver" + ("" if w.needed == 1 else "s")
            print(
                f"      {r.decision_id} {r.decision} of {r.exception_id or 'the gate'} "
                f"by {r.decided_by} "
                f"at {format_time(r.decided_at)}: policy {w.entry.name}, waiting for {more}: "
                f"{w.who_may_approve()}",
                file=out,
            )


def _write_summary(result: Any, out: io.StringIO) -> None:
    kinds = ", ".join(
        f"{a.number}:{a.kind}{'' if a.started else ' (no node ran)'}" for a in result.attempts
    )
    print(f"\nsluice build: {len(result.attempts)} attempt(s) ({kinds})", file=out)
    for failure in result.root_failures:
        print(
            f"  {failure.failure_class.value:<18} {failure.unique_id}: {failure.reason}",
            file=out,
        )
    blocked = len(result.failures) - len(result.root_failures)
    if blocked:
        print(f"  {blocked} node(s) skipped behind these failures", file=out)
    for esc in result.escalations:
        flag = "alert" if esc.alert else "recorded"
        print(
            f"  {esc.priority} {flag}: {esc.name} -> {esc.owner} ({esc.owner_basis}); "
            f"next: {esc.action}",
            file=out,
        )
    delivery = result.alert_delivery
    if delivery.attempted and not delivery.delivered:
        print(f"  alert delivery failed: {delivery.error}", file=out)
    _write_pending(result.pending_decisions, out)
    for note in result.notes:
        if not note.startswith("alert delivery failed"):
            print(f"  note: {note}", file=out)
    meaning = {
        0: "published",
        1: "publication held",
        2: "dbt could not start",
        4: "another build holds the target folder",
        3: "transient failures left",
        7: "published, retention failed",
    }
    print(
        f"sluice build: exit {result.exit_code} ({meaning.get(result.exit_code, '')}); "
        f"details in {result.target_dir / 'sluice'}",
        file=out,
    )
