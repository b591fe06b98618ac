"""``sluice build``: run ``dbt build``, classify failures, retry the transient ones, escalate.

The Python API for orchestrators (Airflow, Dagster)::

    from sluice import build
    result = build("path/to/dbt_project", ["--target", "prod"])
    if result.exit_code == 3: ...  # transient failures left: try again later

Exit codes (``BuildResult.exit_code``, also the ``sluice build`` exit status):

* 0 - every selected node ran: everything published;
* 1 - a data-quality or structural failure: publication is held somewhere (also when transient
  failures are left alongside it);
* 2 - a usage or configuration error (raised here as :class:`BuildError`);
* 3 - only transient failures are left after the retry budget.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sluice.artifacts import (
    Artifacts,
    Manifest,
    load_manifest,
    load_run_results,
    load_sources,
)
from sluice.classify.core import classify
from sluice.classify.graph import Graph, build_graph
from sluice.classify.model import Failure, FailureClass
from sluice.classify.patterns import Pattern, builtin_patterns
from sluice.errors import InputError
from sluice.escalate.core import Escalation, escalate
from sluice.escalate.prometheus import BuildMetrics, count_by, write_textfile
from sluice.escalate.webhook import Delivery, build_payload, deliver, validate_url
from sluice.project import ProjectFlags, load_project
from sluice.retry.attempts import (
    attempts_dir,
    keep_attempt,
    reset_attempts,
    sluice_dir,
    stamp,
    write_final_view,
)
from sluice.retry.backoff import full_jitter_delay
from sluice.retry.config import BuildSettings, ConfigError, resolve_settings
from sluice.retry.dbt_args import flag_value, retry_args, without_selection
from sluice.retry.plan import NextStep, Plan, node_selectors, plan_next, selectors

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 3

Sleeper = Callable[[float], None]
Clock = Callable[[], float]
DbtRunner = Callable[[Sequence[str], Path | None], int]
"""Runs dbt with the given arguments (after the executable); output goes to the log file given,
or to this process's own stdout and stderr when it is None. Returns dbt's exit status."""


class BuildError(Exception):
    """A usage or configuration error: nothing could be built (exit code 2)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    kind: str
    """``build``, ``retry`` (``dbt retry``) or ``rerun_selected`` (``dbt build --select``)."""
    dbt_args: tuple[str, ...]
    returncode: int
    delay_before: float
    duration_seconds: float
    failures: tuple[Failure, ...]
    artifacts: Path
    rerun: tuple[str, ...] = ()
    """The nodes this attempt was started to rerun (empty for the first)."""


@dataclass(frozen=True, slots=True)
class ReportStep:
    generated: bool
    note: str | None = None
    result: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class BuildResult:
    exit_code: int
    outcome: str
    """``published``, ``held`` (structural or data-quality failure) or ``transient``."""
    project_dir: Path
    target_dir: Path
    attempts: tuple[Attempt, ...]
    failures: tuple[Failure, ...]
    """Failed and skipped nodes of the whole run (a node's latest result wins)."""
    escalations: tuple[Escalation, ...]
    alert_delivery: Delivery
    stopped_because: str
    exposure_statuses: Mapping[str, str]
    exposure_statuses_from: str
    report: ReportStep
    notes: tuple[str, ...] = ()
    started_at: float = 0.0
    """Unix time the build started."""

    @property
    def retries(self) -> int:
        return max(0, len(self.attempts) - 1)

    @property
    def alerts(self) -> tuple[Escalation, ...]:
        return tuple(e for e in self.escalations if e.alert)

    @property
    def root_failures(self) -> tuple[Failure, ...]:
        return tuple(f for f in self.failures if f.is_root)


def find_dbt(executable: str | None = None) -> str:
    """dbt next to this Python (the same virtualenv), else ``dbt`` on PATH."""
    if executable:
        return executable
    beside = Path(sys.executable).parent / "dbt"
    if beside.exists():
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise BuildError("dbt was not found next to this Python nor on PATH")
    return found


def subprocess_runner(executable: str) -> DbtRunner:
    def run(args: Sequence[str], log_path: Path | None) -> int:
        if log_path is None:
            return subprocess.run([executable, *args], check=False).returncode
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            return subprocess.run(
                [executable, *args], stdout=log, stderr=subprocess.STDOUT, check=False
            ).returncode

    return run


