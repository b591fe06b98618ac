"""Review output as text or JSON (strings only: the command line prints them).

A SQL NULL is ``NULL`` in text and ``null`` in JSON, never Python's ``None``; values that came
from the data (failed values) are quoted, so the text ``'NULL'`` and a NULL stay apart; times are
UTC.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sluice.review.conflicts import conflict_fields, sides_text
from sluice.review.core import (
    Approval,
    Decision,
    Event,
    ExceptionDetail,
    ExceptionRow,
    Load,
    ModelRules,
    PendingDecision,
    Requested,
    Selection,
    format_time,
)
from sluice.review.policy import PolicyEntry, Waiting, waiting_for
from sluice.warehouse.identity import DIFFERS, Identity


def _plain(value: str | int | None) -> str:
    return "NULL" if value is None else str(value)


def quoted(value: str | None) -> str:
    """A value from the data: ``'text'`` (quotes doubled inside), or NULL."""
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def exception_json(row: ExceptionRow) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in asdict(row).items()}


def _event_json(event: Event) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in asdict(event).items()}


def _pending_json(pending: PendingDecision) -> dict[str, Any]:
    out = {name: _json_value(value) for name, value in asdict(pending).items()}
    out["taken_sides"] = dict(pending.taken_sides) or None
    return out


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def list_text(rows: Sequence[ExceptionRow], selection: Selection) -> str:
    lines = [f"{_plural(len(rows), 'exception')} ({selection.describe()})"]
    for r in rows:
        lines.append(
            f"  {r.exception_id}  {r.model_name}  record {r.record_key} copy {r.record_copy}  "
            f"{r.rule_name} ({r.error_class}, {r.severity}, {r.route})  {r.status}  "
            f"attempts {r.attempt_count}  owner {_plain(r.owner)}"
        )
        evidence = (
            f"{r.failed_column} = {quoted(r.failed_value)}"
            if r.failed_column is not None
            else f"failed_column NULL, failed_value {quoted(r.failed_value)}"
        )
        lines.append(
            f"      {evidence}  "
            f"first seen {format_time(r.first_seen_at)}  "
            f"{r.status} since {format_time(r.status_changed_at)}  {_plain(r.message)}"
        )
    return "\n".join(lines)


def list_json(rows: Sequence[ExceptionRow]) -> str:
    return json.dumps([exception_json(r) for r in rows], indent=2, ensure_ascii=False)


def _row_value(row_json: str | None) -> Any:
    if row_json is None:
        return None
    try:
        return json.loads(row_json)
    except ValueError:
        return row_json


def _row_text(row_json: str | None) -> list[str]:
    value = _row_value(row_json)
    if value is None:
        return ["  NULL"]
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return ["  " + line for line in text.splitlines()]


def _event_text(e: Event) -> str:
    move = f"{e.from_status or '(new)'} -> {_plain(e.to_status)}"
    text = (
        f"  {format_time(e.event_at)}  {(e.event_type or 'NULL'):<9}  {move:<28}  "
        f"by {_plain(e.actor)}"
    )
    if e.attempt_count is not None:
        text += f"  attempts {e.attempt_count}"
    if e.reason is not None:
        text += f"  reason: {e.reason}"
    return text


def _conflict_text(r: ExceptionRow) -> list[str]:
    """A conflict's fields side by side: field, this system's value, the other's."""
    fields = conflict_fields(r.error_class, r.failed_value)
    if not fields:
        return []
    source = f"source ({_plain(r.source_system)})"
    target = f"target ({_plain(r.target_system)})"
    width = max(len("field"), *(len(f.field) for f in fields))
    left = max(len(source), *(len(quoted(f.source)) for f in fields))
    lines = [f"conflict ({_plural(len(fields), 'field')}; decide with --take source|target)"]
    lines.append(f"  {'field':<{width}}  {source:<{left}}  {target}")
    lines += [
        f"  {f.field:<{width}}  {quoted(f.source):<{left}}  {quoted(f.target)}" for f in fields
    ]
    return lines


