"""``sluice build [options] [dbt build arguments]``: dbt build with classified retries.

Arguments sluice does not know (or everything after ``--``) are passed to ``dbt build``.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from typing import Any

EPILOG = (
    "Other arguments (or everything after --) go to dbt build. Exit codes: 0 published, "
    "1 data-quality or structural failure (publication held), 2 usage or configuration error, "
    "3 transient failures left after the retry budget. Settings: flags > SLUICE_* environment "
    "variables > [tool.sluice] in the project's pyproject.toml > defaults."
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "build",
        help="run dbt build, retry transient failures, escalate the rest, write the report",
        description=(
            "Run dbt build; classify every failed node; retry only transient failures with "
            "capped exponential backoff (full jitter); escalate the rest to their owners; "
            "write metrics and the impact report."
        ),
        epilog=EPILOG,
        allow_abbrev=False,
    )
    parser.add_argument("--project-dir", default=".", help="the dbt project (default: .)")
    parser.add_argument("--max-attempts", type=int, help="dbt invocations in all (default 3)")
    parser.add_argument("--base-delay", type=float, help="seconds, first backoff (default 10)")
    parser.add_argument("--max-delay", type=float, help="seconds, backoff cap (default 300)")
    parser.add_argument(
        "--budget", type=float, help="seconds of wall time within which retries start (1800)"
    )
    parser.add_argument(
        "--alert-min-priority",
        choices=("P1", "P2", "P3", "P4"),
        help="alert failures at or above this priority (default P3)",
    )
    parser.add_argument("--no-report", action="store_true", help="skip the impact report")
    parser.add_argument("--report-dir", help="report folder (default target/sluice)")
    parser.add_argument(
        "--report-format",
        action="append",
        choices=("html", "json", "md"),
        help="report format, repeatable (default: all three)",
    )
    parser.add_argument(
        "--no-warehouse",
        action="store_true",
        help="the report reads artifacts only, not sluice's tables in the warehouse",
    )
    parser.add_argument(
        "--dbt-log",
        action="store_true",
        help="write dbt's output to target/sluice/attempts/<n>/dbt.log instead of the terminal",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the build summary as JSON on stdout"
    )
    parser.set_defaults(run=run, dbt_args=[])
    _pass_unknown_arguments_to_dbt(parser)


def _pass_unknown_arguments_to_dbt(parser: argparse.ArgumentParser) -> None:
    """Collect arguments this parser does not know into ``dbt_args`` instead of failing."""
    parse = parser.parse_known_args

    def parse_known_args(
        self: argparse.ArgumentParser, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extra = parse(args, namespace)
        if extra and extra[0] == "--":
            extra = extra[1:]
        parsed.dbt_args = [*(getattr(parsed, "dbt_args", None) or []), *extra]
        return parsed, []

    parser.parse_known_args = types.MethodType(parse_known_args, parser)  # type: ignore[method-assign]


def run(args: argparse.Namespace) -> int:
    from sluice.build import EXIT_USAGE, BuildError, build, summary

    try:
        result = build(
            args.project_dir,
            args.dbt_args,
            max_attempts=args.max_attempts,
            base_delay=args.base_delay,
            max_delay=args.max_delay,
            budget=args.budget,
            alert_min_priority=args.alert_min_priority,
            report=not args.no_report,
            report_formats=tuple(args.report_format or ("html", "json", "md")),
            report_dir=args.report_dir,
            warehouse=not args.no_warehouse,
            log_dbt_output=args.dbt_log,
        )
    except BuildError as exc:
        print(f"sluice build: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(summary(result), indent=2, default=str))
    _print_summary(result)
    return result.exit_code


def _print_summary(result: Any) -> None:
    out = sys.stderr
    kinds = ", ".join(f"{a.number}:{a.kind}" for a in result.attempts)
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
        print(f"  {esc.priority} {flag}: {esc.name} -> {esc.owner} ({esc.owner_basis})", file=out)
    delivery = result.alert_delivery
    if delivery.attempted and not delivery.delivered:
        print(f"  alert delivery failed: {delivery.error}", file=out)
    for note in result.notes:
        if not note.startswith("alert delivery failed"):
            print(f"  note: {note}", file=out)
    meaning = {0: "published", 1: "publication held", 3: "transient failures left"}
    print(
        f"sluice build: exit {result.exit_code} ({meaning.get(result.exit_code, '')}); "
        f"details in {result.target_dir / 'sluice'}",
        file=out,
    )
