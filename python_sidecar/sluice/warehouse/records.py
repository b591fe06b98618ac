"""Rows of the package's tables as typed, frozen data (no database here).

``sluice_runs`` is the structured record a sluice model leaves of each build: rows in,
published, held and flagged, the gate's decision and the rows per rule. Every count the sidecar
shows comes from it, never from the human-readable messages in dbt's output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sluice.errors import InputError
from sluice.impact.model import RuleCount

RUN_COLUMNS: Final = (
    "invocation_id",
    "model_unique_id",
    "model_name",
    "relation_name",
    "quarantine_relation",
    "mode",
    "run_started_at",
    "finished_at",
    "rows_in",
    "rows_published",
    "rows_held",
    "rows_flagged",
    "rows_set_aside",
    "gate_status",
    "gate_message",
    "rule_counts_json",
    "rows_held_open",
)
ADDED_RUN_COLUMNS: Final = frozenset({"rows_set_aside", "rows_held_open"})
"""Columns added to ``sluice_runs`` since 0.1.0 (the package's bookkeeping hook adds them to an
older table at the next build): until then they are read as NULL."""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One row of ``sluice_runs``: a sluice model built by one dbt invocation."""

    invocation_id: str
    model_unique_id: str
    model_name: str
    relation_name: str | None
    quarantine_relation: str | None
    mode: str | None
    run_started_at: datetime | None
    finished_at: datetime | None
    rows_in: int | None
    rows_published: int | None
    rows_held: int
    rows_flagged: int
    rows_set_aside: int
    gate_status: str | None
    gate_message: str | None
    rule_counts: tuple[RuleCount, ...]
    rows_held_open: int | None = None
    """Of ``rows_held``, the rows not decided yet (held by an open or dead-lettered failure);
    None for a row written before sluice recorded it."""

    @property
    def held(self) -> bool:
        return self.gate_status == "held"


def utc(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (sluice stores naive UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_rule_counts(raw: Any, where: str) -> tuple[RuleCount, ...]:
    """``rule_counts_json``: a JSON array of {rule_name, error_class, severity, route, rows}."""
    if raw is None or raw == "":
        return ()
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: rule_counts_json is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise InputError(f"{where}: rule_counts_json is not a JSON array")
    counts: list[RuleCount] = []
    for item in items:
        if not isinstance(item, dict) or "error_class" not in item:
            raise InputError(f"{where}: rule_counts_json has an entry without error_class")
        try:
            rows = int(item.get("rows") or 0)
        except (TypeError, ValueError):
            raise InputError(f"{where}: rule_counts_json rows is not a number") from None
        counts.append(
            RuleCount(
                rule_name=str(item.get("rule_name") or ""),
                error_class=str(item["error_class"]),
                severity=str(item.get("severity") or ""),
                route=str(item.get("route") or ""),
                rows=rows,
            )
        )
    return tuple(counts)


def run_record(row: tuple[Any, ...], where: str) -> RunRecord:
    """A ``sluice_runs`` row selected in :data:`RUN_COLUMNS` order."""
    values = dict(zip(RUN_COLUMNS, row, strict=True))
    model = str(values["model_unique_id"])
    return RunRecord(
        invocation_id=str(values["invocation_id"]),
        model_unique_id=model,
        model_name=str(values["model_name"] or model.rsplit(".", 1)[-1]),
        relation_name=_text(values["relation_name"]),
        quarantine_relation=_text(values["quarantine_relation"]),
        mode=_text(values["mode"]),
        run_started_at=utc(values["run_started_at"]),
        finished_at=utc(values["finished_at"]),
        rows_in=_int(values["rows_in"]),
        rows_published=_int(values["rows_published"]),
        rows_held=int(values["rows_held"] or 0),
        rows_flagged=int(values["rows_flagged"] or 0),
        rows_set_aside=int(values["rows_set_aside"] or 0),
        gate_status=_text(values["gate_status"]),
        gate_message=_text(values["gate_message"]),
        rule_counts=parse_rule_counts(values["rule_counts_json"], f"{where} ({model})"),
        rows_held_open=_int(values["rows_held_open"]),
    )