def target_dir_of(project_dir: Path, dbt_args: Sequence[str], environ: Mapping[str, str]) -> Path:
    """Where dbt writes its artifacts, read as dbt reads it (:mod:`sluice.project`):
    ``--target-path``, ``DBT_TARGET_PATH``, the project's rendered ``target-path``, ``target``."""
    flags = ProjectFlags.from_dbt_args(dbt_args, project_dir=project_dir)
    try:
        return load_project(flags, environ=environ).target_path
    except InputError as exc:
        raise BuildError(str(exc)) from None


def decide_exit_code(failures: Sequence[Failure], last_returncode: int) -> tuple[int, str]:
    """0 published, 1 held or structural, 3 only transient failures left."""
    if not failures:
        if last_returncode == 0:
            return EXIT_OK, "published"
        return EXIT_FAILED, "held"
    if any(f.effective_class is not FailureClass.TRANSIENT for f in failures):
        return EXIT_FAILED, "held"
    return EXIT_TRANSIENT, "transient"


def _fallback_exposure_statuses(
    manifest: Manifest, graph: Graph, failures: Sequence[Failure]
) -> dict[str, str]:
    """Exposure statuses from the build alone: ``stale`` behind held gates only (the last good
    data stays), ``blocked`` behind any other failed or skipped node, else ``healthy``."""
    by_id = {f.unique_id: f for f in failures}
    statuses: dict[str, str] = {}
    for uid in sorted(manifest.exposures):
        upstream = graph.ancestors(uid)
        hit = [by_id[n] for n in upstream if n in by_id]
        if not hit:
            statuses[uid] = "healthy"
            continue
        roots = {r for f in hit for r in (f.root_causes or (f.unique_id,))}
        root_failures = [by_id[r] for r in roots if r in by_id]
        if root_failures and all(f.gate_held for f in root_failures):
            statuses[uid] = "stale"
        else:
            statuses[uid] = "blocked"
    return statuses


def _report_statuses(result: Any) -> dict[str, str] | None:
    exposures = getattr(result, "exposures", None)
    if exposures is None:
        exposures = getattr(result, "exposure_statuses", None)
    if exposures is None:
        return None
    statuses: dict[str, str] = {}
    if isinstance(exposures, Mapping):
        items: list[tuple[Any, Any]] = list(exposures.items())
    else:
        items = [
            (getattr(e, "unique_id", None) or getattr(e, "name", None), getattr(e, "status", None))
            for e in exposures
        ]
    for key, status in items:
        if key is None or status is None:
            continue
        value = getattr(status, "value", status)
        statuses[str(key)] = str(value)
    return statuses


def _preload(
    report: bool,
    warehouse_of: Path | None = None,
    dbt_args: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> None:
    builtin_patterns()
    if warehouse_of is not None:
        # dbt's adapter for sluice_runs and the report's tables loads while dbt runs
        with contextlib.suppress(Exception):
            from sluice.warehouse import preload as preload_adapter

            flags = ProjectFlags.from_dbt_args(dbt_args, project_dir=warehouse_of)
            preload_adapter(load_project(flags, environ=environ))
    if not report:
        return
    # A failure shows again, with its message, when run_report imports the module. A report
    # module may offer ``preload()`` (e.g. compiling its templates) for the same reason.
    with contextlib.suppress(Exception):
        module = importlib.import_module("sluice.report")
        preload = getattr(module, "preload", None)
        if callable(preload):
            preload()


def report_inputs(
    project_dir: Path,
    dbt_args: Sequence[str],
    environ: Mapping[str, str],
    artifacts: Artifacts,
    *,
    warehouse: bool,
) -> tuple[Any, str | None]:
    """The report's inputs from the artifacts this build decoded (nothing is read twice):
    the known state and, with ``warehouse``, the ``sluice_runs`` counts. Never fails the build:
    a problem is returned as a note."""
    try:
        from sluice.report import read_inputs
    except ImportError as exc:
        return None, f"report skipped: sluice.report is not available ({exc})"
    try:
        project = load_project(
            ProjectFlags.from_dbt_args(dbt_args, project_dir=project_dir), environ=environ
        )
        return read_inputs(project, artifacts=artifacts, warehouse=warehouse), None
    except Exception as exc:  # the report must not change the build's outcome
        return None, f"report failed: {type(exc).__name__}: {exc}"


def run_report(
    inputs: Any,
    *,
    output_dir: Path,
    formats: Sequence[str],
    warehouse: bool,
) -> ReportStep:
    """Produce the ``sluice report`` output over the whole run; never fails the build."""
    try:
        from sluice.report import generate_report

        result = generate_report(
            inputs=inputs, output_dir=output_dir, formats=tuple(formats), warehouse=warehouse
        )
    except Exception as exc:  # the report must not change the build's outcome
        return ReportStep(False, f"report failed: {type(exc).__name__}: {exc}")
    return ReportStep(True, None, result)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2, default=str), "utf-8")
    tmp.replace(path)


