"""The report files sluice wrote, so that ``sluice review forget`` can redact a record's key in
them (docs/privacy.md, "Erasure").

A report lists up to three held records per root cause by key (impact.json, report.html,
summary.md). Each report appends the paths of the files it wrote to
``<target-path>/sluice/report_files.txt``, one absolute path per line; ``forget`` rewrites the
ones still there, each through a temporary file renamed over it. The trail's exports never need
it: they hold the evidence's digests, not the evidence (:func:`sluice.audit.export_trail`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from sluice.build.layout import write_atomically
from sluice.destinations import REPORT_FILES
from sluice.errors import InputError

LISTING: Final = "report_files.txt"
_FORMAT_OF: Final = {name: fmt for fmt, name in REPORT_FILES.items()}


def listing_path(target_path: Path) -> Path:
    return target_path / "sluice" / LISTING


def remember(target_path: Path, written: Iterable[Path]) -> None:
    """Add the report files just written to the listing (each path once)."""
    path = listing_path(target_path)
    known = set(_read(path))
    new = [str(p.resolve()) for p in written if str(p.resolve()) not in known]
    if not new:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write("".join(f"{p}\n" for p in new))
    except OSError as exc:
        raise InputError(f"{path}: cannot add to the list of report files: {exc}") from None


def _read(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InputError(f"{path}: cannot read the list of report files: {exc}") from None
    return [line for line in dict.fromkeys(lines) if line.strip()]


def report_files(target_path: Path) -> list[Path]:
    """The listed report files that still exist, each checked writable: a file forget could
    not rewrite is refused before anything changes (InputError naming it)."""
    found = []
    for line in _read(listing_path(target_path)):
        path = Path(line)
        if path.name not in _FORMAT_OF or not path.is_file():
            continue
        if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK):
            raise InputError(
                f"{path}: a report file that lists held records cannot be rewritten there; "
                "make it writable, or remove it (and its line in "
                f"{listing_path(target_path)}), then run forget again"
            )
        found.append(path)
    return found


def redact_report_files(
    files: Sequence[Path], exception_ids: Sequence[str], marker: str
) -> list[Path]:
    """Replace the record key of each of ``exception_ids`` by ``marker`` in ``files``; the
    files changed."""
    from sluice.report.render import redact_held_record

    changed = []
    for path in files:
        fmt = _FORMAT_OF[path.name]
        try:
            text = path.read_text(encoding="utf-8")
            redacted = text
            for exception_id in exception_ids:
                redacted = redact_held_record(fmt, redacted, exception_id, marker)
            if redacted == text:
                continue
            write_atomically(path, redacted)
        except OSError as exc:
            raise InputError(f"{path}: cannot rewrite the report file: {exc}") from None
        changed.append(path)
    return changed
