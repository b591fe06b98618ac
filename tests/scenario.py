"""A small integration scenario shared by the dbt-side tests: ERP orders checked against CRM
customers, with one injected fault per error class and one rule per route."""

from __future__ import annotations

from sluice.audit.chain import redaction_marker

from tests.dbt_harness import DbtProject

ORDERS_HEADER = "order_id,customer_id,status,amount,order_date,loaded_at"
# key -> row; the comments say which rule each fault breaks.
GOOD_ORDERS = [
    "1,C1,paid,10.5,2024-01-01,2024-01-01 10:00:00",
    "5,C1,paid,7,2024-01-05,2024-01-01 10:00:00",
    "6,C2,open,12,2024-01-06,2024-01-01 10:00:00",
]
FAULTY_ORDERS = [
    "2,,paid,20,2024-01-02,2024-01-01 10:00:00",  # missing_required_field (quarantine)
    "3,C2,weird,30,2024-01-03,2024-01-01 10:00:00",  # invalid_value (quarantine)
    "4,C9,paid,40,2024-01-04,2024-01-01 10:00:00",  # reference_mismatch (manual_review)
    "7,C1,paid,15,2024-13-07,2024-01-01 10:00:00",  # schema_violation (quarantine)
    "5,C1,paid,7,2024-01-05,2024-01-01 11:00:00",  # duplicate_event of 5 (deduplicate)
    "8,C2,paid,-3,2024-01-08,2024-01-01 10:00:00",  # business_rule_violation (flag: published)
]
CUSTOMERS = "customer_id,name\nC1,Ann\nC2,Bo\n"

RULES = {
    "orders_customer_required": ("missing_required_field", "quarantine", "[2]", 1),
    "orders_status_known": ("invalid_value", "quarantine", "[3]", 1),
    "orders_customer_exists": ("reference_mismatch", "manual_review", "[4]", 1),
    "orders_date_readable": ("schema_violation", "quarantine", "[7]", 1),
    "orders_event_unique": ("duplicate_event", "deduplicate", "[5]", 2),
    "orders_amount_positive": ("business_rule_violation", "flag", "[8]", 1),
}
PUBLISHED_KEYS = {1, 5, 6, 8}


def schema_yml(
    gate: str = "{critical: 0, high: 5, medium: 5}",
    required_severity: str = "high",
    extra_meta: str = "",
) -> str:
    return f"""
        seeds:
          - name: raw_orders
            config:
              column_types: {{order_id: integer, customer_id: varchar(20), status: varchar(20), amount: 'numeric(10,2)', order_date: varchar(20), loaded_at: timestamp}}
        models:
          - name: orders
            config:
              materialized: sluice
              meta:
                sluice:
                  key: order_id
                  source_system: erp
                  target_system: finance_dw
                  owner: erp-team
                  gate: {gate}
                  {extra_meta}
            data_tests:
              - sluice.sluice_expression:
                  name: orders_amount_positive
                  arguments:
                    expression: amount >= 0
                    route: flag
                    sluice_severity: low
            columns:
              - name: order_id
                data_tests:
                  - sluice.sluice_unique:
                      name: orders_event_unique
                      arguments:
                        order_by: loaded_at
              - name: customer_id
                data_tests:
                  - sluice.sluice_not_null:
                      name: orders_customer_required
                      arguments: {{owner: crm-team, sluice_severity: {required_severity}}}
                  - sluice.sluice_relationship:
                      name: orders_customer_exists
                      arguments:
                        to: ref('customers')
                        field: customer_id
              - name: status
                data_tests:
                  - sluice.sluice_accepted_values:
                      name: orders_status_known
                      arguments:
                        values: [paid, open]
              - name: order_date
                data_tests:
                  - sluice.sluice_castable:
                      name: orders_date_readable
                      arguments: {{data_type: date}}
    """


def setup(project: DbtProject, orders: list[str] | None = None, **schema_kwargs: str) -> None:
    rows = GOOD_ORDERS + FAULTY_ORDERS if orders is None else orders
    project.write("seeds/raw_orders.csv", ORDERS_HEADER + "\n" + "\n".join(rows) + "\n")
    project.write("seeds/customers.csv", CUSTOMERS)
    project.write(
        "models/orders.sql",
        "-- depends_on: {{ ref('customers') }}\nselect * from {{ ref('raw_orders') }}\n",
    )
    project.write(
        "models/orders_daily.sql",
        "select order_date, sum(amount) as amount from {{ ref('orders') }} group by 1\n",
    )
    project.write("models/schema.yml", schema_yml(**schema_kwargs))


def published(project: DbtProject) -> list[tuple]:
    return project.query(
        "select order_id, customer_id, status, amount, order_date, loaded_at from {schema}.orders order by 1, 6"
    )


def event_key(key: str) -> str:
    """How the history (sluice_exception_events) stores the record key ``key``: its redaction
    marker, never the key in clear."""
    return redaction_marker(key)


def clear_keys(project: DbtProject, quarantine: str = "orders__quarantine") -> dict[str, str]:
    """marker -> record key in clear, for every record key the quarantine holds."""
    keys = project.query(f"select distinct record_key from {{schema}}.{quarantine}")
    return {event_key(str(k)): str(k) for (k,) in keys}