def build(
    project_dir: str | os.PathLike[str] = ".",
    dbt_args: Sequence[str] = (),
    *,
    max_attempts: int | None = None,
    base_delay: float | None = None,
    max_delay: float | None = None,
    budget: float | None = None,
    alert_min_priority: str | None = None,
    report: bool = True,
    report_formats: Sequence[str] = ("html", "json", "md"),
    report_dir: str | os.PathLike[str] | None = None,
    warehouse: bool = True,
    environ: Mapping[str, str] | None = None,
    sleeper: Sleeper = time.sleep,
    clock: Clock = time.monotonic,
    uniform: Callable[[], float] | None = None,
    dbt_executable: str | None = None,
    runner: DbtRunner | None = None,
    log_dbt_output: bool = False,
) -> BuildResult:
    """Run ``dbt build`` for the project with ``dbt_args``; retry transient failures; escalate.

    Arguments left as None come from the environment (``SLUICE_*``), then ``[tool.sluice]`` in
    the project's ``pyproject.toml``, then the defaults. ``sleeper``, ``clock`` and ``uniform``
    (a number in [0, 1) for the jitter) are injectable for tests. With ``log_dbt_output`` dbt's
    output goes to ``target/sluice/attempts/<n>/dbt.log`` instead of this process's stdout.

    Raises :class:`BuildError` for usage and configuration errors.
    """
    started_wall = time.time()
    env = os.environ if environ is None else environ
    project = Path(project_dir).resolve()
    if not (project / "dbt_project.yml").exists():
        raise BuildError(f"{project} is not a dbt project (no dbt_project.yml)")
    given_project = flag_value(dbt_args, "--project-dir")
    if given_project is not None and Path(given_project).resolve() != project:
        raise BuildError("--project-dir is given twice with different folders")
    passthrough = list(dbt_args)
    if given_project is not None:
        passthrough = _drop_flag(passthrough, "--project-dir")
    flags = {
        "max_attempts": max_attempts,
        "base_delay": base_delay,
        "max_delay": max_delay,
        "budget": budget,
        "alert_min_priority": alert_min_priority,
    }
    try:
        settings = resolve_settings(project, flags, env)
    except ConfigError as exc:
        raise BuildError(str(exc)) from None
    try:  # a malformed URL stops the build before dbt runs, without echoing the URL
        origin = (
            "SLUICE_WEBHOOK_URL"
            if env.get("SLUICE_WEBHOOK_URL", "").strip()
            else (f"{project / 'pyproject.toml'} [tool.sluice.escalate] webhook_url")
        )
        validate_url(settings.escalation.webhook_url, origin)
    except InputError as exc:
        raise BuildError(str(exc)) from None

    context = _Context(
        project=project,
        passthrough=tuple(passthrough),
        settings=settings,
        user_patterns=settings.patterns,
        target_dir=target_dir_of(project, passthrough, env),
        run_dbt=runner if runner is not None else subprocess_runner(find_dbt(dbt_executable)),
        sleeper=sleeper,
        clock=clock,
        uniform=uniform,
        log_dbt_output=log_dbt_output,
    )
    # The pattern table compiles, and the report's modules load, while dbt runs: this process
    # only waits for dbt meanwhile.
    warm = threading.Thread(
        target=_preload,
        args=(report, project if warehouse else None, passthrough, env),
        daemon=True,
    )
    warm.start()
    start = clock()
    try:
        run = _run_attempts(context)
    finally:
        warm.join()  # never leave the thread behind, not even on an error
    target_dir = context.target_dir
    attempts, manifest, graph, notes = run.attempts, run.manifest, run.graph, run.notes

    final_dir = write_final_view(target_dir, [a.artifacts for a in attempts])
    final_results = load_run_results(final_dir / "run_results.json")
    final_failures = classify(final_results, manifest, context.patterns(), graph)
    exit_code, outcome = decide_exit_code(final_failures, attempts[-1].returncode)
    stopped = run.stopped
    if stopped == "published" and final_failures:
        # The last attempt reran only transient nodes and they passed; structural ones remain.
        stopped = "nothing_to_retry"
    if not final_failures and exit_code != EXIT_OK:
        notes.append(f"dbt exited {attempts[-1].returncode} without a failed node")

    # The report's inputs (and the sluice_runs counts the alerts and metrics need) are read
    # once, from the artifacts decoded here; without the report they are still read from the
    # warehouse, for the alerts' owners and severities and the metrics' row counts.
    inputs: Any = None
    report_note: str | None = "report skipped (disabled)"
    if report or warehouse:
        sources_path = final_dir / "sources.json"
        inputs, report_note = report_inputs(
            project,
            passthrough,
            env,
            Artifacts(
                manifest=manifest,
                run_results=final_results,
                sources=load_sources(sources_path) if sources_path.exists() else None,
                target_path=final_dir,
            ),
            warehouse=warehouse,
        )
    quarantine = inputs.quarantine if inputs is not None else {}
    escalations = escalate(
        final_failures,
        manifest,
        graph,
        settings.escalation,
        rule_counts={uid: q.rule_counts for uid, q in quarantine.items()},
    )
    # The webhook is called while the report is produced: a slow endpoint costs no extra time.
    with ThreadPoolExecutor(max_workers=1) as pool:
        alerting = pool.submit(
            _alert,
            escalations,
            settings,
            target_dir,
            project=manifest.metadata.project_name or project.name,
            exit_code=exit_code,
            attempts=len(attempts),
        )
        report_step = ReportStep(False, report_note if report else "report skipped (disabled)")
        if report and inputs is not None:
            report_step = run_report(
                inputs,
                output_dir=Path(report_dir) if report_dir else sluice_dir(target_dir),
                formats=report_formats,
                warehouse=warehouse,
            )
        delivery = alerting.result()
    if delivery.attempted and not delivery.delivered:
        notes.append(f"alert delivery failed: {delivery.error}")
    if report_step.note:
        notes.append(report_step.note)
    statuses = _report_statuses(report_step.result) if report_step.generated else None
    statuses_from = "report"
    if statuses is None:
        statuses = _fallback_exposure_statuses(manifest, graph, final_failures)
        statuses_from = "build"

    result = BuildResult(
        exit_code=exit_code,
        outcome=outcome,
        project_dir=project,
        target_dir=target_dir,
        attempts=tuple(attempts),
        failures=final_failures,
        escalations=escalations,
        alert_delivery=delivery,
        stopped_because=stopped,
        exposure_statuses=statuses,
        exposure_statuses_from=statuses_from,
        report=report_step,
        notes=tuple(notes),
        started_at=started_wall,
    )
    write_textfile(
        sluice_dir(target_dir) / "sluice.prom",
        _metrics(result, quarantine, manifest, duration=clock() - start),
    )
    _write_json(sluice_dir(target_dir) / "build.json", summary(result))
    return result


