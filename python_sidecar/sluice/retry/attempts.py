"""Keeping each attempt's artifacts and merging them into one view of the whole run."""

from __future__ import annotations

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


def reset_attempts(target_dir: Path) -> None:
    """Forget the attempts of an earlier ``sluice build`` (only sluice's own folder)."""
    shutil.rmtree(attempts_dir(target_dir), ignore_errors=True)


def keep_attempt(target_dir: Path, number: int) -> Path:
    """Copy the artifacts dbt just wrote to ``target/sluice/attempts/<number>/``."""
    folder = attempts_dir(target_dir) / str(number)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ARTIFACTS:
        source = target_dir / name
        if source.exists():
            shutil.copyfile(source, folder / name)
    return folder


def write_final_view(target_dir: Path, attempt_folders: Sequence[Path]) -> Path:
    """Write ``target/sluice/final/``: the last manifest and the merged run results.

    A node's latest result wins, so the view describes the whole run across retries.
    """
    final = sluice_dir(target_dir) / "final"
    final.mkdir(parents=True, exist_ok=True)
    documents = [
        (folder / "run_results.json").read_bytes()
        for folder in attempt_folders
        if (folder / "run_results.json").exists()
    ]
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
