"""After dbt: the attempts merged, the outcome decided, alerts and report, the record written.

Owns the order of the steps after the attempt loop and the finished run's
:class:`~sluice.build.result.BuildResult`: the merged view (:mod:`sluice.build.artifacts`),
the exit code, the report's inputs read once, the escalations, the webhook called while the
report is produced (:mod:`sluice.build.alerts`, :mod:`sluice.build.report_step`), the
warehouse's rows (:mod:`sluice.build.record_warehouse`) and the record's files
(:mod:`sluice.build.record`), all over one connection to the warehouse. Runs no dbt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sluice.artifacts import Artifacts, Manifest, RunResults, load_sources_if_present
from sluice.build.alerts import alert, escalations_of, trend_alerts
from sluice.build.artifacts import final_view
from sluice.build.metrics_step import write_operational_metrics
from sluice.build.pending_step import pending_decisions
from sluice.build.progress import Context, Progress
from sluice.build.record import write_record
from sluice.build.record_warehouse import record_in_warehouse, warehouse_rows
from sluice.build.report_step import (
    WarehouseAfterDbt,
    build_statuses,
    report_inputs,
    report_statuses,
    run_report,
)
from sluice.build.result import (
    EXIT_OK,
    EXIT_RETENTION_FAILED,
    BuildResult,
    ReportStep,
    RetentionStep,
    decide_exit_code,
)
from sluice.build.retention_step import apply_retention, retention_at_build_end
from sluice.build.trail import keep_head_after_build
from sluice.classify.model import Failure
from sluice.errors import InputError
from sluice.escalate.core import Escalation
from sluice.escalate.webhook import Delivery
from sluice.impact import quarantine_counts

DISABLED = "report skipped (disabled)"


@dataclass(frozen=True, slots=True)
class Outputs:
    """What the caller asked the build to produce after dbt."""

    report: bool
    report_formats: Sequence[str]
    output_dir: Path
    warehouse: bool
    environ: Mapping[str, str]


def _inputs(
    shared: WarehouseAfterDbt,
    manifest: Manifest,
    final_dir: Path | None,
    final_results: RunResults | None,
    outputs: Outputs,
) -> tuple[Any, str | None]:
    """The report's inputs (and the ``sluice_runs`` counts the alerts and metrics need), read
    once from the artifacts decoded here; without the report they are still read from the
    warehouse, for the alerts' owners and severities and the metrics' row counts."""
    if final_dir is None or final_results is None:
        return None, "report skipped: dbt ran no node"
    if not (outputs.report or outputs.warehouse):
        return None, DISABLED
    try:  # as `sluice report` reads it: a link to nothing, or a broken file, is refused
        sources = load_sources_if_present(final_dir / "sources.json")
    except InputError as exc:
        return None, f"report refused: {exc}"
    artifacts = Artifacts(
        manifest=manifest, run_results=final_results, sources=sources, target_path=final_dir
    )
    return report_inputs(shared, artifacts, warehouse=outputs.warehouse)


def _alert_and_report(
    context: Context,
    progress: Progress,
    shared: WarehouseAfterDbt,
    escalations: tuple[Escalation, ...],
    *,
    exit_code: int,
    project: str,
    inputs: Any,
    report_note: str | None,
    outputs: Outputs,
) -> tuple[Delivery, ReportStep]:
    """Send the alerts and produce the report; the webhook is called while the report is
    produced, so a slow endpoint costs no extra time."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        alerting = pool.submit(
            alert,
            escalations,
            context.settings,
            context.target_dir,
            project=project,
            exit_code=exit_code,
            attempts=len(progress.attempts),
            invocation_id=progress.invocation_id,
        )
        step = ReportStep(False, report_note if outputs.report else DISABLED)
        if outputs.report and inputs is not None:
            step = run_report(
                inputs,
                output_dir=outputs.output_dir,
                formats=outputs.report_formats,
                warehouse=outputs.warehouse,
                shared=shared,
            )
        return alerting.result(), step


def _statuses(
    step: ReportStep,
    manifest: Manifest,
    results: RunResults | None,
    failures: tuple[Failure, ...],
    quarantine: Mapping[str, Any],
) -> tuple[dict[str, str], str]:
    """The exposures' statuses and where they come from: the report's, else the build's."""
    statuses = report_statuses(step.result) if step.generated else None
    if statuses is not None:
        return statuses, "report"
    return build_statuses(manifest, results, failures, quarantine), "build"


