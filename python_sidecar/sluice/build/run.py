"""``build()``: one ``sluice build`` from the arguments to its result, whatever way it ends.

Owns the build's entry and its ways out: the project located and the arguments checked before
anything runs (a :class:`~sluice.build.result.BuildError` for a usage error, after this run's
record is written), the settings resolved, dbt's runner chosen, the modules needed after dbt
warmed while dbt runs, then the attempt loop (:mod:`sluice.build.attempts`) and the steps after
it (:mod:`sluice.build.finish`); an exception that interrupts the build has the run's record
written (:mod:`sluice.build.record`) and goes on. It only wires the rooms of ``sluice.build``
together: what each step does is theirs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sluice.build.attempts import run_attempts
from sluice.build.dbt_process import DbtRunner, find_dbt, subprocess_runner
from sluice.build.finish import Outputs, finish
from sluice.build.layout import sluice_dir
from sluice.build.locate import find_project, locate, new_progress
from sluice.build.lock import acquire
from sluice.build.progress import Clock, Context, Progress, Sleeper
from sluice.build.record import (
    describe_os_error,
    record_interrupted,
    record_usage_error_of,
    write_running,
)
from sluice.build.record_warehouse import warehouse_recorder
from sluice.build.report_step import preload, report_files
from sluice.build.result import (
    EXIT_USAGE,
    BuildBusy,
    BuildError,
    BuildResult,
    Interrupted,
    TrailChanged,
    WriteFailed,
)
from sluice.build.retention_step import retention_at_build_end
from sluice.build.trail import check_before_build
from sluice.destinations import REPORT_FORMATS, check_writable
from sluice.errors import InputError
from sluice.escalate.webhook import validate_url
from sluice.project import Project
from sluice.retry.config import BuildSettings, ConfigError, resolve_settings
from sluice.retry.dbt_args import flag_value, without_separators


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
    wait_for_lock: float = 0.0,
    notify: Callable[[str], None] | None = None,
) -> BuildResult:
    """Run ``dbt build`` for the project with ``dbt_args``; retry transient failures; escalate.

    The project is ``project_dir``, else the ``--project-dir`` among ``dbt_args``, else
    ``DBT_PROJECT_DIR``, else the working directory or its nearest parent holding a
    ``dbt_project.yml`` (dbt's precedence, :mod:`sluice.project`). Arguments left as None come
    from the environment (``SLUICE_*``), then ``[tool.sluice]`` in the project's
    ``pyproject.toml``, then the defaults (numbers may be given as text, as on the command
    line). ``sleeper``, ``clock`` and ``uniform`` (a number in [0, 1) for the jitter) are
    injectable for tests. dbt's output is kept in ``target/sluice/attempts/<n>/dbt.log``; it
    also goes to ``sys.stdout`` unless ``log_dbt_output``.

    Every way out writes this run's ``build.json`` and ``sluice.prom`` (marked with
    ``invocation_id``) once the project is found, after removing the previous run's: under the
    project's target folder, or, when its ``dbt_project.yml`` cannot be read, under
    ``--target-path``, ``DBT_TARGET_PATH`` or ``target``. Nothing is written where the target
    folder cannot be written. Raises :class:`BuildError` for usage and configuration errors
    and when dbt cannot start for a reason that is not transient; an exception that interrupts
    the build (:class:`Interrupted`, ``KeyboardInterrupt``, ...) stops dbt and goes on; a
    file that cannot be written (``OSError``: a full disk) stops dbt, records what it can and
    raises :class:`WriteFailed`.

    One build per target folder at a time (:mod:`sluice.build.lock`): another build's lock,
    or the dbt a killed build left running there, is waited for up to ``wait_for_lock``
    seconds, then :class:`BuildBusy` is raised and nothing is written. ``notify`` is told what
    a killed build left behind, and that the build waits, when it happens.
    """
    settings = {
        "max_attempts": max_attempts,
        "base_delay": base_delay,
        "max_delay": max_delay,
        "budget": budget,
        "repeat_limit": repeat_limit,
        "stop_timeout": stop_timeout,
        "alert_min_priority": alert_min_priority,
    }
    request = _Request(
        settings, report, report_formats, report_dir, warehouse, runner, dbt_executable,
        log_dbt_output, wait_for_lock, notify or _ignore,
    )  # fmt: skip
    return _build(project_dir, dbt_args, environ, request, (sleeper, clock, uniform))


@dataclass(frozen=True, slots=True)
class _Request:
    """What the caller of :func:`build` asked for (the injected clock and sleeper aside)."""

    settings: dict[str, Any]
    """The settings given as arguments; None where the environment or the project decide."""
    report: bool
    report_formats: Sequence[str]
    report_dir: str | os.PathLike[str] | None
    warehouse: bool
    runner: DbtRunner | None
    dbt_executable: str | None
    log_dbt_output: bool
    wait_for_lock: float
    notify: Callable[[str], None]


_Timing = tuple[Sleeper, Clock, Callable[[], float] | None]


def _build(
    project_dir: str | os.PathLike[str] | None,
    dbt_args: Sequence[str],
    environ: Mapping[str, str] | None,
    request: _Request,
    timing: _Timing,
) -> BuildResult:
    """Find the project, then build it; every way out once it is found writes the record."""
    started_wall = time.time()
    env = os.environ if environ is None else environ
    passthrough = without_separators(dbt_args)
    given_project = flag_value(passthrough, "--project-dir")
    project = find_project(project_dir if project_dir is not None else given_project, env)
    if not (project / "dbt_project.yml").exists():
        raise BuildError(f"{project} is not a dbt project (no dbt_project.yml)")
    progress = new_progress(project, passthrough, env, started_at=started_wall, clock=timing[1])
    if request.report and request.report_dir:
        chosen = report_files(Path(request.report_dir))
        progress.report_files = tuple(dict.fromkeys([*progress.report_files, *chosen]))
    # From here on every way out, a signal included, writes this run's record; the lock of
    # the target folder is held until it is written.
    try:
        result = _started(progress, passthrough, given_project, env, request, timing)
    except (BuildBusy, TrailChanged):
        raise  # another build's, or a trail that lost history: nothing of this run is written
    except BuildError as exc:
        if exc.result is None:
            exc.result = record_usage_error_of(progress, str(exc))
        raise
    except BaseException as exc:
        # interrupted while the project file was read: the record goes to the fallback folder
        if isinstance(exc, Interrupted):
            exc.dbt_stopped = progress.running is not None
        recorded = record_interrupted(progress, exc)
        if isinstance(exc, Interrupted):
            exc.recorded = recorded
        if isinstance(exc, OSError):  # a full disk, a quota: exit 5, not a traceback
            raise WriteFailed(describe_os_error(exc), recorded) from exc
        raise
    finally:
        progress.release()
    return _raise_if_not_started(result)


def _started(
    progress: Progress,
    passthrough: Sequence[str],
    given_project: str | None,
    env: Mapping[str, str],
    request: _Request,
    timing: _Timing,
) -> BuildResult:
    """The build once its project is found: check, configure, run dbt, finish."""
    output_dir = _prepare(progress, passthrough, env, request, timing)
    passthrough = _checked_args(passthrough, given_project, progress.project)
    _check_formats(request.report_formats)
    settings = _settings(progress.project, request.settings, env)
    _check_alert_settings(progress.project, passthrough, env)
    _check_retention_settings(progress.project, passthrough, env)
    progress.settings = settings
    run_dbt = request.runner or subprocess_runner(
        find_dbt(request.dbt_executable),
        echo=not request.log_dbt_output,
        stop_timeout=settings.stop_timeout,
        on_start=lambda pid: _dbt_started(progress, pid),
    )
    sleeper, clock, uniform = timing
    context = Context(
        project=progress.project,
        passthrough=tuple(passthrough),
        settings=settings,
        target_dir=progress.target_dir,
        run_dbt=run_dbt,
        sleeper=sleeper,
        clock=clock,
        uniform=uniform,
        started=progress.started,
    )
    outputs = Outputs(request.report, request.report_formats, output_dir, request.warehouse, env)
    if request.warehouse:
        progress.record_in_warehouse = warehouse_recorder(context.project, context.passthrough, env)
    return _run(context, progress, outputs)


def _prepare(
    progress: Progress,
    dbt_args: Sequence[str],
    environ: Mapping[str, str],
    request: _Request,
    timing: _Timing,
) -> Path:
    """Find the target folder, check that it (and the report's folder) can be written, take
    its lock, and replace the previous run's record with this run's, ``running``. Returns the
    report's folder."""
    report, report_dir = request.report, request.report_dir
    locate(progress, dbt_args, environ, report=report, report_dir=report_dir)
    output_dir = Path(report_dir) if report_dir else sluice_dir(progress.target_dir)
    try:  # before anything is written: a folder that cannot be written is a usage error
        check_writable(sluice_dir(progress.target_dir), "build record")
        if report:
            check_writable(output_dir, "report")
    except InputError as exc:
        raise BuildError(str(exc)) from None
    progress.lock = acquire(
        progress.target_dir,
        wait=request.wait_for_lock,
        invocation_id=progress.invocation_id,
        started_at=progress.started_at,
        notify=lambda message: _notice(progress, request, message),
    )
    if request.warehouse:  # before anything of this run is written
        note = check_before_build(progress.project, dbt_args, environ, progress.target_dir)
        if note:
            progress.notes.append(note)
    progress.clear_previous_run()
    write_running(progress)
    return output_dir


def _notice(progress: Progress, request: _Request, message: str) -> None:
    """What the lock found (a killed build, a wait): told now, and kept in this run's notes."""
    progress.notes.append(message)
    request.notify(message)


def _dbt_started(progress: Progress, pid: int) -> None:
    """dbt runs: its pid goes into the running record, so a build that finds this one killed
    knows which dbt it left behind."""
    progress.dbt_pid = pid
    write_running(progress)


def _ignore(message: str) -> None:
    """No one to tell (a caller of :func:`build` that did not ask)."""


def _checked_args(
    dbt_args: Sequence[str], given_project: str | None, project: Path
) -> Sequence[str]:
    """dbt's arguments without ``--project-dir`` (each attempt gives its own)."""
    if given_project is None:
        return dbt_args
    if Path(given_project).resolve() != project:
        raise BuildError("--project-dir is given twice with different folders")
    return _drop_flag(dbt_args, "--project-dir")


def _check_formats(report_formats: Sequence[str]) -> None:
    unknown_formats = sorted(set(report_formats) - set(REPORT_FORMATS))
    if unknown_formats:
        raise BuildError(
            f"unknown report format(s) {', '.join(unknown_formats)}: "
            f"choose from {', '.join(REPORT_FORMATS)}"
        )


def _settings(project: Path, flags: dict[str, Any], environ: Mapping[str, str]) -> BuildSettings:
    """The build's settings (arguments, ``SLUICE_*``, ``[tool.sluice]``, defaults); a malformed
    webhook URL stops the build before dbt runs, without echoing the URL."""
    try:
        settings = resolve_settings(project, flags, environ)
    except ConfigError as exc:
        raise BuildError(str(exc)) from None
    try:
        origin = (
            "SLUICE_WEBHOOK_URL"
            if environ.get("SLUICE_WEBHOOK_URL", "").strip()
            else f"{project / 'pyproject.toml'} [tool.sluice.escalate] webhook_url"
        )
        validate_url(settings.escalation.webhook_url, origin)
    except InputError as exc:
        raise BuildError(str(exc)) from None
    return settings


def _project_for_settings(
    project: Path, dbt_args: Sequence[str], environ: Mapping[str, str]
) -> Project | None:
    """The project as dbt will read it, for the settings checked before dbt runs; None when
    it cannot be read (dbt reports that itself)."""
    from sluice.project import ProjectFlags, load_project

    try:
        flags = ProjectFlags.from_dbt_args(dbt_args, project_dir=project)
        return load_project(flags, environ=environ)
    except Exception:  # a project or var dbt cannot read either: dbt reports it
        return None


def _check_alert_settings(
    project: Path, dbt_args: Sequence[str], environ: Mapping[str, str]
) -> None:
    """The var ``sluice_alerts`` checked before dbt runs: a malformed one stops the build
    (exit 2) naming the key; ``meta.sluice.alerts`` is checked when dbt compiles the model."""
    from sluice.escalate.trends import AlertSettingError, project_rules

    loaded = _project_for_settings(project, dbt_args, environ)
    if loaded is None:
        return
    try:
        project_rules(loaded.var("sluice_alerts", None))
    except AlertSettingError as exc:
        raise BuildError(str(exc)) from None


def _check_retention_settings(
    project: Path, dbt_args: Sequence[str], environ: Mapping[str, str]
) -> None:
    """The var ``sluice_retention`` checked before dbt runs: a malformed one stops the build
    (exit 2) naming the key; ``meta.sluice.retention`` is read after dbt, from the manifest."""
    loaded = _project_for_settings(project, dbt_args, environ)
    if loaded is None:
        return
    try:
        retention_at_build_end(loaded)
    except InputError as exc:
        raise BuildError(str(exc)) from None


def _run(context: Context, progress: Progress, outputs: Outputs) -> BuildResult:
    """The attempts, then the steps after dbt. The pattern table compiles, and the report's
    modules load, while dbt runs: this process only waits for dbt meanwhile."""
    warm = threading.Thread(
        target=preload,
        args=(
            outputs.report,
            context.project if outputs.warehouse else None,
            context.passthrough,
            outputs.environ,
        ),
        daemon=True,
    )
    warm.start()
    try:
        stopped = run_attempts(context, progress)
    finally:
        warm.join()  # never leave the thread behind, not even on an error
    progress.phase = "finishing"
    return finish(context, progress, stopped, outputs)


def _raise_if_not_started(result: BuildResult) -> BuildResult:
    """The result, or a :class:`BuildError` carrying it when dbt could not start."""
    if result.exit_code != EXIT_USAGE:
        return result
    last = result.attempts[-1]
    [start_failure] = last.failures
    raise BuildError(
        f"dbt {last.kind} exited {last.returncode} and wrote no run results of any node: "
        f"{_headline(start_failure.message)}",
        result,
    )


def _headline(text: str) -> str:
    """dbt's error in one line: its first line, and the line that says what is wrong when the
    first is only a heading (``Compilation Error``, ``Compilation Error in model x (path)``,
    then the package's ``sluice: model 'orders', key '...': ...``)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0]
    heading = ":" not in first or first.endswith(")")
    if heading and len(lines) > 1 and not lines[1].startswith(">"):
        return f"{first}: {lines[1]}"
    return first


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