@dataclass(frozen=True, slots=True)
class _Context:
    """What every attempt of one build shares."""

    project: Path
    passthrough: tuple[str, ...]
    settings: BuildSettings
    user_patterns: tuple[Pattern, ...]
    target_dir: Path
    run_dbt: DbtRunner
    sleeper: Sleeper
    clock: Clock
    uniform: Callable[[], float] | None
    log_dbt_output: bool

    def patterns(self) -> tuple[Pattern, ...]:
        """The users' rows first, then the built-in table."""
        return (*self.user_patterns, *builtin_patterns())


@dataclass(slots=True)
class _Run:
    attempts: list[Attempt]
    manifest: Manifest
    graph: Graph
    stopped: str
    notes: list[str]


def _next_args(context: _Context, plan: Plan, manifest: Manifest) -> tuple[str, list[str]]:
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


def _run_attempts(context: _Context) -> _Run:
    """Run dbt, then retry while the plan says so and the attempts and the budget allow."""
    policy = context.settings.retry
    clock = context.clock
    reset_attempts(context.target_dir)
    results_path = context.target_dir / "run_results.json"
    start = clock()
    attempts: list[Attempt] = []
    notes: list[str] = []
    kind, args = "build", ["build", "--project-dir", str(context.project), *context.passthrough]
    delay = 0.0
    rerun: tuple[str, ...] = ()
    loaded: tuple[Manifest, Graph] | None = None
    number = 1
    while True:
        before = stamp(results_path)
        log = attempts_dir(context.target_dir) / str(number) / "dbt.log"
        began = clock()
        returncode = context.run_dbt(args, log if context.log_dbt_output else None)
        duration = clock() - began
        after = stamp(results_path)
        problem: str | None = None
        if not after.exists or after == before:
            problem = f"dbt {kind} exited {returncode} and wrote no run results"
        else:
            folder = keep_attempt(context.target_dir, number)
            try:
                manifest = load_manifest(folder / "manifest.json")
                run_results = load_run_results(folder / "run_results.json")
            except InputError as exc:
                problem = str(exc)
        if problem is not None:
            if loaded is None:
                raise BuildError(problem)
            notes.append(f"attempt {number}: {problem}")
            return _Run(attempts, *loaded, "dbt_error", notes)
        graph = build_graph(manifest)
        loaded = (manifest, graph)
        failures = classify(run_results, manifest, context.patterns(), graph)
        attempts.append(
            Attempt(number, kind, tuple(args), returncode, delay, duration, failures, folder, rerun)
        )
        plan = plan_next(failures)
        if plan.step is NextStep.DONE:
            return _Run(attempts, manifest, graph, "published", notes)
        if plan.step is NextStep.STOP:
            return _Run(attempts, manifest, graph, "nothing_to_retry", notes)
        if number >= policy.max_attempts:
            return _Run(attempts, manifest, graph, "max_attempts", notes)
        uniform = (context.uniform,) if context.uniform else ()
        delay = full_jitter_delay(policy, number, *uniform)
        if clock() - start + delay > policy.budget:
            notes.append(
                f"no retry after attempt {number}: a {delay:.1f} s wait would pass the "
                f"{policy.budget:g} s budget"
            )
            return _Run(attempts, manifest, graph, "budget", notes)
        context.sleeper(delay)
        number += 1
        rerun = plan.nodes
        kind, args = _next_args(context, plan, manifest)