def _decided(
    progress: Progress, failures: tuple[Failure, ...], stopped: str
) -> tuple[int, str, str]:
    """The exit code, the outcome and why the build stopped, over the whole run."""
    last = progress.attempts[-1]
    exit_code, outcome = decide_exit_code(failures, last.returncode)
    if stopped == "published" and failures:
        # The last attempt reran only transient nodes and they passed; structural ones remain.
        stopped = "nothing_to_retry"
    if not failures and exit_code != EXIT_OK:
        progress.notes.append(f"dbt exited {last.returncode} without a failed node")
    return exit_code, outcome, stopped


def _retention(
    shared: WarehouseAfterDbt, manifest: Manifest, outputs: Outputs, notes: list[str]
) -> RetentionStep | None:
    """Retention after dbt when the project asks for it (never with ``--no-warehouse``: then a
    note says it was skipped); a failure is a note too, and the step's error."""
    try:
        wanted = retention_at_build_end(shared.project())
    except Exception:  # checked before dbt ran; a project unreadable now fails the step below
        wanted = True
    if not wanted:
        return None
    if not outputs.warehouse:
        notes.append("retention skipped (--no-warehouse)")
        return RetentionStep(False, error=None)
    step = apply_retention(shared, manifest)
    if step is not None and step.error is not None:
        notes.append(step.error)
    return step


def finish(context: Context, progress: Progress, stopped: str, outputs: Outputs) -> BuildResult:
    """Merge the attempts, escalate, alert, report, and write the run's record."""
    notes = progress.notes
    manifest, graph = progress.manifest_and_graph()
    final_dir, final_results, failures = final_view(progress)
    exit_code, outcome, stopped = _decided(progress, failures, stopped)
    # One connection to the warehouse for the report's reads and tables and this run's record.
    with WarehouseAfterDbt(context.project, context.passthrough, outputs.environ) as shared:
        inputs, report_note = _inputs(shared, manifest, final_dir, final_results, outputs)
        # the counts the report reads too (sluice_runs, else the run results' own): one owner
        # and one severity for a held gate in the alerts and the report
        quarantine = (
            quarantine_counts(final_results, inputs.quarantine if inputs is not None else None)
            if final_results is not None
            else {}
        )
        escalations = escalations_of(failures, manifest, graph, context.settings, quarantine)
        delivery, step = _alert_and_report(
            context,
            progress,
            shared,
            escalations,
            exit_code=exit_code,
            project=manifest.metadata.project_name or context.project.name,
            inputs=inputs,
            report_note=report_note,
            outputs=outputs,
        )
        if delivery.attempted and not delivery.delivered:
            notes.append(f"alert delivery failed: {delivery.error}")
        pending: tuple[Any, ...] = ()
        retention = _retention(shared, manifest, outputs, notes)
        if retention is not None and retention.error is not None and exit_code == EXIT_OK:
            exit_code = EXIT_RETENTION_FAILED
        if outputs.warehouse:
            pending, note = pending_decisions(shared)
            if note:
                notes.append(note)
            rows = warehouse_rows(progress.invocation_id, progress.attempts, escalations, delivery)
            note = record_in_warehouse(shared, rows)
            if note:
                notes.append(note)
            note = keep_head_after_build(shared, progress.invocation_id)
            if note:
                notes.append(note)
            metrics, note = write_operational_metrics(
                shared,
                manifest,
                context.target_dir,
                inputs.artifacts.sources if inputs is not None else None,
            )
            if metrics is not None:
                note = trend_alerts(
                    shared,
                    manifest,
                    metrics,
                    context.settings,
                    context.target_dir,
                    project=manifest.metadata.project_name or context.project.name,
                )
            if note:
                notes.append(note)
    if step.note:
        notes.append(step.note)
    statuses, statuses_from = _statuses(step, manifest, final_results, failures, quarantine)
    result = BuildResult(
        exit_code=exit_code,
        outcome=outcome,
        project_dir=context.project,
        target_dir=context.target_dir,
        attempts=tuple(progress.attempts),
        failures=failures,
        escalations=escalations,
        alert_delivery=delivery,
        stopped_because=stopped,
        exposure_statuses=statuses,
        exposure_statuses_from=statuses_from,
        report=step,
        notes=tuple(notes),
        started_at=progress.started_at,
        invocation_id=progress.invocation_id,
        pending_decisions=pending,
        retention=retention,
    )
    write_record(progress, result, quarantine, manifest)
    return result
