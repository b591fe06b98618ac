"""The trail's heads kept outside the warehouse: ``target/sluice/audit_heads.jsonl``.

Every ``sluice build`` and ``sluice report`` that seals appends the trail's head (the last seal
of every chain) to this file, one JSON line each, never rewritten. ``sluice audit verify`` checks
the warehouse against the latest line, and ``sluice build`` does so before dbt runs: a chain
that is shorter than a recorded head, or whose seal differs from it, lost sealed history (a
chain deleted and sealed afresh, say), which no check inside the warehouse can see once the
chain was rebuilt there.

What it does not protect against: someone who can change both the warehouse and this file (or
who deletes the file: then only the warehouse's own marks are checked).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sluice.audit.chain import (
    Finding,
    FindingKind,
    Seal,
    TrailHead,
    compare_with_copy,
    kept_seal,
    trail_head,
)
from sluice.audit.store import Trail, trail_tables
from sluice.errors import InputError, SluiceError

if TYPE_CHECKING:
    from sluice.warehouse import Warehouse

HEADS_FILE: Final = "audit_heads.jsonl"


@dataclass(frozen=True, slots=True)
class RecordedHead:
    """The latest head kept in the heads file: its tips, when and by what it was recorded."""

    path: Path
    line: int
    recorded_at: str
    recorded_by: str
    tips: tuple[Seal, ...]


def heads_path(target_dir: Path) -> Path:
    """``<target-path>/sluice/audit_heads.jsonl``, beside ``build.json``."""
    return target_dir / "sluice" / HEADS_FILE


def record_head(path: Path, head: TrailHead | None, *, by: str, invocation_id: str) -> bool:
    """Append ``head`` to the heads file (False when there is nothing sealed, or the head is
    the one recorded last). Appended and flushed to disk, never rewritten; raises ``OSError``
    when it cannot be written."""
    if head is None:
        return False
    latest = latest_head(path)
    if latest is not None and _same_tips(latest.tips, head.tips):
        return False
    line = {
        **head_json(head),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "recorded_by": by,
        "invocation_id": invocation_id,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(line, ensure_ascii=False) + "\n"
    with path.open("a", encoding="utf-8") as out:
        if out.tell() > 0 and not _ends_with_newline(path):
            text = "\n" + text  # after a line cut short by a full disk
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    return True


def latest_head(path: Path) -> RecordedHead | None:
    """The last head in the heads file; None when there is no file. A last line cut short (a
    full disk while it was appended) is passed over; any other line that is not a head is an
    :class:`~sluice.errors.InputError` naming the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the recorded heads: {exc}") from None
    lines = text.split("\n")
    complete = lines[:-1]  # what follows the last newline was cut short, or is empty
    for number in range(len(complete), 0, -1):
        line = complete[number - 1]
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if obj.get("kind") != "head":
                raise ValueError("not a head")
            tips = tuple(kept_seal(item) for item in obj.get("tips", []))
            return RecordedHead(
                path, number, str(obj.get("recorded_at", "")), str(obj.get("recorded_by", "")), tips
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"{path}, line {number}: not a line of the recorded heads: {exc}"
            ) from None
    return None


def check_recorded(
    seals: Iterable[Seal], recorded: RecordedHead, table_of: Mapping[str, str]
) -> list[Finding]:
    """Every tip of the recorded head must still be in the trail, unchanged: a chain shorter
    than it was, or rewritten since, is named."""
    where = (
        f"the head recorded in {recorded.path.name} line {recorded.line} ({recorded.recorded_at})"
    )

    def detail(kept: Seal, current: Seal | None, longest: int) -> str:
        if current is None:
            return (
                f"the chain has {longest} seal(s), {where} has {kept.sequence_number}: "
                "sealed history is gone"
            )
        return f"the seal differs from {where}: the chain was rewritten"

    return compare_with_copy(seals, recorded.tips, table_of, detail)


def chains_started_afresh(trail: Trail) -> list[Finding]:
    """The warehouse's own mark of lost history: a model whose trail has seals, with rows of a
    table sealed per build (its exception events, its runs) that no seal of that table covers
    while that table's chain for the model has no seal at all. A build seals its own rows in
    every chain it writes to; such rows were sealed once and their chain deleted (or were
    inserted). Checked before a build, when nothing of that build is written yet."""
    if not trail.exists(trail.tables.chain):
        return []
    chain = trail.relation(trail.tables.chain)
    found: list[Finding] = []
    for spec in trail.chains:
        table = trail.tables.audited[spec.name]
        if not spec.sealed_per_invocation or spec.sealed_by_sidecar or not trail.exists(table):
            continue
        scope, key = trail.scope_sql(spec, "t"), trail.key_sql(spec, "t")
        rows = trail.query(
            f"select {scope}, min({key}), count(*) from {trail.relation(table)} as t "
            f"where exists (select 1 from {chain} as c where c.model_unique_id = {scope}) "
            f"and not exists (select 1 from {chain} as c where c.chain_name = %s "
            f"and c.model_unique_id = {scope}) "
            f"group by {scope} order by 1",
            (spec.name,),
        )
        found += [
            Finding(
                FindingKind.SEAL_REMOVED,
                spec.name,
                table,
                str(model),
                None,
                None if first is None else str(first),
                spec.key,
                f"{count} row(s) of the model and no seal of this table's chain, while the "
                "model's other chains are sealed: the chain was deleted",
            )
            for model, first, count in rows
        ]
    return found


def head_json(head: TrailHead | None) -> dict[str, Any]:
    if head is None:
        return {"kind": "head", "digest": None, "chains": 0, "seals": 0, "records": 0, "tips": []}
    return {
        "kind": "head",
        "digest": head.digest,
        "chains": head.chains,
        "seals": head.seals,
        "records": head.records,
        "last_sealed_at": (
            None if head.last_sealed_at is None else head.last_sealed_at.isoformat()
        ),
        "tips": [
            {
                "chain_name": s.chain_name,
                "model_unique_id": s.model_unique_id,
                "sequence_number": s.sequence_number,
                "chain_hash": s.chain_hash,
            }
            for s in head.tips
        ],
    }


def _same_tips(a: Sequence[Seal], b: Sequence[Seal]) -> bool:
    def key(tips: Sequence[Seal]) -> set[tuple[str, str, int, str | None]]:
        return {(s.chain_name, s.model_unique_id, s.sequence_number, s.chain_hash) for s in tips}

    return key(a) == key(b)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def current_head(wh: Warehouse) -> TrailHead | None:
    """The head of the trail in the warehouse ``wh`` holds (None when nothing is sealed)."""
    return trail_head(warehouse_trail(wh).seals())


def warehouse_trail(wh: Warehouse) -> Trail:
    """The project's trail over an open connection (read through it, nothing written)."""
    return Trail(wh.adapter_type, wh.description, trail_tables(wh.project), wh)


def keep_head(wh: Warehouse, *, by: str, invocation_id: str) -> str | None:
    """Append the warehouse's head to the project's heads file after sluice sealed; a note
    when it cannot be read or written (what sealed stays sealed)."""
    path = heads_path(wh.project.target_path)
    try:
        record_head(path, current_head(wh), by=by, invocation_id=invocation_id)
    except (OSError, SluiceError) as exc:
        return f"the audit trail's head was not recorded in {path}: {exc}"
    return None
