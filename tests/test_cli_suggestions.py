"""Every `sluice ...` command the sidecar suggests to its users runs: none is a usage error.

The suggestions are read from the sidecar's own text, not listed here, so a new one is checked
as soon as it is written. Every string literal of `python_sidecar/sluice` that is not a
docstring (messages, help, the report's fields, the on-call steps) and every report template
is searched for `sluice <command> ...`:

- in backticks (`` `sluice review list` ``): the command, whole;
- elsewhere, when the word after the command is one of its actions, a flag or a placeholder
  (`(sluice review show ID, or ...)`, the report's `sluice review show <id>`): the command up to
  the next `;`, `)`, quote, or comma or full stop before a space (`--status open,rejected` is
  one word). Other mentions are prose (`sluice build retries transient failures`, the prefix
  of a message: `sluice review: ...`).

Placeholders (`ID`, `{name}`, `FILE`, ...) are replaced with real values of a small built
project, and each command runs there as a user would type it: the installed `sluice`, in the
project's directory. Exit 2, a usage error (an unknown command, action or flag), fails the test.
A bare name whose required arguments are left out (`sluice audit export`) must still name a
command: its `--help` exits 0.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from sluice.cli import _parser, main

from tests import scenario
from tests.dbt_harness import REPO

SIDECAR = REPO / "python_sidecar" / "sluice"
BACKTICKED = re.compile(r"(?<!`)`(sluice [^`]+)`(?!`)")
MENTION = re.compile(r"\bsluice +(\S+)(?: +(\S+))?")
# where a command written in a sentence ends
UNMARKED_END = re.compile(r"[`;)\"'\n]|[,.](?:\s|$)")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


# subcommand -> its actions (none for `build`, `report`, `summary`), from the CLI's own parser
COMMANDS = {name: set(_subparsers(sub)) for name, sub in _subparsers(_parser()).items()}
ACTIONS = set().union(*COMMANDS.values())


def _texts() -> Iterator[tuple[str, str]]:
    """(where, text): every string literal of the sidecar but docstrings (f-strings with their
    fields as `{expression}`), and every report template."""
    for path in sorted(SIDECAR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                skipped.add(id(node.value))  # a docstring: never shown to a user
            elif isinstance(node, ast.JoinedStr):
                skipped.update(id(part) for part in node.values)  # read with the f-string
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(
                    part.value
                    if isinstance(part, ast.Constant)
                    else "{" + ast.unparse(part.value) + "}"
                    for part in node.values
                )
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in skipped
            ):
                text = node.value
            else:
                continue
            yield f"{path.relative_to(REPO)}:{node.lineno}", text
    for path in sorted(SIDECAR.rglob("*.j2")):
        yield str(path.relative_to(REPO)), path.read_text(encoding="utf-8")


def _is_placeholder(word: str) -> bool:
    return word.startswith(("{", "<")) or (word.isupper() and word.replace("_", "").isalpha())


def suggested_commands() -> dict[str, str]:
    """command -> where it is first suggested."""
    found: dict[str, str] = {}
    for where, text in _texts():
        commands = BACKTICKED.findall(text)
        rest = BACKTICKED.sub(" ", text)
        for mention in MENTION.finditer(rest):
            command, word = mention.groups()
            if word is None or command.endswith(":") or word.endswith(":"):
                continue  # a bare name in a sentence, or a message's prefix
            if command in COMMANDS:
                suggested = word in COMMANDS[command] or word.startswith("-")
                suggested = suggested or _is_placeholder(word)
            else:  # a misspelled command followed by an action or a flag
                suggested = word in ACTIONS or word.startswith("-")
            if not suggested:
                continue  # prose: "sluice build retries ...", "sluice audit reads ..."
            tail = rest[mention.start() :]
            end = UNMARKED_END.search(tail)
            commands.append(tail[: end.start() if end else None])
        for command in commands:
            found.setdefault(" ".join(command.split()), where)
    return found


def test_the_scan_finds_the_suggestions_it_is_meant_to_check():
    found = suggested_commands()
    # the report's command per held record, the on-call step for held rows, the help's pointer
    assert "sluice review show {r.exception_id}" in found
    assert any(c.startswith("sluice review list ") and "--model" in c for c in found), found
    assert "sluice review list" in found
    # prose and message prefixes are not commands
    assert not any(c.startswith(("sluice build retries", "sluice audit reads")) for c in found)
    assert not any(":" in c for c in found), found


def _sluice() -> list[str]:
    """The installed `sluice` command (else `python -m sluice`)."""
    script = Path(sys.executable).with_name("sluice")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sluice"]


def test_every_suggested_command_runs_without_a_usage_error(make_project, tmp_path, capsys):
    project = make_project()
    scenario.setup(project)
    project.dbt("build")
    exception_id = project.query(
        "select exception_id from {schema}.orders__quarantine order by exception_id limit 1"
    )[0][0]
    kept = tmp_path / "kept.jsonl"
    flags = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    assert main(["audit", "export", "--output", str(kept), *flags]) == 0
    capsys.readouterr()
    values = {
        "ID": exception_id,
        "EXCEPTION_ID": exception_id,
        "<id>": exception_id,
        "<exception_id>": exception_id,
        "{r.exception_id}": exception_id,
        "{exception_id}": exception_id,
        "{name}": "orders",
        "M": "orders",
        "MODEL": "orders",
        "NAME": "ann",
        "TEXT": "reviewed",
        "FILE": str(kept),
        "KEPT.jsonl": str(kept),
    }

    failures = []
    runs: dict[tuple[str, ...], str] = {}  # the command to run -> where it is suggested
    for command, where in sorted(suggested_commands().items()):
        words = shlex.split(command)[1:]
        unknown = [w for w in words if _is_placeholder(w) and w not in values]
        if unknown:
            failures.append(f"{where}: `{command}`: no value for the placeholder {unknown}")
        else:
            runs.setdefault(tuple(values.get(w, w) for w in words), f"{where}: `{command}`")
    for args, suggested in runs.items():
        ran = subprocess.run(
            [*_sluice(), *args],
            cwd=project.root,
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if ran.returncode != 2:
            continue
        bare_name = len(args) <= 2 and all(a in COMMANDS or a in ACTIONS for a in args)
        if bare_name and "the following arguments are required" in ran.stderr:
            shown = subprocess.run([*_sluice(), *args, "--help"], capture_output=True, text=True)
            if shown.returncode == 0:
                continue  # the name of a command, its required options left to the reader
        failures.append(f"{suggested} exits 2: {ran.stderr.strip()[-400:]}")
    assert not failures, "\n".join(failures)
