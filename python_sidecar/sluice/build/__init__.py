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

The room's files, each owning one concern (see ``docs/architecture.md``): ``run`` (the entry
and its ways out), ``attempts`` (the attempt loop and its decisions), ``dbt_process``
(supervising one dbt process), ``artifacts`` (each attempt's artifacts and the merged view),
``finish`` (the steps after dbt), ``alerts``, ``report_step``, ``record`` and
``record_warehouse`` (the build record in all its forms), ``result`` (the public types),
``progress``, ``locate`` and ``layout``. This module only re-exports the public names.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from sluice.build.dbt_process import DbtRunner, find_dbt, subprocess_runner
from sluice.build.locate import target_dir_of
from sluice.build.record import record_usage_error, summary
from sluice.build.report_step import report_inputs, run_report
from sluice.build.result import (
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_RETENTION_FAILED,
    EXIT_TRAIL_CHANGED,
    EXIT_TRANSIENT,
    EXIT_USAGE,
    EXIT_WRITE_FAILED,
    Attempt,
    BuildBusy,
    BuildError,
    BuildResult,
    Interrupted,
    ReportStep,
    RetentionStep,
    TrailChanged,
    WriteFailed,
    decide_exit_code,
)
from sluice.build.run import build

__all__ = [
    "EXIT_BUSY",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_RETENTION_FAILED",
    "EXIT_TRAIL_CHANGED",
    "EXIT_TRANSIENT",
    "EXIT_USAGE",
    "EXIT_WRITE_FAILED",
    "Attempt",
    "BuildBusy",
    "BuildError",
    "BuildResult",
    "DbtRunner",
    "Interrupted",
    "ReportStep",
    "RetentionStep",
    "TrailChanged",
    "WriteFailed",
    "build",
    "decide_exit_code",
    "find_dbt",
    "record_usage_error",
    "report_inputs",
    "run_report",
    "subprocess_runner",
    "summary",
    "target_dir_of",
]


class _CallableModule(types.ModuleType):
    """Keeps ``sluice.build(...)`` working after ``import sluice.build`` has bound the module
    (rather than the function) to the package's ``build`` attribute."""

    def __call__(self, *args: Any, **kwargs: Any) -> BuildResult:
        return build(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
