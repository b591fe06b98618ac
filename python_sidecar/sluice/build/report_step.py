"""The report step: the report's inputs and output after dbt, and the exposures' statuses.

Owns what the build does with :mod:`sluice.report` (imported only here, never at import time:
its modules load while dbt runs, :func:`preload`), the one connection to the warehouse the steps
after dbt share (:class:`WarehouseAfterDbt`), and the exposure statuses a build records
(the report's, else the same rule over this build's results). A failing report step never
changes the build's outcome: it is returned as a note. Writes no record file.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluice.artifacts import Artifacts, Manifest, RunResults
from sluice.build.result import ReportStep
from sluice.classify.model import Failure
from sluice.classify.patterns import builtin_patterns
from sluice.classify.startup import INVOCATION_TYPE
from sluice.destinations import REPORT_FILES
from sluice.errors import FileNotWritten
from sluice.project import Project, ProjectFlags, load_project


class WarehouseAfterDbt:
    """The project (read once) and one connection to its warehouse for what the build does
    after dbt: the report's reads, its tables and this run's record (each connection to a
    DuckDB file costs opening it and a checkpoint on closing). Connected on first use; a step
    that fails is rolled back for the next, and reports its own failure as a note."""

    def __init__(
        self, project_dir: Path, dbt_args: Sequence[str], environ: Mapping[str, str]
    ) -> None:
        self._project_dir = project_dir
        self._dbt_args = dbt_args
        self._environ = environ
        self._stack = contextlib.ExitStack()
        self._project: Project | None = None
        self._connection: Any = None

    def __enter__(self) -> WarehouseAfterDbt:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):  # closing must not change the build's outcome
            self._stack.close()

    def project(self) -> Project:
        if self._project is None:
            flags = ProjectFlags.from_dbt_args(self._dbt_args, project_dir=self._project_dir)
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


def preload(
    report: bool,
    warehouse_of: Path | None = None,
    dbt_args: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> None:
    """Compile the pattern table, load dbt's adapter and the report's modules (run in a
    thread while dbt runs: the build only waits for dbt meanwhile)."""
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


def report_files(output_dir: Path) -> list[Path]:
    """The files the report step writes into ``output_dir`` (named without loading the report's
    modules: this runs before dbt starts)."""
    return [output_dir / name for name in REPORT_FILES.values()]


def report_inputs(
    shared: WarehouseAfterDbt, artifacts: Artifacts, *, warehouse: bool
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
    shared: WarehouseAfterDbt,
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
    except FileNotWritten as exc:  # a full disk: the build stops as for its own files
        shared.recover()
        raise exc.error from None
    except Exception as exc:  # the report must not change the build's outcome
        shared.recover()
        return ReportStep(False, f"report failed: {type(exc).__name__}: {exc}")
    return ReportStep(True, None, result)


def build_statuses(
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


def report_statuses(result: Any) -> dict[str, str] | None:
    """The exposure statuses in the report's result, or None when it has none."""
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
