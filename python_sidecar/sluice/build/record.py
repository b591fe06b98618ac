"""The build record, in all its forms: ``build.json``, ``sluice.prom`` and their variants.

One record per run, written whenever and however the build ends: while it runs (``status``
``running``, its phase), finished, stopped by a usage error, or interrupted (the attempts so far,
the one dbt was running included, what failed, the escalations, not sent). The usage-error and
interrupted records are :class:`~sluice.build.result.BuildResult` values built by one function
(:func:`unfinished`) from where the build stood. The warehouse's rows of the same record are
:mod:`sluice.build.record_warehouse`. Owns these files only: it does not run dbt or the report.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sluice.artifacts import Manifest
from sluice.build.alerts import NOT_SENT_INTERRUPTED, alert, escalations_of
from sluice.build.artifacts import collect_interrupted, final_view
from sluice.build.layout import sluice_dir, write_json
from sluice.build.locate import find_project, locate, new_progress
from sluice.build.lock import acquire
from sluice.build.progress import EMPTY_MANIFEST, Progress
from sluice.build.record_warehouse import warehouse_rows
from sluice.build.report_step import build_statuses
from sluice.build.result import (
    EXIT_FAILED,
    EXIT_USAGE,
    EXIT_WRITE_FAILED,
    BuildBusy,
    BuildError,
    BuildResult,
    Interrupted,
    ReportStep,
)
from sluice.classify.model import Failure
from sluice.errors import InputError
from sluice.escalate.core import Escalation
from sluice.escalate.prometheus import BuildMetrics, count_by, write_textfile
from sluice.escalate.webhook import Delivery
from sluice.impact import quarantine_counts
from sluice.retry.config import BuildSettings
from sluice.retry.dbt_args import flag_value, without_separators
from sluice.review.render import pending_entries


def write_running(progress: Progress) -> None:
    """``build.json`` while the build runs: this run's id and what it is doing."""
    write_json(
        sluice_dir(progress.target_dir) / "build.json",
        {
            "invocation_id": progress.invocation_id,
            "status": "running",
            "phase": progress.phase,
            "started_at": progress.started_at,
            "pid": os.getpid(),
            "dbt_pid": progress.dbt_pid,
            "project_dir": progress.project,
            "attempts_so_far": len(progress.attempts),
        },
    )


def summary(result: BuildResult) -> dict[str, Any]:
    """A JSON-ready description of a build (written to ``target/sluice/build.json``)."""
    return {
        "invocation_id": result.invocation_id,
        "status": result.status,
        "exit_code": result.exit_code,
        "outcome": result.outcome,
        "stopped_because": result.stopped_because,
        "started_at": result.started_at,
        "project_dir": result.project_dir,
        "attempts": [
            {
                "number": a.number,
                "kind": a.kind,
                "dbt_args": list(a.dbt_args),
                "returncode": a.returncode,
                "started": a.started,
                "interrupted": a.interrupted,
                "dbt_invocation_id": a.dbt_invocation_id,
                "delay_before_seconds": round(a.delay_before, 3),
                "duration_seconds": round(a.duration_seconds, 3),
                "rerun": list(a.rerun),
                "failures": [_failure_json(f) for f in a.failures],
            }
            for a in result.attempts
        ],
        "failures": [_failure_json(f) for f in result.failures],
        "escalations": [asdict(e) for e in result.escalations],
        "alert_delivery": asdict(result.alert_delivery),
        "exposure_statuses": dict(result.exposure_statuses),
        "exposure_statuses_from": result.exposure_statuses_from,
        "report": {"generated": result.report.generated, "note": result.report.note},
        "pending_decisions": pending_entries(result.pending_decisions),
        "retention": None if result.retention is None else asdict(result.retention),
        "notes": list(result.notes),
    }


def _failure_json(failure: Failure) -> dict[str, Any]:
    return {
        "unique_id": failure.unique_id,
        "status": failure.status,
        "class": failure.failure_class.value,
        "effective_class": failure.effective_class.value,
        "reason": failure.reason,
        "root_causes": list(failure.root_causes),
        "gate_held": failure.gate_held,
        "repeated": failure.repeated,
        "message": failure.message,
    }


