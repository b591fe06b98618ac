"""``sluice build``: run ``dbt build``, classify failures, retry the transient ones, escalate.

The Python API for orchestrators (Airflow, Dagster)::

    from sluice import build
    result = build("path/to/dbt_project", ["--target", "prod"])
    if result.exit_code == 3: ...  # transient failures left: try again later

Exit codes (``BuildResult.exit_code``, also the ``sluice build`` exit status):

* 0 - every selected node ran: everything published;
* 1 - a data-quality or structural failure: publication is held somewhere (also when transient
  failures are left alongside it);
* 2 - a usage or configuration error, or dbt could not start for a reason that is not transient
  (raised here as :class:`BuildError`, after this run's record is written);
* 3 - only transient failures are left after the retry budget;
* 130 / 143 - interrupted by SIGINT / SIGTERM (the exception that interrupted the build goes on;
  dbt is stopped first and this run's record is written).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import shutil
import signal
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluice.artifacts import (
    Artifacts,
    Manifest,
    RunResults,
    load_manifest,
    load_run_results,
    load_sources,
)
from sluice.artifacts.models import Metadata
from sluice.classify.core import classify
from sluice.classify.graph import Graph, build_graph
from sluice.classify.model import Failure, FailureClass
from sluice.classify.patterns import Pattern, builtin_patterns
from sluice.classify.startup import INVOCATION_TYPE, adapter_from_output, classify_start_failure
from sluice.destinations import REPORT_FILES, REPORT_FORMATS, check_writable
from sluice.errors import InputError
from sluice.escalate.core import Escalation, escalate
from sluice.escalate.prometheus import BuildMetrics, count_by, write_textfile
from sluice.escalate.webhook import Delivery, build_payload, deliver, validate_url
from sluice.impact.analyze import quarantine_counts
from sluice.project import Project, ProjectFlags, load_project
from sluice.project.flags import resolve_project_dir
from sluice.retry.attempts import (
    Stamp,
    attempts_dir,
    clear_previous_run,
    keep_attempt,
    restore_run_results,
    sluice_dir,
    stamp,
    write_final_view,
)
from sluice.retry.backoff import full_jitter_delay
from sluice.retry.config import BuildSettings, ConfigError, resolve_settings
from sluice.retry.dbt_args import (
    DbtArgsError,
    flag_value,
    retry_args,
    without_selection,
    without_separators,
)
from sluice.retry.dbt_process import DbtRunner, subprocess_runner
from sluice.retry.plan import (
    NextStep,
    Plan,
    node_selectors,
    plan_next,
    repeated_failures,
    selectors,
    stop_repeating,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 3

Sleeper = Callable[[float], None]
Clock = Callable[[], float]

__all__ = [
    "Attempt",
    "BuildError",
    "BuildResult",
    "DbtRunner",
    "Interrupted",
    "build",
    "decide_exit_code",
    "find_dbt",
    "record_usage_error",
    "subprocess_runner",
    "summary",
    "target_dir_of",
]


class BuildError(Exception):
    """A usage or configuration error, or dbt failing to start for a reason that is not
    transient: nothing could be built (exit code 2).

    ``result`` is the build's record (also in ``target/sluice/build.json``) when one could be
    written: not when the project itself is missing.
    """

    def __init__(self, message: str, result: BuildResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class Interrupted(BaseException):
    """Raised (by a signal handler, as ``sluice build`` installs) to stop a build.

    :func:`build` stops dbt, writes this run's record as ``interrupted`` and lets the exception
    go on. Any other exception that reaches it while dbt runs (``KeyboardInterrupt``, an
    orchestrator's own) is treated the same way.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.recorded: Path | None = None
        """This run's ``build.json`` once the build wrote it; None if it could not (the
        project was not found yet, or its target folder cannot be written)."""

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    kind: str
    """``build``, ``retry`` (``dbt retry``) or ``rerun_selected`` (``dbt build --select``)."""
    dbt_args: tuple[str, ...]
    returncode: int | None
    """dbt's exit status; None when the attempt was interrupted."""
    delay_before: float
    duration_seconds: float
    failures: tuple[Failure, ...]
    """The attempt's failed and skipped nodes; for an attempt that ran no node, one failure
    that stands for the whole invocation (``resource_type`` ``invocation``)."""
    artifacts: Path
    rerun: tuple[str, ...] = ()
    """The nodes this attempt was started to rerun (empty for the first)."""
    started: bool = True
    """Whether dbt got to run nodes (False: it failed before its first node)."""
    interrupted: bool = False
    dbt_invocation_id: str | None = None
    """dbt's own invocation id, from the run results it wrote."""


@dataclass(frozen=True, slots=True)
class ReportStep:
    generated: bool
    note: str | None = None
    result: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class BuildResult:
    exit_code: int
    outcome: str
    """``published``, ``held`` (structural or data-quality failure), ``transient``,
    ``not_started`` (dbt could not start, not transiently), ``interrupted`` or
    ``usage_error``."""
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
    invocation_id: str = ""
    """This ``sluice build`` run's id, in ``build.json``, ``alerts.json`` and the metrics."""
    status: str = "finished"
    """``finished``, ``interrupted`` or ``usage_error``."""

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


def target_dir_of(project_dir: Path, dbt_args: Sequence[str], environ: Mapping[str, str]) -> Path:
    """Where dbt writes its artifacts, read as dbt reads it (:mod:`sluice.project`):
    ``--target-path``, ``DBT_TARGET_PATH``, the project's rendered ``target-path``, ``target``."""
    flags = ProjectFlags.from_dbt_args(dbt_args, project_dir=project_dir)
    try:
        return load_project(flags, environ=environ).target_path
    except InputError as exc:
        raise BuildError(str(exc)) from None


def _target_dir_given(
    project_dir: Path, dbt_args: Sequence[str], environ: Mapping[str, str]
) -> Path:
    """The target folder without reading the project file (it cannot be read):
    ``--target-path``, ``DBT_TARGET_PATH``, else dbt's default ``target``."""
    flags = ProjectFlags.from_dbt_args(dbt_args, project_dir=project_dir)
    return Project(project_dir, flags, dict(environ), Path.cwd(), {}, {}).target_path


def decide_exit_code(failures: Sequence[Failure], last_returncode: int | None) -> tuple[int, str]:
    """0 published, 1 held or structural, 2 dbt could not start (not transiently), 3 only
    transient failures left."""
    if not failures:
        if last_returncode == 0:
            return EXIT_OK, "published"
        return EXIT_FAILED, "held"
    roots = [f for f in failures if f.is_root]
    if roots and all(
        f.resource_type == INVOCATION_TYPE and f.failure_class is FailureClass.UNKNOWN
        for f in roots
    ):
        return EXIT_USAGE, "not_started"
    if any(f.effective_class is not FailureClass.TRANSIENT for f in failures):
        return EXIT_FAILED, "held"
    return EXIT_TRANSIENT, "transient"


def _build_statuses(
    manifest: Manifest,
    results: RunResults | None,
    failures: Sequence[Failure],
    quarantine: Mapping[str, Any],
) -> dict[str, str]:
    """Exposure statuses when the report gives none (disabled, failed, or the build
    interrupted): the report's own rule (:func:`sluice.impact.analyze`) over this build's
    results, so an unrecognised status is ``unknown`` there as in the report; every exposure
    is ``blocked`` when dbt never got to run a node."""
    roots = [f for f in failures if f.is_root]
    if results is None or (roots and all(f.resource_type == INVOCATION_TYPE for f in roots)):
        return dict.fromkeys(sorted(manifest.exposures), "blocked")
    from sluice.impact import analyze

    impact = analyze(manifest, results, generated_at=datetime.now(UTC), quarantine=quarantine)
    return {e.unique_id: e.status.value for e in impact.exposures}


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


def _report_files(output_dir: Path) -> list[Path]:
    """The files the report step writes into ``output_dir`` (named without loading the report's
    modules: this runs before dbt starts)."""
    return [output_dir / name for name in REPORT_FILES.values()]


class _WarehouseAfterDbt:
    """The project (read once) and one connection to its warehouse for what the build does
    after dbt: the report's reads, its tables and this run's record (each connection to a
    DuckDB file costs opening it and a checkpoint on closing). Connected on first use; a step
    that fails is rolled back for the next, and reports its own failure as a note."""

    def __init__(self, context: _Context, environ: Mapping[str, str]) -> None:
        self._context = context
        self._environ = environ
        self._stack = contextlib.ExitStack()
        self._project: Project | None = None
        self._connection: Any = None

    def __enter__(self) -> _WarehouseAfterDbt:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):  # closing must not change the build's outcome
            self._stack.close()

    def project(self) -> Project:
        if self._project is None:
            flags = ProjectFlags.from_dbt_args(
                self._context.passthrough, project_dir=self._context.project
            )
            self._project = load_project(flags, environ=self._environ)
        return self._project

    def connection(self) -> Any:
        if self._connection is None:
            from sluice.warehouse import connect

            self._connection = self._stack.enter_context(connect(self.project()))
        return self._connection

    def recover(self) -> None:
        """After a failed step: roll back what it left open, for the next step."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.driver.rollback()


def report_inputs(
    shared: _WarehouseAfterDbt, artifacts: Artifacts, *, warehouse: bool
) -> tuple[Any, str | None]:
    """The report's inputs from the artifacts this build decoded (nothing is read twice):
    the known state and, with ``warehouse``, the ``sluice_runs`` counts. Never fails the build:
    a problem is returned as a note."""
    try:
        from sluice.report import read_inputs
    except ImportError as exc:
        return None, f"report skipped: sluice.report is not available ({exc})"
    try:
        connection = shared.connection() if warehouse else None
        inputs = read_inputs(
            shared.project(), artifacts=artifacts, warehouse=warehouse, connection=connection
        )
    except Exception as exc:  # the report must not change the build's outcome
        shared.recover()
        return None, f"report failed: {type(exc).__name__}: {exc}"
    return inputs, None


def run_report(
    inputs: Any,
    *,
    output_dir: Path,
    formats: Sequence[str],
    warehouse: bool,
    shared: _WarehouseAfterDbt,
) -> ReportStep:
    """Produce the ``sluice report`` output over the whole run; never fails the build."""
    try:
        from sluice.report import generate_report

        result = generate_report(
            inputs=inputs,
            output_dir=output_dir,
            formats=tuple(formats),
            warehouse=warehouse,
            connection=shared.connection() if warehouse else None,
        )
    except Exception as exc:  # the report must not change the build's outcome
        shared.recover()
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


_EMPTY_MANIFEST = Manifest(metadata=Metadata(dbt_schema_version=""))


@dataclass(frozen=True, slots=True)
class _Context:
    """What every attempt of one build shares."""

    project: Path
    passthrough: tuple[str, ...]
    settings: BuildSettings
    target_dir: Path
    run_dbt: DbtRunner
    sleeper: Sleeper
    clock: Clock
    uniform: Callable[[], float] | None
    started: float
    """The clock's reading when the build started (the budget counts from there)."""

    def patterns(self) -> tuple[Pattern, ...]:
        """The users' rows first, then the built-in table (compiled while dbt first runs)."""
        return (*self.settings.patterns, *builtin_patterns())


