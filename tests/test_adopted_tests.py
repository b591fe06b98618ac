"""dbt's own generic tests (and dbt_utils-style ones) drive a sluice model's gate: a model adopts
sluice with its key and nothing else."""

from __future__ import annotations

from tests.dbt_harness import DbtProject

# A stand-in for dbt_utils' row tests, same names and arguments, installed as a local package
# named dbt_utils (the dbt hub is not needed, and sluice does not depend on it).
UTILS_PROJECT = """
name: dbt_utils
version: "1.0"
config-version: 2
macro-paths: ["macros"]
"""
UTILS_TESTS = """
{% test expression_is_true(model, expression, column_name=None) %}
select * from {{ model }} where not ({{ column_name ~ ' ' if column_name else '' }}{{ expression }})
{% endtest %}

{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
select * from {{ model }} where not ({{ column_name }} >= {{ min_value }} and {{ column_name }} <= {{ max_value }})
{% endtest %}

{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }} from {{ model }}
group by {{ combination_of_columns | join(', ') }} having count(*) > 1
{% endtest %}

{% test not_null_proportion(model, column_name, at_least) %}
select 1 as x from {{ model }} where 1 = 0
{% endtest %}
"""

ROWS = """id,customer_id,status,amount,qty
1,C1,paid,10,1
2,,paid,20,1
3,C2,weird,30,1
4,C9,paid,40,1
5,C1,paid,-5,1
6,C1,paid,60,500
7,C2,open,70,1
"""


def _project(project: DbtProject, extra_model_meta: str = "") -> None:
    utils = project.root / "dbt_utils_stub"
    (utils / "macros").mkdir(parents=True, exist_ok=True)
    (utils / "dbt_project.yml").write_text(UTILS_PROJECT)
    (utils / "macros" / "tests.sql").write_text(UTILS_TESTS)
    packages = (project.root / "packages.yml").read_text()
    project.write("packages.yml", packages + "  - local: dbt_utils_stub\n")
    project.write("seeds/raw_orders.csv", ROWS)
    project.write("seeds/customers.csv", "customer_id\nC1\nC2\n")
    project.write("models/orders.sql", "select * from {{ ref('raw_orders') }}\n")
    project.write(
        "models/schema.yml",
        f"""
        seeds:
          - name: raw_orders
            config: {{column_types: {{id: integer, customer_id: varchar(5), status: varchar(10), amount: integer, qty: integer}}}}
        models:
          - name: orders
            config:
              materialized: sluice
              meta: {{sluice: {{key: id{extra_model_meta}}}}}
            data_tests:
              - dbt_utils.expression_is_true:
                  arguments: {{expression: "amount >= 0"}}
                  config: {{severity: warn}}
              - dbt_utils.unique_combination_of_columns:
                  arguments: {{combination_of_columns: [id, customer_id]}}
            columns:
              - name: id
                data_tests: [unique]
              - name: customer_id
                data_tests:
                  - not_null
                  - relationships: {{arguments: {{to: "ref('customers')", field: customer_id}}}}
              - name: status
                data_tests:
                  - accepted_values: {{arguments: {{values: [paid, open]}}}}
              - name: qty
                data_tests:
                  - dbt_utils.accepted_range: {{arguments: {{min_value: 0, max_value: 100}}}}
                  - dbt_utils.not_null_proportion: {{arguments: {{at_least: 0.9}}}}
        """,
    )


def test_existing_tests_become_the_rules_of_a_sluice_model(make_project, engine):
    project = make_project(engine)
    _project(project, ", gate: {high: none, medium: none, low: none}")
    result = project.dbt("build")
    assert result.status("orders") == "success"

    held = project.query(
        "select record_key, error_class, severity, route from {schema}.orders__quarantine "
        "order by record_key, error_class"
    )
    # exactly the rows those tests report, with the classes of their kind and the mapped severity
    assert held == [
        ("[2]", "missing_required_field", "high", "quarantine"),
        ("[3]", "invalid_value", "high", "quarantine"),
        ("[4]", "reference_mismatch", "high", "manual_review"),
        ("[5]", "business_rule_violation", "low", "quarantine"),
        ("[6]", "invalid_value", "high", "quarantine"),
    ]
    assert [r[0] for r in project.query("select id from {schema}.orders order by 1")] == [1, 7]


def test_adopted_tests_gate_by_their_severity(make_project, engine):
    project = make_project(engine)
    _project(project, ", gate: {high: 0}")
    result = project.dbt("build", expect=1)
    assert result.status("orders") == "error"
    assert "sluice gate held publication of model 'orders'" in result.output
    assert not project.relation_exists("orders")


def test_opting_out_leaves_dbt_tests_as_they_were(make_project):
    project = make_project("duckdb")
    _project(project, ", adopt_tests: false")
    result = project.dbt("build", expect=1)
    assert result.status("orders") == "success"
    # nothing adopted: nothing held (only the NULL-key rule would hold, and no key is NULL)
    assert project.query("select count(*) from {schema}.orders__quarantine") == [(0,)]
    assert result.status("not_null_orders_customer_id") == "fail"


def test_a_sluice_model_without_any_rule_builds(make_project):
    project = make_project("duckdb")
    project.write("seeds/raw.csv", "id,v\n1,a\n2,b\n")
    project.write("models/plain.sql", "select * from {{ ref('raw') }}\n")
    project.write(
        "models/schema.yml",
        """
        models:
          - name: plain
            config: {materialized: sluice, meta: {sluice: {key: id}}}
        """,
    )
    assert project.dbt("build").status("plain") == "success"
    assert project.query("select count(*) from {schema}.plain") == [(2,)]
