"""The attempt loop and its decisions: run dbt, then retry while the plan and the limits allow.

Owns the order of attempts and why the loop stops: the first ``dbt build``, ``dbt retry`` or a
``dbt build --select`` of the failed nodes next (the plan, :mod:`sluice.retry.plan`), a start
that failed transiently run again as it was, the repeat limit, the attempt limit and the time
budget, and the wait between attempts (:mod:`sluice.retry.backoff`). dbt itself is run by the
context's runner (:mod:`sluice.build.dbt_process`); what an attempt wrote is read by
:mod:`sluice.build.artifacts`. Writes nothing but the running record's phase.
"""

from __future__ import annotations

from pathlib import Path

from sluice.artifacts import Manifest
from sluice.build.artifacts import Stamp, collect, restore_run_results, stamp, stamps
from sluice.build.layout import attempts_dir
from sluice.build.progress import Context, Progress, Running
from sluice.build.record import write_running
from sluice.build.result import Attempt
from sluice.classify.model import FailureClass
from sluice.retry.backoff import full_jitter_delay
from sluice.retry.dbt_args import DbtArgsError, retry_args, without_selection
from sluice.retry.plan import (
    NextStep,
    Plan,
    node_selectors,
    plan_next,
    repeated_failures,
    selectors,
    stop_repeating,
)


def next_args(context: Context, plan: Plan, manifest: Manifest) -> tuple[str, list[str]]:
    """The next attempt's kind and dbt arguments: ``dbt retry``, or ``dbt build`` of the
    nodes the plan names."""
    project = str(context.project)
    if plan.step is NextStep.RETRY:
        return "retry", ["retry", "--project-dir", project, *retry_args(context.passthrough)]
    return "rerun_selected", [
        "build",
        "--project-dir",
        project,
        *without_selection(context.passthrough),
        "--select",
        *selectors(plan.nodes, node_selectors(manifest)),
    ]


def _run_one(
    context: Context,
    progress: Progress,
    number: int,
    step: tuple[str, list[str], float, tuple[str, ...]],
) -> Attempt:
    """Run one attempt (``step``: its kind, dbt arguments, the wait before it and the nodes
    it reruns) and keep it in ``progress``."""
    kind, args, delay, rerun = step
    target_dir = context.target_dir
    progress.phase = f"dbt {kind} (attempt {number})"
    write_running(progress)
    running = Running(number, kind, tuple(args), delay, rerun, context.clock(), stamps(target_dir))
    progress.running = running
    try:
        returncode = context.run_dbt(args, attempts_dir(target_dir) / str(number) / "dbt.log")
    finally:
        progress.dbt_pid = None
    attempt = collect(context, progress, running, returncode)
    progress.attempts.append(attempt)
    progress.running = None
    return attempt


def _after_ran(
    context: Context, progress: Progress, attempt: Attempt
) -> str | tuple[str, list[str], tuple[str, ...]]:
    """After an attempt that ran nodes: why to stop, or the next attempt's kind, arguments
    and the nodes it reruns."""
    number = attempt.number
    plan = plan_next(attempt.failures)
    if plan.step is NextStep.DONE:
        return "published"
    if plan.step is NextStep.STOP:
        return "nothing_to_retry"
    repeated = repeated_failures(
        [a.failures for a in progress.attempts], context.settings.retry.repeat_limit
    )
    if stop_repeating(attempt.failures, repeated):
        progress.repeated = repeated
        progress.notes.append(
            f"no retry after attempt {number}: {', '.join(sorted(repeated))} failed "
            f"the same way on {min(repeated.values())} consecutive attempts"
        )
        return "repeated_failure"
    manifest, _ = progress.manifest_and_graph()
    try:
        kind, args = next_args(context, plan, manifest)
    except DbtArgsError as exc:
        progress.notes.append(f"no retry after attempt {number}: {exc}")
        return "dbt_args"
    return kind, args, plan.nodes


def _wait(context: Context, progress: Progress, number: int) -> float | None:
    """Wait before the next attempt; None (and a note) when the wait would pass the budget."""
    policy = context.settings.retry
    uniform = (context.uniform,) if context.uniform else ()
    delay = full_jitter_delay(policy, number, *uniform)
    if context.clock() - context.started + delay > policy.budget:
        progress.notes.append(
            f"no retry after attempt {number}: a {delay:.1f} s wait would pass the "
            f"{policy.budget:g} s budget"
        )
        return None
    progress.phase = f"waiting {delay:.1f} s before attempt {number + 1}"
    write_running(progress)
    context.sleeper(delay)
    return delay


def run_attempts(context: Context, progress: Progress) -> str:
    """Run dbt, then retry while the plan says so and the attempts and the budget allow.

    Every dbt invocation becomes an attempt. One that fails before running a node with a
    transient class is run again as it was (the first attempt's ``dbt build``, or the same
    ``dbt retry``, which reads the last results that did run nodes). Returns why it stopped.
    """
    target_dir = context.target_dir
    results_path = target_dir / "run_results.json"
    kind, args = "build", ["build", "--project-dir", str(context.project), *context.passthrough]
    delay = 0.0
    rerun: tuple[str, ...] = ()
    last_ran: tuple[Path, Stamp] | None = None  # the folder dbt retry reads, and its stamp
    number = 1
    while True:
        if kind == "retry" and last_ran is not None and stamp(results_path) != last_ran[1]:
            # An attempt that ran no node wrote empty results: dbt retry would see nothing.
            restore_run_results(target_dir, last_ran[0])
            last_ran = (last_ran[0], stamp(results_path))
        attempt = _run_one(context, progress, number, (kind, args, delay, rerun))
        if not attempt.started:
            [failure] = attempt.failures
            if failure.failure_class is not FailureClass.TRANSIENT:
                return "start_failed"
        else:
            last_ran = (attempt.artifacts, stamp(results_path))
            decided = _after_ran(context, progress, attempt)
            if isinstance(decided, str):
                return decided
            kind, args, rerun = decided
        if number >= context.settings.retry.max_attempts:
            return "max_attempts"
        waited = _wait(context, progress, number)
        if waited is None:
            return "budget"
        delay = waited
        number += 1
