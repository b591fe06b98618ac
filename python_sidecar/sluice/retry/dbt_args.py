"""Reading and rewriting the dbt arguments passed through ``sluice build``."""

from __future__ import annotations

from collections.abc import Sequence

# Flags of `dbt build` that take a value (so the value is not mistaken for another flag).
_SELECTION = ("--select", "-s", "--models", "-m", "--selector")
# Flags `dbt retry` accepts on its command line; the rest it takes from the previous run.
_RETRY_FLAGS_WITH_VALUE = (
    "--profiles-dir",
    "--target-path",
    "--log-path",
    "--vars",
    "--threads",
    "--log-format",
    "--log-level",
)
_RETRY_SWITCHES = ("--warn-error", "--no-partial-parse", "--partial-parse")


def flag_value(args: Sequence[str], *names: str) -> str | None:
    """The last value given to any of ``names`` (``--flag value`` or ``--flag=value``)."""
    value: str | None = None
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                value = args[index + 1]
            elif arg.startswith(name + "="):
                value = arg.split("=", 1)[1]
    return value


def without_selection(args: Sequence[str]) -> list[str]:
    """The arguments with every node selection removed (``--exclude`` is kept)."""
    kept: list[str] = []
    skip_values = False
    for arg in args:
        if arg in _SELECTION:
            skip_values = True
            continue
        if any(arg.startswith(flag + "=") for flag in _SELECTION if flag.startswith("--")):
            skip_values = False
            continue
        if skip_values:
            if arg.startswith("-"):
                skip_values = False
            else:
                continue
        kept.append(arg)
    return kept


def retry_args(args: Sequence[str]) -> list[str]:
    """The subset of the build's arguments that ``dbt retry`` accepts on its command line."""
    kept: list[str] = []
    for flag in _RETRY_FLAGS_WITH_VALUE:
        value = flag_value(args, flag)
        if value is not None:
            kept += [flag, value]
    kept += [arg for arg in args if arg in _RETRY_SWITCHES]
    return kept