@dataclass(frozen=True, slots=True)
class _Running:
    """The attempt dbt is running now."""

    number: int
    kind: str
    args: tuple[str, ...]
    delay_before: float
    rerun: tuple[str, ...]
    began: float
    before: Mapping[str, Stamp]


@dataclass(slots=True)
class _Progress:
    """Where a build stands: read to write its record whenever and however it ends."""

    invocation_id: str
    project: Path
    target_dir: Path
    started_at: float
    clock: Clock
    started: float
    attempts: list[Attempt] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    loaded: tuple[Manifest, Graph] | None = None
    running: _Running | None = None
    phase: str = "starting"
    repeated: dict[str, int] = field(default_factory=dict)
    settings: BuildSettings | None = None
    report_files: tuple[Path, ...] = ()
    cleared: bool = False

    def clear_previous_run(self) -> None:
        """Remove the previous run's outputs (once), before this run writes its own."""
        if not self.cleared:
            self.cleared = True
            clear_previous_run(self.target_dir, self.report_files)

    def patterns(self) -> tuple[Pattern, ...]:
        """The users' rows first, then the built-in table."""
        users = self.settings.patterns if self.settings is not None else ()
        return (*users, *builtin_patterns())

    def manifest_and_graph(self) -> tuple[Manifest, Graph]:
        if self.loaded is None:
            return _EMPTY_MANIFEST, build_graph(_EMPTY_MANIFEST)
        return self.loaded

    def write_running(self) -> None:
        """``build.json`` while the build runs: this run's id and what it is doing."""
        _write_json(
            sluice_dir(self.target_dir) / "build.json",
            {
                "invocation_id": self.invocation_id,
                "status": "running",
                "phase": self.phase,
                "started_at": self.started_at,
                "pid": os.getpid(),
                "project_dir": self.project,
                "attempts_so_far": len(self.attempts),
            },
        )


