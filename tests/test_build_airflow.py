"""The Airflow example (docs/airflow_dag.py) maps each exit code to the right task outcome.

Airflow is not a dependency of sluice: the few names the example imports are stood in for, with
Airflow's own rule that AirflowFailException (no retries) is an AirflowException (retried).
The build's results are real `BuildResult`s with each exit code.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest
import sluice
from sluice.build import BuildError, BuildResult, ReportStep
from sluice.escalate.webhook import Delivery

DAG_FILE = Path(__file__).resolve().parents[1] / "docs" / "airflow_dag.py"


class AirflowException(Exception):
    """Airflow retries the task (within its `retries`)."""


class AirflowFailException(AirflowException):
    """Airflow fails the task without retrying it."""


@pytest.fixture
def task(monkeypatch: pytest.MonkeyPatch):
    tasks: dict[str, object] = {}

    def dag(**kwargs):
        def wrap(function):
            return function

        return wrap

    def task_decorator(*args, **kwargs):
        def wrap(function):
            tasks[function.__name__] = function
            return lambda *a, **k: None  # calling a task in a DAG only declares it

        return wrap(args[0]) if args and callable(args[0]) else wrap

    decorators = types.ModuleType("airflow.decorators")
    decorators.dag = dag
    decorators.task = task_decorator
    exceptions = types.ModuleType("airflow.exceptions")
    exceptions.AirflowException = AirflowException
    exceptions.AirflowFailException = AirflowFailException
    monkeypatch.setitem(sys.modules, "airflow", types.ModuleType("airflow"))
    monkeypatch.setitem(sys.modules, "airflow.decorators", decorators)
    monkeypatch.setitem(sys.modules, "airflow.exceptions", exceptions)
    spec = importlib.util.spec_from_file_location("airflow_dag_example", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tasks["sluice_build"]


def result(exit_code: int) -> BuildResult:
    return BuildResult(
        exit_code=exit_code,
        outcome="x",
        project_dir=Path("."),
        target_dir=Path("target"),
        attempts=(),
        failures=(),
        escalations=(),
        alert_delivery=Delivery(False, False),
        stopped_because="x",
        exposure_statuses={},
        exposure_statuses_from="build",
        report=ReportStep(False),
    )


@pytest.mark.parametrize(
    ("exit_code", "outcome"),
    [(0, None), (3, AirflowException), (1, AirflowFailException), (2, AirflowFailException)],
)
def test_exit_codes_map_to_retry_or_fail(task, monkeypatch, exit_code, outcome):
    def fake_build(*args, **kwargs):
        if exit_code == 2:
            raise BuildError("dbt build exited 2 and wrote no run results", result(2))
        return result(exit_code)

    monkeypatch.setattr(sluice, "build", fake_build)
    if outcome is None:
        assert task()["exit_code"] == 0
        return
    with pytest.raises(AirflowException) as caught:
        task()
    # exit 3 is retried later: never the no-retry kind; 1 and 2 are never retried
    assert type(caught.value) is outcome
