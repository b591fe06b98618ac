"""Reading and rewriting the dbt arguments passed through ``sluice build``.

The first attempt passes the arguments to ``dbt build`` as given (less ``--`` separators and
``--project-dir``, which sluice passes itself). A retry has to rewrite them: drop the selection
for a ``dbt build --select <nodes>`` rerun, keep only what ``dbt retry`` accepts. Which token
belongs to which option is decided by dbt's own command-line parser (the ``dbt.cli`` click
commands, with dbt's multi-value options that also take the words after ``--select=a``), so
every form dbt accepts is read the way dbt reads it. dbt's parser is imported only when a
retry needs it: importing it takes a few seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

SEPARATOR = "--"
SELECTION_PARAMS = frozenset({"select", "selector"})
"""dbt build's parameters that choose the nodes (``-s``/``--select``/``-m``/``--models``/
``--model`` and ``--selector``); ``--exclude`` and the resource-type filters are kept."""
NOT_FOR_RETRY = frozenset({"state"})
"""Parameters ``dbt retry`` accepts but that would change what it retries: with ``--state``
it reads the previous run's results from the state folder instead of the target path."""


class DbtArgsError(ValueError):
    """dbt's parser refuses the arguments (or cannot be imported)."""


@dataclass(frozen=True, slots=True)
class OptionGroup:
    """The consecutive tokens dbt's parser reads as one option (or one stray word)."""

    tokens: tuple[str, ...]
    params: tuple[str, ...]
    """The dbt parameter names the tokens set (several for combined flags such as ``-xq``);
    empty for a word dbt's parser does not read as an option."""


def without_separators(args: Sequence[str]) -> list[str]:
    """The arguments without ``--``: sluice reads it as "the rest is dbt's", and dbt's parser
    would take every word after it as an unexpected extra argument."""
    return [arg for arg in args if arg != SEPARATOR]


def flag_value(args: Sequence[str], *names: str) -> str | None:
    """The last value given to any of ``names``, read as dbt's parser reads a single-value
    option: ``--flag value``, ``--flag=value``, ``-f value`` or ``-fvalue``.

    Used before dbt's parser is loaded, for options whose value is one word (the project,
    profiles and target paths, the target).
    """
    value: str | None = None
    for index, arg in enumerate(args):
        for name in names:
            if arg == name:
                if index + 1 < len(args):
                    value = args[index + 1]
            elif name.startswith("--") and arg.startswith(name + "="):
                value = arg.split("=", 1)[1]
            elif not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                value = arg[len(name) :]
    return value


@cache
def _dbt_commands() -> dict[str, Any]:
    try:
        from dbt.cli.main import cli
    except Exception as exc:  # pragma: no cover - dbt-core is a dependency
        raise DbtArgsError(f"dbt's command-line parser cannot be loaded: {exc}") from None
    return dict(cli.commands)


def option_groups(args: Sequence[str], command: str = "build") -> list[OptionGroup]:
    """Split ``args`` into the option groups dbt's parser for ``dbt <command>`` reads.

    The parser is dbt's own click parser; each option's processing is observed to see how
    many tokens it consumed. Words the parser does not read as options (dbt would refuse them)
    come back as groups without parameters.
    """
    import click

    commands = _dbt_commands()
    if command not in commands:
        raise DbtArgsError(f"dbt has no {command!r} command")
    cmd = commands[command]
    tokens = without_separators(args)
    parser = cmd.make_parser(click.Context(cmd, resilient_parsing=True))
    parser.ignore_unknown_options = True
    seen: list[tuple[str, int, int]] = []  # (param, tokens left, stray words so far)

    def observe(option: Any) -> None:
        inner = option.process

        def process(value: Any, state: Any) -> None:
            inner(value, state)
            seen.append((str(option.dest), len(state.rargs), len(state.largs)))

        option.process = process

    for option in {
        id(o): o for o in (*parser._long_opt.values(), *parser._short_opt.values())
    }.values():
        observe(option)
    try:
        parser.parse_args(list(tokens))
    except click.ClickException as exc:
        raise DbtArgsError(f"dbt {command} refuses the arguments {list(tokens)}: {exc}") from None

    groups: list[OptionGroup] = []
    position, strays = 0, 0
    for param, left, stray_count in seen:
        end = len(tokens) - left
        new_strays = stray_count - strays
        for word in tokens[position : position + new_strays]:
            groups.append(OptionGroup((word,), ()))
        position += new_strays
        strays = stray_count
        consumed = tuple(tokens[position:end])
        if not consumed and groups and groups[-1].params:
            last = groups[-1]  # a combined short flag (the q of -xq): same token
            groups[-1] = OptionGroup(last.tokens, (*last.params, param))
        else:
            groups.append(OptionGroup(consumed, (param,)))
        position = end
    for word in tokens[position:]:
        groups.append(OptionGroup((word,), ()))
    return groups


def _join(groups: Sequence[OptionGroup]) -> list[str]:
    return [token for group in groups for token in group.tokens]


def without_selection(args: Sequence[str]) -> list[str]:
    """The arguments with every node selection removed (``--exclude`` and the rest kept)."""
    return _join([g for g in option_groups(args) if not (set(g.params) & SELECTION_PARAMS)])


def _option_strings(group: OptionGroup) -> list[str]:
    first = group.tokens[0]
    if first.startswith("--"):
        return [first.split("=", 1)[0]]
    return ["-" + letter for letter in first[1 : 1 + len(group.params)]]


def retry_args(args: Sequence[str]) -> list[str]:
    """The build's options that ``dbt retry`` accepts on its command line (from dbt's own
    ``retry`` command), less :data:`NOT_FOR_RETRY`; the selection and the rest ``dbt retry``
    takes from the previous run's results."""
    retry = _dbt_commands()["retry"]
    accepted: dict[str, str] = {}
    for param in retry.params:
        for opt in (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())):
            accepted[opt] = str(param.name)
    kept: list[OptionGroup] = []
    for group in option_groups(args):
        if not group.params or set(group.params) & NOT_FOR_RETRY:
            continue
        names = _option_strings(group)
        if all(accepted.get(name) in group.params for name in names):
            kept.append(group)
    return _join(kept)