def build(
    project_dir: str | os.PathLike[str] | None = None,
    dbt_args: Sequence[str] = (),
    *,
    max_attempts: int | str | None = None,
    base_delay: float | str | None = None,
    max_delay: float | str | None = None,
    budget: float | str | None = None,
    repeat_limit: int | str | None = None,
    stop_timeout: float | str | None = None,
    alert_min_priority: str | None = None,
    report: bool = True,
    report_formats: Sequence[str] = REPORT_FORMATS,
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

    The project is ``project_dir``, else the ``--project-dir`` among ``dbt_args``, else
    ``DBT_PROJECT_DIR``, else the working directory or its nearest parent holding a
    ``dbt_project.yml`` (dbt's precedence, :mod:`sluice.project`). Arguments left as None come
    from the environment (``SLUICE_*``), then ``[tool.sluice]`` in
    the project's ``pyproject.toml``, then the defaults (numbers may be given as text, as on
    the command line). ``sleeper``, ``clock`` and ``uniform`` (a number in [0, 1) for the
    jitter) are injectable for tests. dbt's output is kept in
    ``target/sluice/attempts/<n>/dbt.log``; it also goes to ``sys.stdout`` unless
    ``log_dbt_output``.

    Every way out writes this run's ``build.json`` and ``sluice.prom`` (marked with
    ``invocation_id``) once the project is found, after removing the previous run's: under the
    project's target folder, or, when its ``dbt_project.yml`` cannot be read, under
    ``--target-path``, ``DBT_TARGET_PATH`` or ``target``. Nothing is written where the target
    folder cannot be written. Raises :class:`BuildError` for usage and configuration errors
    and when dbt cannot start for a reason that is not transient; an exception that interrupts
    the build (:class:`Interrupted`, ``KeyboardInterrupt``, ...) stops dbt and goes on.
    """
    started_wall = time.time()
    env = os.environ if environ is None else environ
    passthrough = without_separators(dbt_args)
    given_project = flag_value(passthrough, "--project-dir")
    chosen = project_dir if project_dir is not None else given_project
    project = resolve_project_dir(
        ProjectFlags(project_dir=Path(chosen) if chosen is not None else None), env, Path.cwd()
    ).resolve()
    if not (project / "dbt_project.yml").exists():
        raise BuildError(f"{project} is not a dbt project (no dbt_project.yml)")
    progress = _Progress(
        invocation_id=str(uuid.uuid4()),
        project=project,
        target_dir=_target_dir_given(project, passthrough, env),
        started_at=started_wall,
        clock=clock,
        started=clock(),
    )
    if report and report_dir:
        progress.report_files = tuple(_report_files(Path(report_dir)))
    # From here on every way out, a signal included, writes this run's record.
    try:
        _locate(progress, passthrough, env, report=report, report_dir=report_dir)
        target_dir = progress.target_dir
        output_dir = Path(report_dir) if report_dir else sluice_dir(target_dir)
        try:  # before anything is written: a folder that cannot be written is a usage error
            check_writable(sluice_dir(target_dir), "build record")
            if report:
                check_writable(output_dir, "report")
        except InputError as exc:
            raise BuildError(str(exc)) from None
        progress.clear_previous_run()
        progress.write_running()
        if given_project is not None and Path(given_project).resolve() != project:
            raise BuildError("--project-dir is given twice with different folders")
        if given_project is not None:
            passthrough = _drop_flag(passthrough, "--project-dir")
        unknown_formats = sorted(set(report_formats) - set(REPORT_FORMATS))
        if unknown_formats:
            raise BuildError(
                f"unknown report format(s) {', '.join(unknown_formats)}: "
                f"choose from {', '.join(REPORT_FORMATS)}"
            )
        flags = {
            "max_attempts": max_attempts,
            "base_delay": base_delay,
            "max_delay": max_delay,
            "budget": budget,
            "repeat_limit": repeat_limit,
            "stop_timeout": stop_timeout,
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
                else f"{project / 'pyproject.toml'} [tool.sluice.escalate] webhook_url"
            )
            validate_url(settings.escalation.webhook_url, origin)
        except InputError as exc:
            raise BuildError(str(exc)) from None
        progress.settings = settings
        run_dbt = runner or subprocess_runner(
            find_dbt(dbt_executable), echo=not log_dbt_output, stop_timeout=settings.stop_timeout
        )
        context = _Context(
            project=project,
            passthrough=tuple(passthrough),
            settings=settings,
            target_dir=target_dir,
            run_dbt=run_dbt,
            sleeper=sleeper,
            clock=clock,
            uniform=uniform,
            started=progress.started,
        )
        # The pattern table compiles, and the report's modules load, while dbt runs: this
        # process only waits for dbt meanwhile.
        warm = threading.Thread(
            target=_preload,
            args=(report, project if warehouse else None, passthrough, env),
            daemon=True,
        )
        warm.start()
        try:
            stopped = _run_attempts(context, progress)
        finally:
            warm.join()  # never leave the thread behind, not even on an error
        progress.phase = "finishing"
        result = _finish(
            context,
            progress,
            stopped,
            report=report,
            report_formats=report_formats,
            output_dir=output_dir,
            warehouse=warehouse,
            environ=env,
        )
    except BuildError as exc:
        if exc.result is None:
            exc.result = _record_usage_error(progress, str(exc))
        raise
    except BaseException as exc:
        # interrupted while the project file was read: the record goes to the fallback folder
        recorded = _record_interrupted(progress, exc)
        if isinstance(exc, Interrupted):
            exc.recorded = recorded
        raise
    if result.exit_code == EXIT_USAGE:
        last = result.attempts[-1]
        [start_failure] = last.failures
        raise BuildError(
            f"dbt {last.kind} exited {last.returncode} and wrote no run results of any node: "
            f"{_first_line(start_failure.message)}",
            result,
        )
    return result


def _locate(
    progress: _Progress,
    dbt_args: Sequence[str],
    environ: Mapping[str, str],
    *,
    report: bool,
    report_dir: str | os.PathLike[str] | None,
) -> None:
    """Read the project's target folder into ``progress`` (a :class:`BuildError` when the
    project file cannot be read; ``progress`` keeps the fallback folder then)."""
    progress.target_dir = target_dir_of(progress.project, dbt_args, environ)
    if report:
        output_dir = Path(report_dir) if report_dir else sluice_dir(progress.target_dir)
        progress.report_files = tuple(_report_files(output_dir))


def record_usage_error(
    dbt_args: Sequence[str], message: str, environ: Mapping[str, str] | None = None
) -> BuildResult | None:
    """Record a usage error found before :func:`build` could run (the command line itself
    could not be read): the previous run's outputs are removed and this run's ``build.json``
    and ``sluice.prom`` written, status ``usage_error``, under the target folder that
    ``dbt_args`` (``--project-dir``, ``--target-path`` ...) and ``environ`` name. None when no
    project is found there or its target folder cannot be written."""
    env = os.environ if environ is None else environ
    passthrough = without_separators(dbt_args)
    given = flag_value(passthrough, "--project-dir")
    try:
        project = resolve_project_dir(
            ProjectFlags(project_dir=Path(given) if given is not None else None), env, Path.cwd()
        ).resolve()
    except (InputError, OSError):
        return None
    if not (project / "dbt_project.yml").exists():
        return None
    progress = _Progress(
        invocation_id=str(uuid.uuid4()),
        project=project,
        target_dir=_target_dir_given(project, passthrough, env),
        started_at=time.time(),
        clock=time.monotonic,
        started=time.monotonic(),
    )
    report_dir = flag_value(passthrough, "--report-dir")
    report = "--no-report" not in passthrough
    with contextlib.suppress(BuildError):
        _locate(progress, passthrough, env, report=report, report_dir=report_dir)
    return _record_usage_error(progress, message)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _finish(
    context: _Context,
    progress: _Progress,
    stopped: str,
    *,
    report: bool,
    report_formats: Sequence[str],
    output_dir: Path,
    warehouse: bool,
    environ: Mapping[str, str],
) -> BuildResult:
    """Merge the attempts, escalate, alert, report, and write the run's record."""
    attempts, notes = progress.attempts, progress.notes
    target_dir = context.target_dir
    manifest, graph = progress.manifest_and_graph()
    final_dir, final_results, final_failures = _final_view(progress)
    last = attempts[-1]
    exit_code, outcome = decide_exit_code(final_failures, last.returncode)
    if stopped == "published" and final_failures:
        # The last attempt reran only transient nodes and they passed; structural ones remain.
        stopped = "nothing_to_retry"
    if not final_failures and exit_code != EXIT_OK:
        notes.append(f"dbt exited {last.returncode} without a failed node")

    settings = context.settings
    # One connection to the warehouse for the report's reads and tables and this run's record.
    with _WarehouseAfterDbt(context, environ) as shared:
        # The report's inputs (and the sluice_runs counts the alerts and metrics need) are read
        # once, from the artifacts decoded here; without the report they are still read from the
        # warehouse, for the alerts' owners and severities and the metrics' row counts.
        inputs: Any = None
        report_note: str | None = "report skipped (disabled)"
        if final_dir is None or final_results is None:
            report_note = "report skipped: dbt ran no node"
        elif report or warehouse:
            sources_path = final_dir / "sources.json"
            inputs, report_note = report_inputs(
                shared,
                Artifacts(
                    manifest=manifest,
                    run_results=final_results,
                    sources=load_sources(sources_path) if sources_path.exists() else None,
                    target_path=final_dir,
                ),
                warehouse=warehouse,
            )
        # the counts the report reads too (sluice_runs, else the run results' own): one owner and
        # one severity for a held gate in the alerts and the report
        quarantine = (
            quarantine_counts(final_results, inputs.quarantine if inputs is not None else None)
            if final_results is not None
            else {}
        )
        escalations = escalate(
            final_failures,
            manifest,
            graph,
            settings.escalation,
            rule_counts={uid: q.rule_counts for uid, q in quarantine.items()},
        )
        project_name = manifest.metadata.project_name or context.project.name
        # The webhook is called while the report is produced: a slow endpoint costs no extra time.
        with ThreadPoolExecutor(max_workers=1) as pool:
            alerting = pool.submit(
                _alert,
                escalations,
                settings,
                target_dir,
                project=project_name,
                exit_code=exit_code,
                attempts=len(attempts),
                invocation_id=progress.invocation_id,
            )
            report_step = ReportStep(False, report_note if report else "report skipped (disabled)")
            if report and inputs is not None:
                report_step = run_report(
                    inputs,
                    output_dir=output_dir,
                    formats=report_formats,
                    warehouse=warehouse,
                    shared=shared,
                )
            delivery = alerting.result()
        if delivery.attempted and not delivery.delivered:
            notes.append(f"alert delivery failed: {delivery.error}")
        if warehouse:
            note = _record_in_warehouse(
                shared, _warehouse_rows(progress.invocation_id, attempts, escalations, delivery)
            )
            if note:
                notes.append(note)
    if report_step.note:
        notes.append(report_step.note)
    statuses = _report_statuses(report_step.result) if report_step.generated else None
    statuses_from = "report"
    if statuses is None:
        statuses = _build_statuses(manifest, final_results, final_failures, quarantine)
        statuses_from = "build"

    result = BuildResult(
        exit_code=exit_code,
        outcome=outcome,
        project_dir=context.project,
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
        started_at=progress.started_at,
        invocation_id=progress.invocation_id,
    )
    _write_record(progress, result, quarantine, manifest)
    return result


