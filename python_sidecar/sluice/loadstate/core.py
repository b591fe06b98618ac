"""A recorded load as typed, frozen data (no database here).

Every build of a sluice model, and of a model with the ``sluice.record_load_state()`` post-hook
or the ``sluice.wait_for_inputs()`` pre-hook, appends one row to ``sluice_load_states``: the
load's state, when it was recorded (``as_of``), when the data the relation now holds was
published, its row counts, what is missing and why, and the loads of its inputs. A reviewer may
accept one load for its consumers (decision ``accept_load``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sluice.errors import InputError
from sluice.warehouse.records import utc

STATES: Final = (
    "complete",
    "exception_filtered",
    "upstream_held",
    "recovered",
    "held",
    "overridden",
)

LOAD_COLUMNS: Final = (
    "invocation_id",
    "model_unique_id",
    "model_name",
    "relation_name",
    "state",
    "as_of",
    "published_at",
    "rows_in",
    "rows_published",
    "rows_held",
    "missing",
    "inputs_json",
)
"""The columns of ``sluice_load_states`` read, in the order :func:`load_state` takes them,
followed by the acceptance's ``decided_by``, ``decided_at`` and ``reason``."""


@dataclass(frozen=True, slots=True)
class LoadState:
    """One recorded load of a relation, with the reviewer who accepted it (if one did)."""

    model_name: str
    model_unique_id: str
    relation_name: str | None
    state: str
    batch_id: str
    """The dbt invocation that recorded the load."""
    as_of: datetime | None
    """When the build recorded the load (aware UTC)."""
    published_at: datetime | None
    """When the data the relation now holds was published; for a held load, the last good
    load's time (None when there never was one)."""
    rows_in: int | None
    rows_published: int | None
    rows_held: int | None
    missing: str | None
    """What is missing and why, in words."""
    inputs: tuple[dict[str, Any], ...]
    """The sluice models it read: ``{model, state, invocation_id, accepted_by}`` each."""
    accepted_by: str | None
    accepted_at: datetime | None
    accepted_reason: str | None
    age_seconds: int | None
    """How old the published data was when read (``published_at`` to now), in seconds."""


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_inputs(raw: Any, where: str) -> tuple[dict[str, Any], ...]:
    """``inputs_json``: a JSON array of objects (empty when NULL or blank)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ()
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: inputs_json is not JSON: {exc}") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InputError(f"{where}: inputs_json is not a JSON array of objects")
    return tuple(items)


def load_state(row: tuple[Any, ...], now: datetime, where: str) -> LoadState:
    """A row selected as :data:`LOAD_COLUMNS` plus the acceptance's author, time and reason;
    ``now`` (aware) dates the age of the published data."""
    values = dict(zip((*LOAD_COLUMNS, "decided_by", "decided_at", "reason"), row, strict=True))
    model = str(values["model_unique_id"])
    published_at = utc(values["published_at"])
    return LoadState(
        model_name=str(values["model_name"] or model.rsplit(".", 1)[-1]),
        model_unique_id=model,
        relation_name=_text(values["relation_name"]),
        state=str(values["state"]),
        batch_id=str(values["invocation_id"]),
        as_of=utc(values["as_of"]),
        published_at=published_at,
        rows_in=_int(values["rows_in"]),
        rows_published=_int(values["rows_published"]),
        rows_held=_int(values["rows_held"]),
        missing=_text(values["missing"]),
        inputs=parse_inputs(values["inputs_json"], f"{where} ({model})"),
        accepted_by=_text(values["decided_by"]),
        accepted_at=utc(values["decided_at"]),
        accepted_reason=_text(values["reason"]),
        age_seconds=None if published_at is None else int((now - published_at).total_seconds()),
    )
