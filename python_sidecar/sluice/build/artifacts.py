"""Each attempt's artifacts: kept, read, classified, and merged into one view of the run.

Owns what dbt wrote in each attempt: telling the files an attempt wrote from an earlier run's
(:class:`Stamp`), copying them to ``target/sluice/attempts/<n>/``, putting a run's results back
for ``dbt retry``, turning them into an :class:`~sluice.build.result.Attempt` (its failures
classified, or the failure that stands for an invocation that ran no node), and the merged
view in ``target/sluice/final/``. Does not run dbt, decide on a retry or write the record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sluice.artifacts import Manifest, RunResults, load_manifest, load_run_results
from sluice.build.layout import attempts_dir, sluice_dir
from sluice.build.progress import Context, Progress, Running
from sluice.build.result import Attempt
from sluice.classify.artifacts import merge_run_results
from sluice.classify.core import classify
from sluice.classify.graph import build_graph
from sluice.classify.model import Failure, FailureClass
from sluice.classify.startup import INVOCATION_TYPE, adapter_from_output, classify_start_failure
from sluice.errors import InputError

ARTIFACTS = ("run_results.json", "manifest.json")
"""The files dbt writes in every invocation that an attempt keeps."""


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


def stamps(target_dir: Path) -> dict[str, Stamp]:
    """The stamps of the artifacts before dbt runs, to tell afterwards which it wrote."""
    return {name: stamp(target_dir / name) for name in ARTIFACTS}


def keep_attempt(target_dir: Path, number: int, fresh: Sequence[str] = ARTIFACTS) -> Path:
    """Copy the artifacts dbt just wrote (``fresh``: the names it wrote in this attempt) to
    ``target/sluice/attempts/<number>/``."""
    folder = attempts_dir(target_dir) / str(number)
    folder.mkdir(parents=True, exist_ok=True)
    for name in fresh:
        source = target_dir / name
        if source.exists():
            try:
                shutil.copyfile(source, folder / name)
            except OSError:  # a full disk: the partial copy goes, leaving room for the record
                with contextlib.suppress(OSError):
                    (folder / name).unlink()
                raise
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
        source = target_dir / extra
        if source.exists():
            shutil.copyfile(source, final / extra)
        elif source.is_symlink():  # a link to nothing: kept as it is, for the reader to refuse
            (final / extra).unlink(missing_ok=True)
            (final / extra).symlink_to(source.parent / source.readlink())
    return final


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _fresh(target_dir: Path, running: Running) -> list[str]:
    """The names of the artifacts dbt wrote in the running attempt."""
    return [
        name
        for name in ARTIFACTS
        if (now := stamp(target_dir / name)).exists and now != running.before[name]
    ]


def _keep_fresh(target_dir: Path, running: Running) -> tuple[Path, list[str]]:
    """Keep what dbt wrote in the running attempt; the folder and the names it wrote."""
    fresh = _fresh(target_dir, running)
    return keep_attempt(target_dir, running.number, fresh), fresh


def _read_fresh(
    progress: Progress, folder: Path, fresh: Sequence[str]
) -> tuple[Manifest | None, RunResults | None, str | None]:
    """The manifest and run results an attempt wrote (the manifest becomes the build's), or
    the problem reading them."""
    manifest: Manifest | None = None
    results: RunResults | None = None
    try:
        if "manifest.json" in fresh:
            manifest = load_manifest(folder / "manifest.json")
            progress.loaded = (manifest, build_graph(manifest))
        if "run_results.json" in fresh:
            results = load_run_results(folder / "run_results.json")
    except InputError as exc:
        return manifest, results, str(exc)
    return manifest, results, None


def collect(context: Context, progress: Progress, running: Running, returncode: int) -> Attempt:
    """The attempt dbt just finished: keep its artifacts, classify what failed."""
    duration = context.clock() - running.began
    folder, fresh = _keep_fresh(context.target_dir, running)
    manifest, results, problem = _read_fresh(progress, folder, fresh)
    dbt_invocation = results.metadata.invocation_id if results is not None else None
    ran = results is not None and any(r.status != "skipped" for r in results.results)
    attempt = Attempt(
        running.number,
        running.kind,
        running.args,
        returncode,
        running.delay_before,
        duration,
        (),
        folder,
        running.rerun,
        dbt_invocation_id=dbt_invocation,
    )
    if problem is None and results is not None and (ran or returncode == 0):
        known, graph = progress.manifest_and_graph()
        failures = classify(results, known, context.patterns(), graph)
        return dataclasses.replace(attempt, failures=failures)
    failure = _not_started(context, progress, running, returncode, manifest, problem)
    return dataclasses.replace(attempt, failures=(failure,), started=False)


def _not_started(
    context: Context,
    progress: Progress,
    running: Running,
    returncode: int,
    manifest: Manifest | None,
    problem: str | None,
) -> Failure:
    """The failure that stands for an invocation that ran no node: why dbt did not start
    (read from its output), or why sluice cannot read what it did."""
    project_name = progress.manifest_and_graph()[0].metadata.project_name or context.project.name
    if problem is None and returncode != 0:
        log = attempts_dir(context.target_dir) / str(running.number) / "dbt.log"
        output = log.read_text("utf-8", errors="replace") if log.exists() else ""
        adapter = (manifest.metadata.adapter_type if manifest else None) or adapter_from_output(
            output
        )
        return classify_start_failure(
            output,
            adapter,
            context.patterns(),
            project=project_name,
            command=running.kind,
            returncode=returncode,
        )
    message = problem or (
        f"dbt {running.kind} exited 0 and wrote no run results (is --no-write-json set?)"
    )
    return Failure(
        unique_id=f"{INVOCATION_TYPE}.{project_name}",
        name=f"dbt {running.kind}",
        resource_type=INVOCATION_TYPE,
        status="error",
        failure_class=FailureClass.UNKNOWN,
        message=message,
        reason=f"sluice cannot read what dbt {running.kind} did",
        effective_class=FailureClass.UNKNOWN,
    )


def collect_interrupted(progress: Progress) -> None:
    """Add the attempt dbt was running when the build was interrupted, with what it wrote
    before it stopped (its run results classified, if it wrote any)."""
    running = progress.running
    if running is None:
        return
    progress.running = None
    fresh = _fresh(progress.target_dir, running)
    try:
        folder = keep_attempt(progress.target_dir, running.number, fresh)
    except OSError:  # a full disk: the attempt is still recorded, read where dbt wrote it
        folder = progress.target_dir
    failures: tuple[Failure, ...] = ()
    dbt_invocation = None
    if "run_results.json" in fresh:
        results = load_run_results(folder / "run_results.json")
        dbt_invocation = results.metadata.invocation_id
        if "manifest.json" in fresh:
            manifest = load_manifest(folder / "manifest.json")
            progress.loaded = (manifest, build_graph(manifest))
        known, graph = progress.manifest_and_graph()
        failures = classify(results, known, progress.patterns(), graph)
    progress.attempts.append(
        Attempt(
            running.number,
            running.kind,
            running.args,
            None,
            running.delay_before,
            progress.clock() - running.began,
            failures,
            folder,
            running.rerun,
            interrupted=True,
            dbt_invocation_id=dbt_invocation,
        )
    )


def final_view(progress: Progress) -> tuple[Path | None, RunResults | None, tuple[Failure, ...]]:
    """The merged view of every attempt, its run results and classified failures; a last
    attempt that ran no node adds its own failure (it stands for the whole invocation)."""
    attempts = progress.attempts
    manifest, graph = progress.manifest_and_graph()
    final_dir = write_final_view(progress.target_dir, [a.artifacts for a in attempts])
    final_results: RunResults | None = None
    failures: tuple[Failure, ...] = ()
    if final_dir is not None:
        final_results = load_run_results(final_dir / "run_results.json")
        failures = classify(final_results, manifest, progress.patterns(), graph)
    if attempts and not attempts[-1].started:
        failures = (*failures, *attempts[-1].failures)
    if progress.repeated:
        failures = tuple(
            dataclasses.replace(f, repeated=progress.repeated[f.unique_id])
            if f.unique_id in progress.repeated
            else f
            for f in failures
        )
    return final_dir, final_results, failures
