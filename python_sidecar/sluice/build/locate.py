"""Finding the project and its target folder as dbt does, before anything is written.

Owns where a build's project and target folder are (``--project-dir``, ``DBT_PROJECT_DIR``,
the working directory; ``--target-path``, ``DBT_TARGET_PATH``, the project's ``target-path``),
with the fallback folder used when the project file cannot be read, and a new build's
:class:`~sluice.build.progress.Progress`. Reads the project; writes nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from sluice.build.layout import sluice_dir
from sluice.build.progress import Clock, Progress
from sluice.build.report_step import report_files
from sluice.build.result import BuildError
from sluice.errors import InputError
from sluice.project import Project, ProjectFlags, load_project
from sluice.project.flags import resolve_project_dir


def find_project(project_dir: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """The project folder: the one given, else ``DBT_PROJECT_DIR``, else the working directory
    or its nearest parent holding a ``dbt_project.yml`` (dbt's precedence)."""
    flags = ProjectFlags(project_dir=Path(project_dir) if project_dir is not None else None)
    return resolve_project_dir(flags, environ, Path.cwd()).resolve()


def target_dir_of(project_dir: Path, dbt_args: Sequence[str], environ: Mapping[str, str]) -> Path:
    """Where dbt writes its artifacts, read as dbt reads it (:mod:`sluice.project`):
    ``--target-path``, ``DBT_TARGET_PATH``, the project's rendered ``target-path``, ``target``."""
    flags = ProjectFlags.from_dbt_args(dbt_args, project_dir=project_dir)
    try:
        return load_project(flags, environ=environ).target_path
    except InputError as exc:
        raise BuildError(str(exc)) from None


def target_dir_given(
    project_dir: Path, dbt_args: Sequence[str], environ: Mapping[str, str]
) -> Path:
    """The target folder without reading the project file (it cannot be read):
    ``--target-path``, ``DBT_TARGET_PATH``, else dbt's default ``target``."""
    flags = ProjectFlags.from_dbt_args(dbt_args, project_dir=project_dir)
    return Project(project_dir, flags, dict(environ), Path.cwd(), {}, {}).target_path


def new_progress(
    project: Path,
    dbt_args: Sequence[str],
    environ: Mapping[str, str],
    *,
    started_at: float,
    clock: Clock,
) -> Progress:
    """A new build's state, with a fresh id and the fallback target folder (until
    :func:`locate` reads the project's own)."""
    target_dir = target_dir_given(project, dbt_args, environ)
    return Progress(
        invocation_id=str(uuid.uuid4()),
        project=project,
        target_dir=target_dir,
        started_at=started_at,
        clock=clock,
        started=clock(),
        report_files=tuple(report_files(sluice_dir(target_dir))),
    )


def locate(
    progress: Progress,
    dbt_args: Sequence[str],
    environ: Mapping[str, str],
    *,
    report: bool,
    report_dir: str | os.PathLike[str] | None,
) -> None:
    """Read the project's target folder into ``progress`` (a :class:`BuildError` when the
    project file cannot be read; ``progress`` keeps the fallback folder then)."""
    progress.target_dir = target_dir_of(progress.project, dbt_args, environ)
    # The report an earlier build left under target/sluice/ goes whether or not this build
    # writes one (an interrupted or --no-report run must not leave it to be read as its own),
    # and so does the one in the report folder this build would write.
    found = report_files(sluice_dir(progress.target_dir))
    if report and report_dir:
        found += report_files(Path(report_dir))
    progress.report_files = tuple(dict.fromkeys(found))
