"""The counts a sluice model states in its run result, merged with what the warehouse read.

Owns reading the JSON payload after ``sluice-counts: `` in a sluice model's run result (never
the human sentence) and the precedence of the warehouse's ``sluice_runs`` rows over it. The
rows themselves are read by the caller (:mod:`sluice.warehouse`) and handed in: nothing here
touches the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from sluice.artifacts.models import RunResult, RunResults
from sluice.impact.model import ModelQuarantine, RuleCount
from sluice.impact.walk import GATE_HELD_MARK, completed_at

SLUICE_CODE: Final = "SLUICE"
COUNTS_MARK: Final = "sluice-counts: "


def _payload(message: str) -> dict[str, Any] | None:
    """The JSON object the materialization puts after ``sluice-counts: `` in its message."""
    at = message.find(COUNTS_MARK)
    if at < 0:
        return None
    line = message[at + len(COUNTS_MARK) :].split("\n", 1)[0].strip()
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _payload_int(data: dict[str, Any] | None, key: str) -> int | None:
    value = data.get(key) if data else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _payload_rules(data: dict[str, Any] | None) -> tuple[RuleCount, ...]:
    rules = data.get("rule_counts") if data else None
    if not isinstance(rules, list):
        return ()
    out = []
    for r in rules:
        if isinstance(r, dict) and isinstance(r.get("rows"), int):
            out.append(
                RuleCount(
                    rule_name=str(r.get("rule_name", "")),
                    error_class=str(r.get("error_class", "")),
                    severity=str(r.get("severity", "")),
                    route=str(r.get("route", "")),
                    rows=int(r["rows"]),
                )
            )
    return tuple(out)


def _published_status(data: dict[str, Any] | None) -> str:
    """``overridden`` when the build published despite its gate (sluice review override), else
    ``passed``."""
    return "overridden" if (data or {}).get("gate_status") == "overridden" else "passed"


def _stated(result: RunResult, data: dict[str, Any] | None, *, held: bool) -> ModelQuarantine:
    """One sluice model's counts as its run result states them; ``held``: its gate held."""
    message = result.message or ""
    return ModelQuarantine(
        model_unique_id=result.unique_id,
        rows_in=_payload_int(data, "rows_in"),
        rows_published=0 if held else _payload_int(data, "rows_published"),
        rows_held=(_payload_int(data, "rows_held") or 0)
        + (_payload_int(data, "rows_set_aside") or 0),
        rows_flagged=_payload_int(data, "rows_flagged") or 0,
        gate_status="held" if held else _published_status(data),
        gate_message=message.split(COUNTS_MARK, 1)[0].rstrip() if held else None,
        rule_counts=_payload_rules(data),
        last_passed_at=None if held else completed_at(result),
        rows_held_open=_payload_int(data, "rows_held_open"),
    )


def quarantine_from_run_results(run_results: RunResults) -> dict[str, ModelQuarantine]:
    """The figures a sluice model states in its run result (used without a warehouse): the
    JSON payload after ``sluice-counts: ``, never the human sentence."""
    found: dict[str, ModelQuarantine] = {}
    for result in run_results.results:
        message = result.message or ""
        data = _payload(message)
        if result.adapter_response.code == SLUICE_CODE or message.startswith("sluice:"):
            found[result.unique_id] = _stated(result, data, held=False)
        elif result.status == "error" and GATE_HELD_MARK in message:
            found[result.unique_id] = _stated(result, data, held=True)
    return found


def quarantine_counts(
    run_results: RunResults, warehouse: Mapping[str, ModelQuarantine] | None = None
) -> dict[str, ModelQuarantine]:
    """Each sluice model's counts as the report and the alerts both read them: its
    ``sluice_runs`` row (``warehouse``) where one was read, else what its run result states
    (:func:`quarantine_from_run_results`, the only source under ``--no-warehouse``)."""
    return {**quarantine_from_run_results(run_results), **(warehouse or {})}