def _alert(
    escalations: Sequence[Escalation],
    settings: BuildSettings,
    target_dir: Path,
    *,
    project: str,
    exit_code: int,
    attempts: int,
) -> Delivery:
    """Send the alerts to the webhook, if any; record everything in ``alerts.json``."""
    alerts = [e for e in escalations if e.alert]
    payload = (
        build_payload(alerts, project=project, exit_code=exit_code, attempts=attempts)
        if alerts
        else None
    )
    url = settings.escalation.webhook_url
    if payload is not None and url:
        delivery = deliver(url, payload, settings.escalation.webhook_timeout)
    elif payload is not None:
        delivery = Delivery(False, False, None, "no webhook configured")
    else:
        delivery = Delivery(False, False, None, None)
    _write_json(
        sluice_dir(target_dir) / "alerts.json",
        {
            "delivery": asdict(delivery),
            "payload": payload,
            "escalations": [asdict(e) for e in escalations],
        },
    )
    return delivery


def _metrics(
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
    )


def summary(result: BuildResult) -> dict[str, Any]:
    """A JSON-ready description of a build (written to ``target/sluice/build.json``)."""
    return {
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
        "message": failure.message,
    }


def _drop_flag(args: list[str], flag: str) -> list[str]:
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == flag:
            skip = True
            continue
        if arg.startswith(flag + "="):
            continue
        kept.append(arg)
    return kept


class _CallableModule(types.ModuleType):
    """Keeps ``sluice.build(...)`` working after ``import sluice.build`` has bound the module
    (rather than the function) to the package's ``build`` attribute."""

    def __call__(self, *args: Any, **kwargs: Any) -> BuildResult:
        return build(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
