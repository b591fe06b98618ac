"""A post-incident review as Markdown (to attach to a ticket) or JSON. Times are UTC; a value
from the data never breaks a Markdown table (``|`` and line breaks are escaped)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sluice.incident_review.core import IncidentReview
from sluice.review.core import format_time

FORMATS = ("md", "json")


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, int | float | str):
        return value.value
    return value


def to_json(r: IncidentReview) -> dict[str, Any]:
    incident = r.incident
    latest = incident.latest
    return {
        "incident_id": incident.incident_id,
        "exposure": {
            "unique_id": latest.exposure_unique_id,
            "name": latest.exposure_name,
            "label": latest.exposure_label,
            "criticality": latest.criticality,
            "owners": latest.owners,
        },
        "open": incident.is_open,
        "worst_status": incident.worst_status,
        "opened_at": incident.opened_at.isoformat(),
        "closed_at": _value(incident.closed_at),
        "close_reason": _value(latest.close_reason) if not incident.is_open else None,
        "affected_seconds": round(r.affected_seconds, 3),
        "failed_at": r.failed_at.isoformat(),
        "detection": {
            "build": incident.first.opened_invocation_id,
            "rules": list(r.detected_by_rules),
            "delay_seconds": round(r.detection_seconds, 3),
            "builds": [
                {
                    "model": run.model_name,
                    "gate_status": run.gate_status,
                    "rows_in": run.rows_in,
                    "rows_held": run.rows_held,
                    "started_at": _value(run.run_started_at),
                }
                for run in r.opening_runs
            ],
            "alerts": [_value(asdict(a)) for a in r.alerts],
        },
        "root_causes": [_value(asdict(c)) for c in r.causes],
        "status_changes": [
            {
                "change": c.change_type.value,
                "status": c.status,
                "at": c.changed_at.isoformat(),
                "invocation_id": c.invocation_id,
                "fix_owners": c.fix_owners,
            }
            for c in incident.changes
        ],
        "events": [_value(asdict(e)) for e in r.events],
        "recovery_actions": [
            {
                "exception_id": a.event.exception_id,
                "model": a.event.model_name,
                "rule": a.event.rule_name,
                "to_status": a.event.to_status,
                "at": a.event.event_at.isoformat(),
                "decision_id": a.decision_id,
                "requested_by": a.requested_by,
                "approved_by": list(a.approved_by),
                "reason": a.event.reason,
            }
            for a in r.actions
        ],
        "recovered": sum(1 for e in r.events if e.to_status == "recovered"),
        "still_open": [_value(asdict(s)) for s in r.still_open],
        "recurring": [
            {
                "culprit_type": x.cause.culprit_type,
                "culprit": x.cause.culprit_name,
                "node_unique_id": x.cause.node_unique_id,
                "incidents": x.cause.incidents,
                "earlier_incidents": list(x.earlier),
            }
            for x in r.recurring
        ],
    }


def render_json(r: IncidentReview) -> str:
    return json.dumps(to_json(r), indent=2, sort_keys=False) + "\n"


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _duration(seconds: float) -> str:
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    parts += [f"{minutes}m", f"{secs}s"]
    return " ".join(parts)


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def render_md(r: IncidentReview) -> str:
    incident, latest = r.incident, r.incident.latest
    exposure = latest.exposure_label or latest.exposure_name
    state = "open" if incident.is_open else f"closed ({_cell(_value(latest.close_reason))})"
    lines = [
        f"# Incident {incident.incident_id}: {_cell(exposure)}",
        "",
        f"- Exposure: `{_cell(latest.exposure_unique_id)}` (criticality "
        f"{_cell(latest.criticality or 'unknown')}), "
        f"owners: {_cell(latest.owners or 'none declared')}",
        f"- State: {state}; worst status {_cell(incident.worst_status or 'unknown')}",
        f"- Opened: {format_time(incident.opened_at)}; closed: {format_time(incident.closed_at)}",
        f"- Affected for: {_duration(r.affected_seconds)}"
        + (" (still open)" if incident.is_open else ""),
        "",
        "## What failed",
        "",
        *_table(
            ("kind", "node", "rule", "rows held", "effect", "owner of the fix"),
            [
                (c.kind, c.node_name, c.rule_name or "", c.rows_held, c.effect, c.owner or "")
                for c in r.causes
            ],
        ),
        f"First failure recorded: {format_time(r.failed_at)}.",
        "",
        "## How it was detected",
        "",
        f"- Build (dbt invocation): `{_cell(incident.first.opened_invocation_id)}`",
        f"- Rules: {_cell(', '.join(r.detected_by_rules) or 'none named')}",
        f"- Detection delay: {_duration(r.detection_seconds)} (first failure to the opening)",
        "",
        *_table(
            ("model", "gate", "rows in", "rows held", "build started"),
            [
                (
                    run.model_name,
                    run.gate_status or "",
                    run.rows_in,
                    run.rows_held,
                    format_time(run.run_started_at),
                )
                for run in r.opening_runs
            ],
        ),
        "Alerts:",
        "",
        *_table(
            ("recorded", "node", "rule", "priority", "class", "delivered"),
            [
                (
                    format_time(a.recorded_at),
                    a.node_name,
                    a.rule or "",
                    a.priority or "",
                    a.failure_class or "",
                    "" if a.delivered is None else str(a.delivered).lower(),
                )
                for a in r.alerts
            ],
        ),
        "## Status over time",
        "",
        *_table(
            ("at", "change", "status", "owners of the fix"),
            [
                (format_time(c.changed_at), c.change_type.value, c.status or "", c.fix_owners or "")
                for c in incident.changes
            ],
        ),
        "## Recovery actions",
        "",
        f"Recovered by a build: {sum(1 for e in r.events if e.to_status == 'recovered')} "
        "exception(s).",
        "",
        *_table(
            ("at", "exception", "rule", "decision", "requested by", "approved by", "reason"),
            [
                (
                    format_time(a.event.event_at),
                    a.event.exception_id,
                    a.event.rule_name,
                    a.event.to_status or "",
                    a.requested_by or "",
                    ", ".join(a.approved_by),
                    a.event.reason or "",
                )
                for a in r.actions
            ],
        ),
        "## Still open",
        "",
        *_table(
            ("exception", "model", "rule", "record", "status", "since", "first seen"),
            [
                (
                    s.exception_id,
                    s.model_name,
                    s.rule_name,
                    s.record_key,
                    s.status,
                    format_time(s.since),
                    format_time(s.first_seen_at),
                )
                for s in r.still_open
            ],
        ),
        "## Recurring",
        "",
        *_table(
            ("culprit", "type", "incidents", "earlier incidents"),
            [
                (
                    x.cause.culprit_name,
                    x.cause.culprit_type,
                    x.cause.incidents,
                    ", ".join(x.earlier),
                )
                for x in r.recurring
            ],
        ),
        f"## Events ({len(r.events)})",
        "",
        *_table(
            ("at", "type", "event id", "model", "rule", "record", "from", "to", "by"),
            [
                (
                    format_time(e.event_at),
                    e.event_type,
                    e.event_id,
                    e.model_name,
                    e.rule_name,
                    e.record_key,
                    e.from_status or "",
                    e.to_status or "",
                    e.actor or "",
                )
                for e in r.events
            ],
        ),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"