def show_text(detail: ExceptionDetail) -> str:
    r = detail.exception
    lines = [
        f"exception {r.exception_id}",
        f"  model           {r.model_name} ({r.model_unique_id})",
        f"  record          {r.record_key}  copy {r.record_copy}",
        f"  rule            {r.rule_name}: {r.error_class}, severity {r.severity}, route {r.route}",
        f"  owner           {_plain(r.owner)}",
        f"  status          {r.status} since {format_time(r.status_changed_at)}, "
        f"attempts {r.attempt_count}",
        f"  first seen      {format_time(r.first_seen_at)}",
        f"  last seen       {format_time(r.last_seen_at)}",
        f"  systems         {_plain(r.source_system)} -> {_plain(r.target_system)}",
        f"  message         {_plain(r.message)}",
        "evidence",
        f"  failed_column   {_plain(r.failed_column)}",
        f"  failed_value    {quoted(r.failed_value)}",
        *_conflict_text(r),
        "row",
        *_row_text(detail.row_json),
        f"history ({_plural(len(detail.events), 'event')})",
        *(_event_text(e) for e in detail.events),
    ]
    if detail.pending:
        lines.append("pending decisions (the latest takes effect at the next build of the model)")
        lines += [_decision_text(p) for p in detail.pending]
    if detail.decisions:
        lines.append(
            f"decisions ({_plural(len(detail.decisions), 'decision')}, "
            "with the identity the warehouse authenticated)"
        )
        lines += [_decision_text(d) + f"  [{d.decision_id}]" for d in detail.decisions]
    return "\n".join(lines)


def _decision_text(d: PendingDecision) -> str:
    take = f"  take {sides_text(d.taken_sides)}" if d.taken_sides else ""
    return (
        f"  {format_time(d.decided_at)}  {d.decision} by {_plain(d.decided_by)}  "
        f"reason: {_plain(d.reason)}{take}  {identity_text(d.identity, d.identity_check)}"
    )


def identity_text(identity: Identity | None, check: str | None) -> str:
    """``authenticated: <user>[, role <role>]`` and what it says of ``--by``."""
    if identity is None:
        return "authenticated: not recorded"
    if check == DIFFERS:
        return f"authenticated: {identity.describe()} (differs from --by)"
    return f"authenticated: {identity.describe()}"


def show_json(detail: ExceptionDetail) -> str:
    return json.dumps(
        {
            "exception": exception_json(detail.exception),
            "conflict": [
                asdict(f)
                for f in conflict_fields(
                    detail.exception.error_class, detail.exception.failed_value
                )
            ],
            "row": _row_value(detail.row_json),
            "events": [_event_json(e) for e in detail.events],
            "pending_decisions": [_pending_json(p) for p in detail.pending],
            "decisions": [_pending_json(d) for d in detail.decisions],
        },
        indent=2,
        ensure_ascii=False,
    )


def decided_text(decisions: Sequence[Decision], rows: dict[str, ExceptionRow]) -> str:
    first = decisions[0]
    lines = [
        f"decided: {first.decision} of {_plural(len(decisions), 'exception')} "
        f"by {first.decided_by} (reason: {first.reason})",
        f"  {identity_text(first.identity, first.identity_check)}",
    ]
    needs = [d for d in decisions if d.required_approvers > 1]
    if needs:
        lines.append(
            f"  pending: {_plural(len(needs), 'decision')} under policy "
            f"{', '.join(sorted({d.policy or '' for d in needs}))} need more approvers "
            "(sluice review pending)"
        )
    for d in decisions:
        row = rows.get(d.exception_id or "")
        label = row.label if row is not None else d.exception_id
        take = f"  take {sides_text(d.taken_sides)}" if d.taken_sides else ""
        lines.append(f"  {label}{take}")
    lines.append(
        "It takes effect at the next build of the model."
        if len(decisions) == 1
        else "They take effect at the next build of each model."
    )
    return "\n".join(lines)


def accepted_loads_text(decisions: Sequence[Decision], loads: Sequence[Load]) -> str:
    """What ``sluice review accept-load`` recorded, and what it changes."""
    first = decisions[0]
    lines = [
        f"accepted: {_plural(len(loads), 'load')} by {first.decided_by} (reason: {first.reason})",
        f"  {identity_text(first.identity, first.identity_check)}",
    ]
    lines += [
        f"  {load.model_name} (invocation {load.invocation_id}): {load.state}"
        + (f", {load.missing}" if load.missing else "")
        for load in loads
    ]
    lines.append(
        "Models that accept only complete input build from "
        + ("it" if len(loads) == 1 else "them")
        + " at their next build (e.g. dbt build -s "
        + " ".join(f"{load.model_name}+" for load in loads)
        + " --exclude "
        + " ".join(load.model_name for load in loads)
        + "); a new build of "
        + ("the model" if len(loads) == 1 else "these models")
        + " is a new load, to be accepted again if it is partial."
    )
    return "\n".join(lines)


