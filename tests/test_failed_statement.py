"""A build whose SQL fails inside its transaction leaves nothing behind, not even for the next
model dbt builds on the same connection.

On Snowflake the package runs its own transaction (`begin transaction` ... `commit`): dbt does
not know it is open, and a failed statement does not end it. dbt-snowflake keeps a thread's
connection for its next node (`reuse_connections`), so without a rollback the next model's
first DDL statement would commit what the failed build had done so far, here a reviewer's
decision applied. The emulator keeps the failed transaction open and refuses every statement
until a rollback: there, the next model would fail instead."""

from __future__ import annotations

import json
import uuid

from tests.dbt_harness import SNOWFLAKE_TOO

SCHEMA = """
version: 2
models:
  - name: a_orders
    config:
      materialized: sluice
      meta: {{sluice: {{key: order_id}}}}
    columns:
      - name: status
        data_tests:
          - sluice.sluice_accepted_values:
              name: a_status_known
              arguments: {{values: [paid]}}
{extra}
  - name: b_orders
    config:
      materialized: sluice
      meta: {{sluice: {{key: order_id}}}}
    columns:
      - name: status
        data_tests:
          - sluice.sluice_not_null: {{name: b_status_required, arguments: {{}}}}
"""
# evaluated on every row while the audit runs: 'paid' is no number, and the engine raises
RAISING = """          - sluice.sluice_expression:
              name: a_status_numeric
              arguments: {expression: "cast(status as integer) > 0"}"""


@SNOWFLAKE_TOO
def test_a_failed_statement_in_the_transaction_is_rolled_back_before_the_next_model(
    make_project, engine
):
    project = make_project(engine)
    project.write("seeds/raw_orders.csv", "order_id,status\n1,paid\n2,weird\n")
    for name in ("a_orders", "b_orders"):
        project.write(f"models/{name}.sql", "select * from {{ ref('raw_orders') }}\n")
    project.write("models/schema.yml", SCHEMA.format(extra=""))
    project.dbt("build", "--threads", "1")
    held = project.query(
        "select exception_id, status from {schema}.a_orders__quarantine where record_key = '[2]'"
    )
    assert [status for _, status in held] == ["open"]

    # a reviewer releases the held row; the next build applies the release, then its audit fails
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
        "decision, decided_by, decided_at, reason) values "
        f"('{uuid.uuid4().hex}', '{held[0][0]}', 'model.sluice_test.a_orders', 'release', "
        "'ana@finance', cast(current_timestamp as timestamp), 'checked with the ERP team')"
    )
    project.write("models/schema.yml", SCHEMA.format(extra=RAISING))
    result = project.dbt("run", "--threads", "1", expect=1)
    statuses = {
        r["unique_id"].split(".")[-1]: r["status"]
        for r in json.loads((project.root / "target" / "run_results.json").read_text())["results"]
        if r["unique_id"].startswith("model.")
    }
    assert statuses == {"a_orders": "error", "b_orders": "success"}, result.output[-4000:]
    order = [line for line in result.output.splitlines() if " START " in line and "_orders" in line]
    assert "a_orders" in order[0] and "b_orders" in order[1], order

    # nothing of the failed build stands: the release was not applied, nor recorded
    assert project.query(
        "select status from {schema}.a_orders__quarantine where record_key = '[2]'"
    ) == [("open",)]
    assert project.query(
        "select count(*) from {schema}.sluice_exception_events where event_type = 'decided'"
    ) == [(0,)]
    assert project.query(
        "select count(*) from {schema}.sluice_runs where model_name = 'a_orders'"
    ) == [(1,)]
