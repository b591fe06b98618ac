"""Classifying a dbt invocation that failed before any node ran, from dbt's own output.

The warehouse refusing connections, a DuckDB file locked by another process, an expired
password: dbt stops before its first node and writes no run results (or results without an
executed node), so there is no node message to classify. Its output still says why, after
"Encountered an error:". That text is matched against the same pattern table as node messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from sluice.classify.core import classify_message
from sluice.classify.model import Failure, FailureClass
from sluice.classify.patterns import Pattern

INVOCATION_TYPE = "invocation"
"""The ``resource_type`` of the failure that stands for a whole dbt invocation."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TIMESTAMPED = re.compile(r"^\s*\d{2}:\d{2}:\d{2}(\.\d+)?\s")
_ERROR_START = "Encountered an error"
_ADAPTER = re.compile(r"Registered adapter: (\w+)=")
_TAIL_LINES = 20


def _entries(output: str) -> list[list[str]]:
    """dbt's log as entries of lines: a text entry starts with a timestamped line and goes on
    over the lines that follow it; a JSON log line (``--log-format json``) is one entry, its
    message."""
    entries: list[list[str]] = []
    for raw in _ANSI.sub("", output).splitlines():
        stripped = raw.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            try:
                event = json.loads(stripped)
            except ValueError:
                event = None
            info = event.get("info") if isinstance(event, dict) else None
            msg = info.get("msg") if isinstance(info, dict) else None
            if isinstance(msg, str):
                entries.append(msg.splitlines())
                continue
        if _TIMESTAMPED.match(raw) or not entries:
            entries.append([raw])
        else:
            entries[-1].append(raw)
    return entries


def error_text(output: str) -> str:
    """The error dbt reported: its last "Encountered an error:" entry (which leaves out the
    traceback dbt logs after it), else (or when that entry is empty) the last lines of the
    output."""
    entries = _entries(output)
    found = [entry for entry in entries if any(_ERROR_START in line for line in entry)]
    if found:
        entry = found[-1]
        first = next(i for i, line in enumerate(entry) if _ERROR_START in line)
        block = [entry[first].split(_ERROR_START, 1)[1].lstrip(": "), *entry[first + 1 :]]
        text = "\n".join(line.rstrip() for line in block if line.strip())
        if text:
            return text
    tail = [line for entry in entries for line in entry if line.strip()][-_TAIL_LINES:]
    return "\n".join(line.rstrip() for line in tail)


def adapter_from_output(output: str) -> str | None:
    """The adapter type dbt registered (``Registered adapter: postgres=1.9.0``), if it says."""
    match = _ADAPTER.search(_ANSI.sub("", output))
    return match.group(1).lower() if match else None


def classify_start_failure(
    output: str,
    adapter: str | None,
    patterns: Sequence[Pattern],
    *,
    project: str,
    command: str,
    returncode: int,
) -> Failure:
    """The failure of a dbt invocation that ran no node, classified from its output.

    With the adapter unknown (dbt stopped before loading it), every row of the table is tried.
    """
    text = error_text(output)
    if adapter is None:
        failure_class, reason = _first_in_table(text, patterns)
    else:
        failure_class, reason = classify_message(text, adapter, patterns)
    message = text or f"dbt {command} exited {returncode} and printed no error"
    return Failure(
        unique_id=f"{INVOCATION_TYPE}.{project}",
        name=f"dbt {command}",
        resource_type=INVOCATION_TYPE,
        status="error",
        failure_class=failure_class,
        message=message,
        reason=f"dbt {command} exited {returncode} before running any node: {reason}",
        effective_class=failure_class,
    )


def _first_in_table(text: str, patterns: Sequence[Pattern]) -> tuple[FailureClass, str]:
    """The first row of the table that matches, whatever its adapter."""
    for pattern in patterns:
        cls, reason = classify_message(text, pattern.adapter, (pattern,))
        if cls is not FailureClass.UNKNOWN:
            return cls, reason
    return FailureClass.UNKNOWN, "no pattern matched the message"
