"""Keeping each attempt's artifacts and merging them into one view of the whole run."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sluice.classify.artifacts import merge_run_results

ARTIFACTS = ("run_results.json", "manifest.json")


@dataclass(frozen=True, slots=True)
class Stamp:
    """How to tell a run_results.json this attempt wrote from one left by an earlier run."""

    exists: bool
    mtime_ns: int
    size: int


def stamp(path: Path) -> Stamp:
    try:
        info = path.stat()
    except FileNotFoundError:
        return Stamp(False, 0, 0)
    return Stamp(True, info.st_mtime_ns, info.st_size)


def sluice_dir(target_dir: Path) -> Path:
    return target_dir / "sluice"


def attempts_dir(target_dir: Path) -> Path:
    return sluice_dir(target_dir) / "attempts"


RUN_OUTPUTS = ("build.json", "alerts.json", "sluice.prom")
RUN_FOLDERS = ("attempts", "final")


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


def keep_attempt(target_dir: Path, number: int, fresh: Sequence[str] = ARTIFACTS) -> Path:
    """Copy the artifacts dbt just wrote (``fresh``: the names it wrote in this attempt) to
    ``target/sluice/attempts/<number>/``."""
    folder = attempts_dir(target_dir) / str(number)
    folder.mkdir(parents=True, exist_ok=True)
    for name in fresh:
        source = target_dir / name
        if source.exists():
            shutil.copyfile(source, folder / name)
    return folder


def restore_run_results(target_dir: Path, folder: Path) -> None:
    """Put an attempt's run results back as ``target/run_results.json`` (for ``dbt retry``,
    which reads the previous run from there)."""
    _atomic_write(target_dir / "run_results.json", (folder / "run_results.json").read_bytes())


def write_final_view(target_dir: Path, attempt_folders: Sequence[Path]) -> Path | None:
    """Write ``target/sluice/final/``: the last manifest and the merged run results.

    A node's latest result wins, so the view describes the whole run across retries. None when
    no attempt wrote run results (dbt never got to run a node): nothing is written.
    """
    documents = [
        (folder / "run_results.json").read_bytes()
        for folder in attempt_folders
        if (folder / "run_results.json").exists()
    ]
    if not documents:
        return None
    final = sluice_dir(target_dir) / "final"
    final.mkdir(parents=True, exist_ok=True)
    _atomic_write(final / "run_results.json", merge_run_results(documents))
    for folder in reversed(attempt_folders):
        if (folder / "manifest.json").exists():
            shutil.copyfile(folder / "manifest.json", final / "manifest.json")
            break
    for extra in ("sources.json", "catalog.json"):
        if (target_dir / extra).exists():
            shutil.copyfile(target_dir / extra, final / extra)
    return final


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
