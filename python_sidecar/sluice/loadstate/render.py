"""Load states as text or JSON (strings only: the command line prints them).

Text is a table, one load per line; an empty cell is ``-``. JSON is a list of objects with every
field, times in ISO 8601 UTC with ``Z``, ``null`` for SQL NULL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sluice.loadstate.core import LoadState


def iso(value: datetime | None) -> str | None:
    """An aware time as ``YYYY-MM-DDTHH:MM:SSZ`` (fractions kept when present)."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def state_record(state: LoadState) -> dict[str, Any]:
    """Every field of the load, JSON-ready."""
    return {
        name: iso(value) if isinstance(value, datetime) else value
        for name, value in asdict(state).items()
    } | {"inputs": [dict(i) for i in state.inputs]}


def to_json(states: Sequence[LoadState]) -> str:
    return json.dumps([state_record(s) for s in states], indent=2, ensure_ascii=False)


def age(seconds: int | None) -> str:
    """``45s``, ``12m``, ``3h 05m``, ``2d 04h``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 0:
        return "0s"  # the warehouse's clock is ahead of this machine's
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{minutes}m"
    if seconds < 86400:
        return f"{hours}h {minutes % 60:02d}m"
    return f"{days}d {hours % 24:02d}h"


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _accepted(state: LoadState) -> str:
    if state.accepted_by is None:
        return "-"
    if state.accepted_reason is None:
        return state.accepted_by
    return f"{state.accepted_by}: {state.accepted_reason}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def to_text(states: Sequence[LoadState], *, history: bool = False) -> str:
    """A table: model, state, as of (UTC), age of the published data, rows published and held,
    what is missing, who accepted the load; with the batch (invocation) for a history."""
    if not states:
        return "no load recorded yet"
    header = ["model", "state", "as of (UTC)", "age of data", "published", "held"]
    header += ["missing", "accepted by"]
    rows = [
        [
            s.model_name,
            s.state,
            _time(s.as_of),
            age(s.age_seconds),
            _count(s.rows_published),
            _count(s.rows_held),
            s.missing or "-",
            _accepted(s),
        ]
        for s in states
    ]
    if history:
        header = ["batch", *header]
        rows = [[s.batch_id, *row] for s, row in zip(states, rows, strict=True)]
    return "\n".join(_table(header, rows))