def metrics(
    result: BuildResult, quarantine: Mapping[str, Any], manifest: Manifest, *, duration: float
) -> BuildMetrics:
    """Row counts from ``sluice_runs`` (the report's structured counts), never from messages."""
    quarantined: dict[tuple[str, str], int] = {}
    held: dict[str, int] = {}
    for model_id, model in quarantine.items():
        node = manifest.nodes.get(model_id)
        if model.gate_status == "held":
            for count in model.rule_counts:
                if count.rows > 0:
                    key = (count.error_class, count.severity)
                    quarantined[key] = quarantined.get(key, 0) + count.rows
        else:
            held[node.name if node else model_id] = model.rows_held
    delivery = result.alert_delivery
    return BuildMetrics(
        failures_by_class=count_by([f.failure_class.value for f in result.failures]),
        failures_seen_by_class=count_by(
            [f.failure_class.value for a in result.attempts for f in a.failures]
        ),
        attempts=len(result.attempts),
        retries=result.retries,
        exit_code=result.exit_code,
        duration_seconds=duration,
        finished_at=time.time(),
        gates_held=sum(1 for f in result.failures if f.gate_held),
        rows_quarantined=quarantined,
        rows_held_by_model=held,
        exposures_by_status=count_by(list(result.exposure_statuses.values())),
        alerts_by_priority=count_by([e.priority for e in result.alerts]),
        alert_delivery_failures=int(delivery.attempted and not delivery.delivered),
        invocation_id=result.invocation_id,
        status=result.status,
    )


def write_record(
    progress: Progress,
    result: BuildResult,
    quarantine: Mapping[str, Any],
    manifest: Manifest,
) -> None:
    """This run's metrics and ``build.json``."""
    write_textfile(
        sluice_dir(result.target_dir) / "sluice.prom",
        metrics(result, quarantine, manifest, duration=progress.clock() - progress.started),
    )
    write_json(sluice_dir(result.target_dir) / "build.json", summary(result))


def _write_record_if_possible(
    progress: Progress, result: BuildResult, manifest: Manifest = EMPTY_MANIFEST
) -> Path | None:
    """This run's record, after removing the previous run's outputs if that is not done yet;
    the ``build.json`` written, or None when the folder cannot be written."""
    folder = sluice_dir(result.target_dir)
    try:
        progress.clear_previous_run()
        write_record(progress, result, {}, manifest)
    except OSError:
        # A full disk: the running record goes (it must not be read as this run's state, and
        # its room may be enough for the record), then one more try.
        for name in ("build.json", "sluice.prom"):
            with contextlib.suppress(OSError):
                (folder / name).unlink()
        try:
            write_record(progress, result, {}, manifest)
        except OSError:
            return None
    return folder / "build.json"


def unfinished(
    progress: Progress,
    *,
    outcome: str,
    exit_code: int,
    status: str,
    note: str,
    report_note: str,
    failures: tuple[Failure, ...] = (),
    escalations: tuple[Escalation, ...] = (),
    delivery: Delivery | None = None,
    statuses: Mapping[str, str] | None = None,
) -> BuildResult:
    """The record of a run that did not finish (``outcome`` ``usage_error`` or
    ``interrupted``): the attempts so far and the notes, ``note`` last; no report."""
    return BuildResult(
        exit_code=exit_code,
        outcome=outcome,
        project_dir=progress.project,
        target_dir=progress.target_dir,
        attempts=tuple(progress.attempts),
        failures=failures,
        escalations=escalations,
        alert_delivery=delivery if delivery is not None else Delivery(False, False),
        stopped_because=outcome,
        exposure_statuses=statuses if statuses is not None else {},
        exposure_statuses_from="build",
        report=ReportStep(False, report_note),
        notes=(*progress.notes, note),
        started_at=progress.started_at,
        invocation_id=progress.invocation_id,
        status=status,
    )


def record_usage_error_of(progress: Progress, message: str) -> BuildResult | None:
    """This run's record of a usage error; None when it could not be written."""
    result = unfinished(
        progress,
        outcome="usage_error",
        exit_code=EXIT_USAGE,
        status="usage_error",
        note=message,
        report_note="report skipped: usage error",
    )
    return result if _write_record_if_possible(progress, result) is not None else None


def record_usage_error(
    dbt_args: Sequence[str], message: str, environ: Mapping[str, str] | None = None
) -> BuildResult | None:
    """Record a usage error found before :func:`sluice.build.build` could run (the command line
    itself could not be read): the previous run's outputs are removed and this run's
    ``build.json`` and ``sluice.prom`` written, status ``usage_error``, under the target folder
    that ``dbt_args`` (``--project-dir``, ``--target-path`` ...) and ``environ`` name. None when
    no project is found there or its target folder cannot be written."""
    env = os.environ if environ is None else environ
    passthrough = without_separators(dbt_args)
    try:
        project = find_project(flag_value(passthrough, "--project-dir"), env)
    except (InputError, OSError):
        return None
    if not (project / "dbt_project.yml").exists():
        return None
    progress = new_progress(project, passthrough, env, started_at=time.time(), clock=time.monotonic)
    report_dir = flag_value(passthrough, "--report-dir")
    report = "--no-report" not in passthrough
    with contextlib.suppress(BuildError):
        locate(progress, passthrough, env, report=report, report_dir=report_dir)
    try:  # another build's record is not replaced: this one is written only under the lock
        progress.lock = acquire(
            progress.target_dir,
            wait=0,
            invocation_id=progress.invocation_id,
            started_at=progress.started_at,
            notify=lambda message: None,
        )
    except (BuildBusy, OSError):
        return None
    try:
        return record_usage_error_of(progress, message)
    finally:
        progress.release()


