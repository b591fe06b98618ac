"""An Airflow DAG running `sluice build` (an example; Airflow is not a dependency of sluice).

`sluice build` already retries transient failures inside the task, with backoff and a time
budget, and only the failed part of the project; a warehouse that cannot be reached when dbt
starts (refused connections, a login timeout, a locked DuckDB file) is one of them. So the task
maps exit codes instead of retrying blindly:

* 0 - published: the task succeeds;
* 3 - transient failures left after the budget (the warehouse still unreachable, a lock still
  held, a timeout that repeated identically): let Airflow retry the task later;
* 1 - publication held (data quality or a structural failure, or dbt refused for a
  non-transient reason such as a missing role): fail without Airflow retries, the owners have
  been alerted and retrying would repeat the same error;
* 2 - usage or configuration error, or dbt failing before its first node for a reason no
  pattern knows (raised as ``sluice.BuildError``): fail without retries.

When Airflow stops the task (a timeout, a mark-failed, a worker shutdown) it sends SIGTERM and
its own handler raises inside ``sluice.build()``: sluice asks dbt to cancel its queries (then
kills it after ``stop_timeout`` seconds, kept below Airflow's ``killed_task_cleanup_time``,
60 s by default), writes the run's record as interrupted, and lets Airflow's exception go on.

Set SLUICE_WEBHOOK_URL from an Airflow connection or secret backend, not in this file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.decorators import dag, task
from airflow.exceptions import AirflowException, AirflowFailException

DBT_PROJECT = Path("/opt/analytics/dbt_project")

EXIT_OK, EXIT_HELD, EXIT_TRANSIENT = 0, 1, 3


@dag(
    schedule="0 6 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=20)},
    tags=["dbt", "sluice"],
)
def analytics_build() -> None:
    @task(execution_timeout=timedelta(hours=2))
    def sluice_build() -> dict[str, object]:
        import sluice  # imported in the worker, not when the scheduler parses the DAG

        try:
            result = sluice.build(
                DBT_PROJECT,
                ["--target", "prod"],
                max_attempts=4,
                budget=45 * 60,
                stop_timeout=45,
            )
        except sluice.BuildError as exc:  # exit code 2: retrying would not help
            raise AirflowFailException(f"sluice build could not run dbt: {exc}") from exc

        summary = {
            "exit_code": result.exit_code,
            "invocation_id": result.invocation_id,
            "attempts": len(result.attempts),
            "exposures": dict(result.exposure_statuses),
            "alerts": [
                {"node": e.name, "owner": e.owner, "priority": e.priority, "next": e.action}
                for e in result.alerts
            ],
        }
        if result.exit_code == EXIT_OK:
            return summary
        if result.exit_code == EXIT_TRANSIENT:
            raise AirflowException(f"transient failures left, retrying later: {summary}")
        if result.exit_code == EXIT_HELD:
            raise AirflowFailException(f"publication held, owners alerted: {summary}")
        raise AirflowFailException(f"sluice build ended with {result.exit_code}: {summary}")

    sluice_build()


analytics_build()
