"""An Airflow DAG running `sluice build` (an example; Airflow is not a dependency of sluice).

`sluice build` already retries transient failures inside the task, with backoff and a time
budget, and only the failed part of the project. So the task maps exit codes instead of
retrying blindly:

* 0 - published: the task succeeds;
* 1 - publication held (data quality or a structural failure): fail without Airflow retries,
  the owners have been alerted and retrying would repeat the same error;
* 3 - transient failures left after the budget: let Airflow retry the task later;
* 2 - usage or configuration error: fail without retries.

Set SLUICE_WEBHOOK_URL from an Airflow connection or secret backend, not in this file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.decorators import dag, task
from airflow.exceptions import AirflowException, AirflowFailException

DBT_PROJECT = Path("/opt/analytics/dbt_project")


@dag(
    schedule="0 6 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=20)},
    tags=["dbt", "sluice"],
)
def analytics_build() -> None:
    @task
    def sluice_build() -> dict[str, object]:
        import sluice  # imported in the worker, not when the scheduler parses the DAG

        try:
            result = sluice.build(
                DBT_PROJECT,
                ["--target", "prod"],
                max_attempts=4,
                budget=45 * 60,
            )
        except sluice.BuildError as exc:  # exit code 2
            raise AirflowFailException(f"sluice build could not start: {exc}") from exc

        summary = {
            "exit_code": result.exit_code,
            "attempts": len(result.attempts),
            "exposures": dict(result.exposure_statuses),
            "alerts": [
                {"node": e.name, "owner": e.owner, "priority": e.priority}
                for e in result.alerts
            ],
        }
        if result.exit_code == 3:
            raise AirflowException(f"transient failures left, retrying later: {summary}")
        if result.exit_code != 0:
            raise AirflowFailException(f"publication held, owners alerted: {summary}")
        return summary

    sluice_build()


analytics_build()