def _approvers_text(entry: PolicyEntry) -> str:
    own = "" if entry.self_approval else ", the requester not counted"
    return f"policy {entry.name}: {_plural(entry.approvers, 'approver')}{own}"


def approval_text(approval: Approval, requested: Requested, entry: PolicyEntry) -> str:
    """What ``sluice review approve|withdraw`` recorded."""
    done = "approved" if approval.action == "approve" else "withdrawn"
    lines = [
        f"{done}: decision {requested.decision_id} ({requested.decision} of exception "
        f"{requested.exception_id}) by {approval.approved_by} (reason: {approval.reason})",
        f"  {identity_text(approval.identity, approval.identity.check(approval.approved_by))}",
    ]
    if approval.action == "approve":
        counted = len(requested.approvers) + 1
        needed = waiting_for(entry, counted)
        lines.append(
            f"  {_approvers_text(entry)}; "
            + (
                "accepted: it takes effect at the next build of the model"
                if needed == 0
                else f"waiting for {_plural(needed, 'more approver')}"
            )
        )
    else:
        lines.append("  it will not be applied")
    return "\n".join(lines)


def override_text(decision: Decision, model: ModelRules, entry: PolicyEntry) -> str:
    """What ``sluice review override`` recorded, and when it takes effect."""
    counted = 1 if entry.self_approval else 0
    needed = max(entry.approvers - counted, 0)
    lines = [
        f"override: the next build of {model.model_name} publishes despite its gate, once "
        f"(decision {decision.decision_id}, by {decision.decided_by}, reason: {decision.reason})",
        f"  {identity_text(decision.identity, decision.identity_check)}",
        "  the rows its rules hold stay in the quarantine; its load state says overridden",
    ]
    if needed:
        lines.append(
            f"  pending: {_approvers_text(entry)}; waiting for "
            f"{_plural(needed, 'more approver')} (sluice review pending)"
        )
    else:
        lines.append("It takes effect at the next build of the model.")
    return "\n".join(lines)


def pending_text(waiting: Sequence[Waiting]) -> str:
    """``sluice review pending``: each decision not applied yet, and what it waits for."""
    lines = [f"{_plural(len(waiting), 'pending decision')}"]
    for w in waiting:
        r = w.requested
        approvers = ", ".join(r.approvers) or "none yet"
        state = (
            "accepted, applies at the next build"
            if w.needed == 0
            else f"waiting for {_plural(w.needed, 'more approver')}"
        )
        lines.append(
            f"  {r.decision_id}  {r.decision} {w.subject}  by {_plain(r.decided_by)} "
            f"(authenticated: {_plain(r.requester)}) at {format_time(r.decided_at)}"
        )
        lines.append(f"      {_approvers_text(w.entry)}; approved by {approvers}; {state}")
        if w.needed:
            lines.append(f"      who may approve: {w.who_may_approve()}")
    return "\n".join(lines)


def pending_entries(waiting: Sequence[Waiting]) -> list[dict[str, Any]]:
    """Each waiting decision as JSON-ready data (``sluice review pending --format json``, the
    build record's ``pending_decisions``)."""
    return [
        {
            "decision_id": w.requested.decision_id,
            "decision": w.requested.decision,
            "exception_id": w.requested.exception_id,
            "model_name": w.model_name,
            "model_unique_id": w.requested.model_unique_id,
            "decided_by": w.requested.decided_by,
            "requester": w.requested.requester,
            "decided_at": _json_value(w.requested.decided_at),
            "policy": w.entry.name,
            "required_approvers": w.entry.approvers,
            "self_approval": w.entry.self_approval,
            "approvers": list(w.requested.approvers),
            "waiting_for": w.needed,
            "who_may_approve": w.who_may_approve() or None,
            "not_counted": list(w.excluded),
        }
        for w in waiting
    ]


def pending_json(waiting: Sequence[Waiting]) -> str:
    return json.dumps(pending_entries(waiting), indent=2, ensure_ascii=False)