def _final_view(progress: _Progress) -> tuple[Path | None, RunResults | None, tuple[Failure, ...]]:
    """The merged view of every attempt, its run results and classified failures; a last
    attempt that ran no node adds its own failure (it stands for the whole invocation)."""
    attempts = progress.attempts
    manifest, graph = progress.manifest_and_graph()
    final_dir = write_final_view(progress.target_dir, [a.artifacts for a in attempts])
    final_results: RunResults | None = None
    failures: tuple[Failure, ...] = ()
    if final_dir is not None:
        path = final_dir / "run_results.json"
        final_results = load_run_results(path)
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


_WATCHED = ("run_results.json", "manifest.json")


def _collect(context: _Context, progress: _Progress, running: _Running, returncode: int) -> Attempt:
    """The attempt dbt just finished: keep its artifacts, classify what failed."""
    target_dir = context.target_dir
    duration = context.clock() - running.began
    fresh = [
        name
        for name in _WATCHED
        if (now := stamp(target_dir / name)).exists and now != running.before[name]
    ]
    folder = keep_attempt(target_dir, running.number, fresh)
    manifest: Manifest | None = None
    results: RunResults | None = None
    problem: str | None = None
    try:
        if "manifest.json" in fresh:
            manifest = load_manifest(folder / "manifest.json")
            progress.loaded = (manifest, build_graph(manifest))
        if "run_results.json" in fresh:
            results = load_run_results(folder / "run_results.json")
    except InputError as exc:
        problem = str(exc)
    dbt_invocation = results.metadata.invocation_id if results is not None else None
    ran = results is not None and any(r.status != "skipped" for r in results.results)
    project_name = (progress.manifest_and_graph()[0].metadata.project_name) or context.project.name
    if problem is None and results is not None and (ran or returncode == 0):
        known, graph = progress.manifest_and_graph()
        failures = classify(results, known, context.patterns(), graph)
        return Attempt(
            running.number,
            running.kind,
            running.args,
            returncode,
            running.delay_before,
            duration,
            failures,
            folder,
            running.rerun,
            dbt_invocation_id=dbt_invocation,
        )
    if problem is None and returncode != 0:
        log = attempts_dir(target_dir) / str(running.number) / "dbt.log"
        output = log.read_text("utf-8", errors="replace") if log.exists() else ""
        adapter = (manifest.metadata.adapter_type if manifest else None) or adapter_from_output(
            output
        )
        failure = classify_start_failure(
            output,
            adapter,
            context.patterns(),
            project=project_name,
            command=running.kind,
            returncode=returncode,
        )
    else:
        message = problem or (
            f"dbt {running.kind} exited 0 and wrote no run results (is --no-write-json set?)"
        )
        failure = Failure(
            unique_id=f"{INVOCATION_TYPE}.{project_name}",
            name=f"dbt {running.kind}",
            resource_type=INVOCATION_TYPE,
            status="error",
            failure_class=FailureClass.UNKNOWN,
            message=message,
            reason=f"sluice cannot read what dbt {running.kind} did",
            effective_class=FailureClass.UNKNOWN,
        )
    return Attempt(
        running.number,
        running.kind,
        running.args,
        returncode,
        running.delay_before,
        duration,
        (failure,),
        folder,
        running.rerun,
        started=False,
        dbt_invocation_id=dbt_invocation,
    )


