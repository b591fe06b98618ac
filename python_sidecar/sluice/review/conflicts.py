"""Conflicts between two systems, as a reviewer sees them: the fields of a `conflicting_record`
exception side by side, and the side a reviewer takes per field.

The package writes a conflict's evidence as JSON in ``failed_value``,
``{"status": {"source": "active", "target": "closed"}, ...}``. The side taken is not applied to
the data (the source system owns the fix): it is recorded with the decision, in its own column
``taken_sides`` (``{"status": "target", "amount": "source"}``), which the next build seals with
the decision as it stands: unlike the reason, it is not evidence that retention may redact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from sluice.errors import InputError

CONFLICT_CLASS: Final = "conflicting_record"
SIDES: Final = ("source", "target")


@dataclass(frozen=True)
class ConflictField:
    """One field on which the two systems disagree, with both values (None: NULL)."""

    field: str
    source: str | None
    target: str | None


def conflict_fields(error_class: str, failed_value: str | None) -> tuple[ConflictField, ...]:
    """The fields of a conflict with both values, in the evidence's order; empty for any other
    exception, or evidence that is not a conflict's."""
    if error_class != CONFLICT_CLASS or not failed_value:
        return ()
    try:
        evidence = json.loads(failed_value)
    except ValueError:
        return ()
    if not isinstance(evidence, dict):
        return ()
    fields = []
    for name, sides in evidence.items():
        if not isinstance(sides, dict):
            return ()
        values = [sides.get(side) for side in SIDES]
        fields.append(
            ConflictField(str(name), *(None if value is None else str(value) for value in values))
        )
    return tuple(fields)


def parse_takes(texts: Sequence[str]) -> dict[str | None, str]:
    """``--take`` values: ``source`` or ``target`` (every field), or ``FIELD=source|target``;
    key None stands for every field not named."""
    takes: dict[str | None, str] = {}
    for text in texts:
        field, _, side = text.rpartition("=")
        key = field.strip() or None
        side = side.strip().lower()
        if side not in SIDES or ("=" in text and key is None):
            raise InputError(
                f"--take {text!r}: expected source, target, or FIELD=source|target "
                "(the side that is right)"
            )
        if key in takes and takes[key] != side:
            raise InputError(f"--take names {key or 'every field'} twice, with both sides")
        takes[key] = side
    return takes


def taken_sides(
    exception: str, fields: Sequence[ConflictField], takes: Mapping[str | None, str]
) -> tuple[tuple[str, str], ...]:
    """(field, side) for every conflicting field of one exception, refused (an InputError naming
    the exception) when it is not a conflict, a named field is not one of its conflicting
    fields, or a field has no side."""
    if not fields:
        raise InputError(
            f"--take applies to conflicts between two systems ({CONFLICT_CLASS}); "
            f"{exception} is not one"
        )
    names = [f.field for f in fields]
    unknown = [k for k in takes if k is not None and k not in names]
    if unknown:
        raise InputError(
            f"--take {', '.join(unknown)}: not a conflicting field of {exception} "
            f"(its fields: {', '.join(names)})"
        )
    sides = []
    for name in names:
        side = takes.get(name, takes.get(None))
        if side is None:
            raise InputError(
                f"--take: no side for field {name} of {exception} "
                f"(give --take {name}=source|target, or --take source|target for every field)"
            )
        sides.append((name, side))
    return tuple(sides)


def sides_json(sides: Sequence[tuple[str, str]]) -> str | None:
    """The sides taken as stored in ``taken_sides``: a JSON object in the evidence's field order,
    ``{"status": "target", "amount": "source"}``; None (NULL) when none was taken."""
    return json.dumps(dict(sides), ensure_ascii=False) if sides else None


def read_sides(stored: str | None) -> tuple[tuple[str, str], ...]:
    """The sides taken, read from ``taken_sides`` (empty for NULL, or for a value that is not
    such an object)."""
    if not stored:
        return ()
    try:
        value = json.loads(stored)
    except ValueError:
        return ()
    if not isinstance(value, dict):
        return ()
    return tuple((str(name), str(side)) for name, side in value.items())


def sides_text(sides: Sequence[tuple[str, str]]) -> str:
    """``status=target, amount=source``."""
    return ", ".join(f"{name}={side}" for name, side in sides)
