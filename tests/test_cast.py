"""sluice.cast: a value that does not cast is quarantined with its raw text as evidence, in a
model that casts (the usual staging pattern), without the model failing and without a second
raw column written by hand; the raw column is never published."""

from __future__ import annotations

import json

from tests.dbt_harness import SNOWFLAKE_TOO

MODEL = """
select order_id, {{ sluice.cast('order_date', 'date') }}, {{ sluice.cast('amount', dbt.type_numeric(), alias='amount_value') }}
from {{ ref('raw_orders') }}
"""

SCHEMA = """
seeds:
  - name: raw_orders
    config: {column_types: {order_id: integer, order_date: varchar(20), amount: varchar(20)}}
models:
  - name: orders
    config:
      materialized: sluice
      meta: {sluice: {key: order_id, gate: {high: none}}}
"""


@SNOWFLAKE_TOO
def test_a_value_that_does_not_cast_is_held_with_its_raw_text(make_project, engine):
    project = make_project(engine)
    project.write(
        "seeds/raw_orders.csv",
        "order_id,order_date,amount\n1,2019-02-28,10.5\n2,2019-02-30,20\n3,2019-03-01,lots\n4,,7\n",
    )
    project.write("models/orders.sql", MODEL)
    project.write("models/schema.yml", SCHEMA)
    project.dbt("build")

    held = project.query(
        "select record_key, rule_name, error_class, failed_value, row_json "
        "from {schema}.orders__quarantine order by record_key"
    )
    assert [row[:4] for row in held] == [
        ("[2]", "sluice_cast_order_date", "schema_violation", "2019-02-30"),
        ("[3]", "sluice_cast_amount_value", "schema_violation", "lots"),
    ]
    evidence = {k.lower(): v for k, v in json.loads(held[0][4]).items()}
    assert evidence["order_date__sluice_raw"] == "2019-02-30"
    # the published relation: the rows that cast (a NULL stays a NULL), typed, no raw column
    published = project.query("select order_id, order_date from {schema}.orders order by 1")
    assert [(r[0], None if r[1] is None else str(r[1])[:10]) for r in published] == [
        (1, "2019-02-28"),
        (4, None),
    ]
    columns = {
        c[0].lower()
        for c in project.query(
            "select column_name from information_schema.columns "
            "where lower(table_name) = 'orders' and lower(table_schema) = lower('{schema}')"
        )
    }
    assert columns == {"order_id", "order_date", "amount_value"}

    # fixed at the source: recovered and published
    project.execute("update {schema}.raw_orders set order_date = '2019-02-27' where order_id = 2")
    project.dbt("run", "-s", "orders")
    assert project.query(
        "select record_key, status from {schema}.orders__quarantine order by record_key"
    ) == [("[2]", "recovered"), ("[3]", "open")]
    assert [r[0] for r in project.query("select order_id from {schema}.orders order by 1")] == [
        1,
        2,
        4,
    ]


def test_an_incremental_model_casts_each_batch_and_never_publishes_the_raw_column(
    make_project, engine
):
    project = make_project(engine)
    project.write(
        "seeds/raw_orders.csv", "order_id,order_date,amount\n1,2019-02-28,1\n2,2019-02-30,2\n"
    )
    project.write(
        "models/orders.sql",
        """
        select order_id, {{ sluice.cast('order_date', 'date') }}, amount from {{ ref('raw_orders') }}
        {% if sluice.is_incremental() %}
        where {{ sluice.batch_filter("order_id > (select max(order_id) from " ~ this ~ ")") }}
        {% endif %}
        """,
    )
    project.write(
        "models/schema.yml",
        SCHEMA.replace("gate: {high: none}", "gate: {high: none}, incremental: true"),
    )
    project.dbt("build")
    project.execute(
        "insert into {schema}.raw_orders values (3, '2019-13-01', '3'), (4, '2019-04-01', '4')"
    )
    project.execute("update {schema}.raw_orders set order_date = '2019-02-01' where order_id = 2")
    project.dbt("run", "-s", "orders")
    assert [r[0] for r in project.query("select order_id from {schema}.orders order by 1")] == [
        1,
        2,
        4,
    ]
    assert project.query(
        "select record_key, status, failed_value from {schema}.orders__quarantine order by 1"
    ) == [("[2]", "recovered", "2019-02-30"), ("[3]", "open", "2019-13-01")]