def _run_attempts(context: _Context, progress: _Progress) -> str:
    """Run dbt, then retry while the plan says so and the attempts and the budget allow.

    Every dbt invocation becomes an attempt. One that fails before running a node with a
    transient class is run again as it was (the first attempt's ``dbt build``, or the same
    ``dbt retry``, which reads the last results that did run nodes). Returns why it stopped.
    """
    policy = context.settings.retry
    clock = context.clock
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
        progress.phase = f"dbt {kind} (attempt {number})"
        progress.write_running()
        running = _Running(
            number,
            kind,
            tuple(args),
            delay,
            rerun,
            clock(),
            {name: stamp(target_dir / name) for name in _WATCHED},
        )
        progress.running = running
        returncode = context.run_dbt(args, attempts_dir(target_dir) / str(number) / "dbt.log")
        attempt = _collect(context, progress, running, returncode)
        progress.attempts.append(attempt)
        progress.running = None

        if not attempt.started:
            [failure] = attempt.failures
            if failure.failure_class is not FailureClass.TRANSIENT:
                return "start_failed"
        else:
            last_ran = (attempt.artifacts, stamp(results_path))
            plan = plan_next(attempt.failures)
            if plan.step is NextStep.DONE:
                return "published"
            if plan.step is NextStep.STOP:
                return "nothing_to_retry"
            repeated = repeated_failures(
                [a.failures for a in progress.attempts], policy.repeat_limit
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
                kind, args = _next_args(context, plan, manifest)
            except DbtArgsError as exc:
                progress.notes.append(f"no retry after attempt {number}: {exc}")
                return "dbt_args"
            rerun = plan.nodes
        if number >= policy.max_attempts:
            return "max_attempts"
        uniform = (context.uniform,) if context.uniform else ()
        delay = full_jitter_delay(policy, number, *uniform)
        if clock() - context.started + delay > policy.budget:
            progress.notes.append(
                f"no retry after attempt {number}: a {delay:.1f} s wait would pass the "
                f"{policy.budget:g} s budget"
            )
            return "budget"
        progress.phase = f"waiting {delay:.1f} s before attempt {number + 1}"
        progress.write_running()
        context.sleeper(delay)
        number += 1


def _alert(
    escalations: Sequence[Escalation],
    settings: BuildSettings,
    target_dir: Path,
    *,
    project: str,
    exit_code: int,
    attempts: int,
    invocation_id: str,
    send: bool = True,
) -> Delivery:
    """Send the alerts to the webhook, if any; record everything in ``alerts.json``."""
    alerts = [e for e in escalations if e.alert]
    payload = (
        build_payload(alerts, project=project, exit_code=exit_code, attempts=attempts)
        if alerts
        else None
    )
    url = settings.escalation.webhook_url
    if payload is not None and not send:
        delivery = Delivery(False, False, None, "not sent: the build was interrupted")
    elif payload is not None and url:
        delivery = deliver(url, payload, settings.escalation.webhook_timeout)
    elif payload is not None:
        delivery = Delivery(False, False, None, "no webhook configured")
    else:
        delivery = Delivery(False, False, None, None)
    _write_json(
        sluice_dir(target_dir) / "alerts.json",
        {
            "invocation_id": invocation_id,
            "delivery": asdict(delivery),
            "payload": payload,
            "escalations": [asdict(e) for e in escalations],
        },
    )
    return delivery


def _warehouse_rows(
    build_id: str,
    attempts: Sequence[Attempt],
    escalations: Sequence[Escalation],
    delivery: Delivery,
) -> Any:
    """This run's attempts and alerts as rows of the warehouse's build record."""
    from sluice.warehouse.build_record import BuildRows

    at = datetime.now(UTC).replace(tzinfo=None)
    return BuildRows(
        build_id=build_id,
        attempts=[
            (
                build_id,
                a.number,
                a.kind,
                a.dbt_invocation_id,
                json.dumps(list(a.dbt_args)),
                a.returncode,
                a.started,
                a.interrupted,
                round(a.delay_before, 3),
                round(a.duration_seconds, 3),
                len(a.failures),
                json.dumps(sorted({f.unique_id for f in a.failures})),
                json.dumps(list(a.rerun)),
                at,
            )
            for a in attempts
        ],
        alerts=[
            (
                build_id,
                e.unique_id,
                e.name,
                e.failure_class,
                e.status,
                e.priority,
                e.severity,
                e.criticality,
                e.owner,
                e.owner_basis,
                json.dumps(list(e.exposures)),
                e.action,
                e.rule,
                e.message,
                delivery.attempted,
                delivery.delivered,
                delivery.error,
                at,
            )
            for e in escalations
            if e.alert
        ],
    )


def _record_in_warehouse(shared: _WarehouseAfterDbt, rows: Any) -> str | None:
    """Append this run's attempts and alerts to the warehouse, sealed into the audit trail
    (:mod:`sluice.warehouse.build_record`). Never fails the build: a warehouse that cannot be
    reached or written is returned as a note (the files under ``target/sluice/`` still hold
    the record)."""
    try:
        from sluice.warehouse.build_record import record_build

        record_build(shared.connection(), rows)
    except Exception as exc:  # the record must not change the build's outcome
        shared.recover()
        return f"build record not written to the warehouse: {type(exc).__name__}: {exc}"
    return None


def _write_record(
    progress: _Progress,
    result: BuildResult,
    quarantine: Mapping[str, Any],
    manifest: Manifest,
) -> None:
    """This run's metrics and ``build.json``."""
    write_textfile(
        sluice_dir(result.target_dir) / "sluice.prom",
        _metrics(
            result,
            quarantine,
            manifest,
            duration=progress.clock() - progress.started,
        ),
    )
    _write_json(sluice_dir(result.target_dir) / "build.json", summary(result))


def _write_record_if_possible(
    progress: _Progress, result: BuildResult, manifest: Manifest = _EMPTY_MANIFEST
) -> Path | None:
    """This run's record, after removing the previous run's outputs if that is not done yet;
    the ``build.json`` written, or None when the folder cannot be written."""
    try:
        progress.clear_previous_run()
        _write_record(progress, result, {}, manifest)
    except OSError:
        return None
    return sluice_dir(result.target_dir) / "build.json"


def _record_usage_error(progress: _Progress, message: str) -> BuildResult | None:
    """This run's record of a usage error; None when it could not be written."""
    result = BuildResult(
        exit_code=EXIT_USAGE,
        outcome="usage_error",
        project_dir=progress.project,
        target_dir=progress.target_dir,
        attempts=tuple(progress.attempts),
        failures=(),
        escalations=(),
        alert_delivery=Delivery(False, False),
        stopped_because="usage_error",
        exposure_statuses={},
        exposure_statuses_from="build",
        report=ReportStep(False, "report skipped: usage error"),
        notes=(*progress.notes, message),
        started_at=progress.started_at,
        invocation_id=progress.invocation_id,
        status="usage_error",
    )
    return result if _write_record_if_possible(progress, result) is not None else None


def _exit_code_of(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, Interrupted):
        return exc.exit_code, f"interrupted by {exc}"
    if isinstance(exc, KeyboardInterrupt):
        return 128 + signal.SIGINT, "interrupted by SIGINT"
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else EXIT_FAILED
        return code, f"stopped by SystemExit({exc.code!r})"
    return EXIT_FAILED, f"stopped by {type(exc).__name__}: {exc}"


def _delivery_written(progress: _Progress) -> Delivery | None:
    """The delivery this run already recorded in ``alerts.json`` (interrupted while finishing,
    after the alerts went out), or None."""
    try:
        written = json.loads((sluice_dir(progress.target_dir) / "alerts.json").read_text("utf-8"))
        if written.get("invocation_id") != progress.invocation_id:
            return None
        return Delivery(**written["delivery"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _record_interrupted(progress: _Progress, exc: BaseException) -> Path | None:
    """Write this run's record after an interruption: the attempts so far (the one dbt was
    running included, with what it wrote before it stopped), what failed, the escalations
    (not sent) and the metrics. Returns the ``build.json`` written (None if it could not be).
    Never raises: the interruption goes on."""
    exit_code, why = _exit_code_of(exc)
    status = "interrupted" if not isinstance(exc, Exception) else "error"
    note = f"{why} during {progress.phase}"
    try:
        progress.clear_previous_run()  # interrupted before the build had removed them
        running = progress.running
        if running is not None:
            progress.running = None
            fresh = [
                name
                for name in _WATCHED
                if (now := stamp(progress.target_dir / name)).exists and now != running.before[name]
            ]
            folder = keep_attempt(progress.target_dir, running.number, fresh)
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
        manifest, graph = progress.manifest_and_graph()
        _, final_results, final_failures = _final_view(progress)
        settings = progress.settings or BuildSettings()
        counts = quarantine_counts(final_results) if final_results is not None else {}
        escalations = escalate(
            final_failures,
            manifest,
            graph,
            settings.escalation,
            rule_counts={uid: q.rule_counts for uid, q in counts.items()},
        )
        delivery = _delivery_written(progress)
        if delivery is None:
            delivery = _alert(
                escalations,
                settings,
                progress.target_dir,
                project=manifest.metadata.project_name or progress.project.name,
                exit_code=exit_code,
                attempts=len(progress.attempts),
                invocation_id=progress.invocation_id,
                send=False,
            )
        statuses = _build_statuses(manifest, final_results, final_failures, counts)
    except Exception as problem:  # the record must still be written
        final_failures, escalations, statuses = (), (), {}
        manifest = _EMPTY_MANIFEST
        delivery = Delivery(False, False, None, "not sent: the build was interrupted")
        progress.notes.append(f"the interrupted run could not be summarised fully: {problem}")
    result = BuildResult(
        exit_code=exit_code,
        outcome="interrupted",
        project_dir=progress.project,
        target_dir=progress.target_dir,
        attempts=tuple(progress.attempts),
        failures=final_failures,
        escalations=escalations,
        alert_delivery=delivery,
        stopped_because="interrupted",
        exposure_statuses=statuses,
        exposure_statuses_from="build",
        report=ReportStep(False, "report skipped: the build was interrupted"),
        notes=(*progress.notes, note),
        started_at=progress.started_at,
        invocation_id=progress.invocation_id,
        status=status,
    )
    try:
        return _write_record_if_possible(progress, result, manifest)
    except Exception:
        return None


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
        invocation_id=result.invocation_id,
        status=result.status,
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


def _drop_flag(args: Sequence[str], flag: str) -> list[str]:
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
