"""Where a build's own files go under the target folder, and how they are written.

Owns the names under ``target/sluice/`` (``build.json``, ``alerts.json``, ``sluice.prom``, the
``attempts/`` and ``final/`` folders), their removal before a run writes its own, and the
atomic JSON write every record file uses (URL credentials redacted, a failed write leaving no
temporary file). Never touches dbt's own files.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sluice.escalate.webhook import redact

RUN_OUTPUTS = ("build.json", "alerts.json", "sluice.prom")
RUN_FOLDERS = ("attempts", "final")


def sluice_dir(target_dir: Path) -> Path:
    return target_dir / "sluice"


def attempts_dir(target_dir: Path) -> Path:
    return sluice_dir(target_dir) / "attempts"


def clear_previous_run(target_dir: Path, report_files: Sequence[Path] = ()) -> None:
    """Remove what an earlier ``sluice build`` wrote under ``target/sluice/`` (its summary,
    alerts, metrics, attempts and merged view) and the report files this build would write,
    so nothing of that run can be read as this run's. dbt's own files are not touched."""
    folder = sluice_dir(target_dir)
    for name in RUN_FOLDERS:
        shutil.rmtree(folder / name, ignore_errors=True)
    for path in (*(folder / name for name in RUN_OUTPUTS), *report_files):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # nothing there
            path.unlink()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (a reader sees the old file or the new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, redact(json.dumps(_jsonable(data), indent=2, default=str)))


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file beside ``path``, renamed over it; the temporary
    file is removed when the write fails (a full disk leaves nothing half-written)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, "utf-8")
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