def _exit_code_of(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, OSError):
        return EXIT_WRITE_FAILED, f"stopped: {describe_os_error(exc)}"
    if isinstance(exc, Interrupted):
        return exc.exit_code, f"interrupted by {exc}"
    if isinstance(exc, KeyboardInterrupt):
        return 128 + signal.SIGINT, "interrupted by SIGINT"
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else EXIT_FAILED
        return code, f"stopped by SystemExit({exc.code!r})"
    return EXIT_FAILED, f"stopped by {type(exc).__name__}: {exc}"


def describe_os_error(exc: OSError) -> str:
    """One line for a file that could not be written: what, where, why."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"a file could not be written ({exc.strerror or exc}){where}"


def _delivery_written(progress: Progress) -> Delivery | None:
    """The delivery this run already recorded in ``alerts.json`` (interrupted while finishing,
    after the alerts went out), or None."""
    try:
        written = json.loads((sluice_dir(progress.target_dir) / "alerts.json").read_text("utf-8"))
        if written.get("invocation_id") != progress.invocation_id:
            return None
        return Delivery(**written["delivery"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _interrupted_state(
    progress: Progress, exit_code: int
) -> tuple[tuple[Failure, ...], tuple[Escalation, ...], Delivery, dict[str, str], Manifest]:
    """What an interrupted run got to: its failures, escalations (recorded, not sent), the
    delivery and the exposures' statuses, over the attempts so far."""
    collect_interrupted(progress)
    manifest, graph = progress.manifest_and_graph()
    _, final_results, final_failures = final_view(progress)
    settings = progress.settings or BuildSettings()
    counts = quarantine_counts(final_results) if final_results is not None else {}
    escalations = escalations_of(final_failures, manifest, graph, settings, counts)
    delivery = _delivery_written(progress)
    if delivery is None:
        delivery = alert(
            escalations,
            settings,
            progress.target_dir,
            project=manifest.metadata.project_name or progress.project.name,
            exit_code=exit_code,
            attempts=len(progress.attempts),
            invocation_id=progress.invocation_id,
            send=False,
        )
    statuses = build_statuses(manifest, final_results, final_failures, counts)
    return final_failures, escalations, delivery, statuses, manifest


def _rows_in_warehouse(
    progress: Progress, escalations: Sequence[Escalation], delivery: Delivery
) -> None:
    """A file could not be written, the warehouse may still be: this run's attempts and alerts
    go there as after a finished build (written once per run: a second try adds nothing)."""
    assert progress.record_in_warehouse is not None
    try:
        rows = warehouse_rows(progress.invocation_id, progress.attempts, escalations, delivery)
        note = progress.record_in_warehouse(rows)
    except Exception as problem:  # the record must still be written
        note = f"build record not written to the warehouse: {type(problem).__name__}: {problem}"
    if note:
        progress.notes.append(note)


def record_interrupted(progress: Progress, exc: BaseException) -> Path | None:
    """Write this run's record after an interruption: the attempts so far (the one dbt was
    running included, with what it wrote before it stopped), what failed, the escalations
    (not sent) and the metrics. Returns the ``build.json`` written (None if it could not be).
    Never raises: the interruption goes on."""
    exit_code, why = _exit_code_of(exc)
    note = f"{why} during {progress.phase}"
    try:
        progress.clear_previous_run()  # interrupted before the build had removed them
        failures, escalations, delivery, statuses, manifest = _interrupted_state(
            progress, exit_code
        )
    except Exception as problem:  # the record must still be written
        failures, escalations, statuses = (), (), {}
        manifest = EMPTY_MANIFEST
        delivery = Delivery(False, False, None, NOT_SENT_INTERRUPTED)
        progress.notes.append(f"the interrupted run could not be summarised fully: {problem}")
    write_failed = isinstance(exc, OSError)
    if write_failed and progress.record_in_warehouse is not None:
        _rows_in_warehouse(progress, escalations, delivery)
    result = unfinished(
        progress,
        outcome="write_failed" if write_failed else "interrupted",
        exit_code=exit_code,
        status="interrupted" if not isinstance(exc, Exception) else "error",
        note=note,
        report_note="report skipped: "
        + ("a file could not be written" if write_failed else "the build was interrupted"),
        failures=failures,
        escalations=escalations,
        delivery=delivery,
        statuses=statuses,
    )
    try:
        return _write_record_if_possible(progress, result, manifest)
    except Exception:
        return None
