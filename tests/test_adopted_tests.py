"""dbt's own generic tests (and dbt_utils-style ones) drive a sluice model's gate: a model adopts
sluice with its key and nothing else."""

from __future__ import annotations

from tests.dbt_harness import SNOWFLAKE_TOO, DbtProject

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
{{ return(adapter.dispatch('test_expression_is_true', 'dbt_utils')(model, expression, column_name)) }}
{% endtest %}
{% macro default__test_expression_is_true(model, expression, column_name) %}
select * from {{ model }} where not ({{ column_name ~ ' ' if column_name else '' }}{{ expression }})
{% endmacro %}

{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
{{ return(adapter.dispatch('test_accepted_range', 'dbt_utils')(model, column_name, min_value, max_value, inclusive)) }}
{% endtest %}
{% macro default__test_accepted_range(model, column_name, min_value, max_value, inclusive) %}
select * from {{ model }} where not ({{ column_name }} >= {{ min_value }} and {{ column_name }} <= {{ max_value }})
{% endmacro %}

{% test unique_combination_of_columns(model, combination_of_columns, quote_columns=false) %}
{{ return(adapter.dispatch('test_unique_combination_of_columns', 'dbt_utils')(model, combination_of_columns, quote_columns)) }}
{% endtest %}
{% macro default__test_unique_combination_of_columns(model, combination_of_columns, quote_columns) %}
select {{ combination_of_columns | join(', ') }} from {{ model }}
group by {{ combination_of_columns | join(', ') }} having count(*) > 1
{% endmacro %}

{% test not_null_proportion(model, column_name, at_least) %}
select 1 as x from {{ model }} where 1 = 0
{% endtest %}
"""
# the project's dispatch of dbt's and dbt_utils' test macros through sluice (README)
DISPATCH = """
dispatch:
  - macro_namespace: dbt
    search_order: ['sluice_test', 'sluice', 'dbt']
  - macro_namespace: dbt_utils
    search_order: ['sluice_test', 'sluice', 'dbt_utils']
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
    project.write(
        "models/orders.sql",
        "-- depends_on: {{ ref('customers') }}\nselect * from {{ ref('raw_orders') }}\n",
    )
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


@SNOWFLAKE_TOO
def test_existing_tests_become_the_rules_of_a_sluice_model(make_project, engine):
    project = make_project(engine)
    _project(project, ", gate: {high: none, medium: none, low: none}")
    result = project.dbt("build")
    assert result.status("orders") == "success"
    # without the project's dispatch block, the adopted tests rescan the published model: said
    for namespace in ("dbt", "dbt_utils"):
        assert (
            f"model 'orders' adopts {namespace}'s tests as rules, but dbt does not dispatch the "
            f"'{namespace}' test macros through sluice" in " ".join(result.output.split())
        )

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


@SNOWFLAKE_TOO
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


@SNOWFLAKE_TOO
def test_dispatched_tests_report_what_the_model_caught_without_a_rescan(make_project, engine):
    project = make_project(engine)
    _project(project, ", gate: {high: none, medium: none, low: none}")
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(DISPATCH)
    # the held rows are not published: the adopted tests say so and pass, blocking nothing
    result = project.dbt("build")
    assert result.status("orders") == "success"
    assert "does not dispatch" not in result.output
    output = " ".join(result.output.split())
    quarantine = "orders__quarantine"
    for rule in ("not_null_orders_customer_id", "accepted_values_orders_status__paid__open"):
        assert f"sluice: rule '{rule}' held 1 row(s) of model 'orders' in this build" in output
    assert quarantine in output
    statuses = {
        name: result.status(name)
        for name in (
            "not_null_orders_customer_id",
            "accepted_values_orders_status__paid__open",
            "relationships_orders_customer_id__customer_id__ref_customers_",
            "dbt_utils_expression_is_true_orders_amount_0",
            "dbt_utils_accepted_range_orders_qty__100__0",
            "unique_orders_id",
            "dbt_utils_unique_combination_of_columns_orders_id__customer_id",
            "dbt_utils_not_null_proportion_orders_0_9__qty",
        )
    }
    assert statuses == {
        "not_null_orders_customer_id": "pass",
        "accepted_values_orders_status__paid__open": "pass",
        "relationships_orders_customer_id__customer_id__ref_customers_": "pass",
        "dbt_utils_expression_is_true_orders_amount_0": "pass",
        "dbt_utils_accepted_range_orders_qty__100__0": "pass",
        "unique_orders_id": "pass",
        "dbt_utils_unique_combination_of_columns_orders_id__customer_id": "pass",
        "dbt_utils_not_null_proportion_orders_0_9__qty": "pass",  # model-level: an ordinary test
    }
    # each adopted row test read the quarantine; the model-level check scanned the model
    compiled = {
        path.stem: path.read_text().lower()
        for path in (project.root / "target" / "compiled").rglob("*.sql")
    }
    assert "orders__quarantine" in compiled["not_null_orders_customer_id"]
    assert "orders__quarantine" in compiled["dbt_utils_accepted_range_orders_qty__100__0"]
    assert "orders__quarantine" not in compiled["dbt_utils_not_null_proportion_orders_0_9__qty"]


# two adopted tests as _project lists them, and the same with a config.meta.sluice ({meta})
WITH_META = {
    "not_null": ("- not_null\n", "- not_null: {config: {meta: {sluice: {meta}}}}\n"),
    "accepted_values": (
        "- accepted_values: {arguments: {values: [paid, open]}}\n",
        "- accepted_values: {arguments: {values: [paid, open]}, config: {meta: {sluice: {meta}}}}\n",
    ),
}


def _test_meta(project: DbtProject, test: str, meta: str) -> None:
    """Gives the adopted test `test` in models/schema.yml a config.meta.sluice."""
    path = project.root / "models" / "schema.yml"
    listed, configured = WITH_META[test]
    text = path.read_text()
    assert listed in text
    path.write_text(text.replace(listed, configured.replace("{meta}", meta)))


def test_adopted_tests_take_the_retry_settings_of_their_meta(make_project, engine):
    project = make_project(engine)
    _project(project, ", gate: {high: none, medium: none, low: none}")
    _test_meta(project, "not_null", "{max_attempts: 2, attempt_interval: 0}")
    _test_meta(project, "accepted_values", "{dead_letter_after: '1 day'}")
    project.dbt("build")
    project.dbt("run", "-s", "orders")

    def statuses():
        return dict(
            project.query(
                "select rule_name, status || ' ' || cast(attempt_count as varchar) "
                "from {schema}.orders__quarantine where record_key in ('[2]', '[3]', '[6]')"
            )
        )

    # not_null counts an attempt per build (its own interval): the second one dead-letters it;
    # the others keep the default interval of an hour: still their first attempt
    assert statuses() == {
        "not_null_orders_customer_id": "dead_letter 2",
        "accepted_values_orders_status__paid__open": "open 1",
        "dbt_utils_accepted_range_orders_qty__100__0": "open 1",
    }
    # two days later: accepted_values' exception is past its dead_letter_after, the range's is not
    project.execute(
        "update {schema}.orders__quarantine set first_seen_at = first_seen_at - interval '2 days'"
    )
    project.dbt("run", "-s", "orders")
    assert statuses() == {
        "not_null_orders_customer_id": "dead_letter 2",
        "accepted_values_orders_status__paid__open": "dead_letter 1",
        "dbt_utils_accepted_range_orders_qty__100__0": "open 1",
    }


def test_an_unknown_setting_on_an_adopted_test_stops_the_build_before_anything_runs(
    make_project, engine
):
    project = make_project(engine)
    _project(project, ", gate: {high: none, medium: none, low: none}")
    _test_meta(project, "not_null", "{retries: 3}")
    result = project.dbt("build", expect=2)  # dbt: an error before any node ran
    text = " ".join(result.output.split())
    assert (
        "model 'orders', rule 'not_null_orders_customer_id', key 'meta.sluice.retries': "
        "unknown setting for an adopted test" in text
    ), result.output[-3000:]
    assert result.run_results is None or all(
        r["status"] != "success" for r in result.run_results["results"]
    )
    assert not project.relation_exists("raw_orders")
    assert not project.relation_exists("orders")


PARENTS_SCHEMA = """
models:
  - name: parents
    config:
      materialized: sluice
      meta: {sluice: {key: id}}
    columns:
      - name: id
        data_tests: [unique, not_null]
  - name: parent_names
"""


@SNOWFLAKE_TOO
def test_adopted_tests_block_nothing_on_held_rows_and_a_released_duplicate_replaces_the_kept_copy(
    make_project, engine
):
    """Held rows are not published: the adopted tests warn and pass, and the model downstream
    builds. A reviewer who releases the held copy of a repeated key chooses it: it is published
    in place of the kept copy, which is set aside, so the key is never published twice and
    `unique` still tells the truth about the published relation."""
    project = make_project(engine)
    rows = "\n".join(f"{i},name {i}" for i in range(1, 21))
    project.write("seeds/raw_parents.csv", f"id,name\n{rows}\n2,name 2 corrected\n")
    project.write("models/parents.sql", "select * from {{ ref('raw_parents') }}\n")
    project.write("models/parent_names.sql", "select id, name from {{ ref('parents') }}\n")
    project.write("models/schema.yml", PARENTS_SCHEMA)
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(DISPATCH)
    built = project.dbt("build")
    assert built.status("unique_parents_id") == "pass"
    assert built.status("parent_names") == "success"
    assert "sluice: rule 'unique_parents_id' held 1 row(s) of model 'parents'" in " ".join(
        built.output.split()
    )
    repeats = "select id, count(*) from {schema}.parents group by id having count(*) > 1"
    assert project.query(repeats) == []
    # copies are ordered by content: "name 2 corrected" is the first, kept; "name 2" is held
    assert project.query("select name from {schema}.parents where id = 2") == [
        ("name 2 corrected",)
    ]

    (exception_id,) = project.query(
        "select exception_id from {schema}.parents__quarantine where rule_name = 'unique_parents_id'"
    )[0]
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
        f"decision, decided_by, decided_at, reason) values ('d1', '{exception_id}', "
        "'model.sluice_test.parents', 'release', 'ana', cast(current_timestamp as timestamp), 'ok')"
    )
    released = project.dbt("build")
    assert project.query(repeats) == []
    assert project.query("select name from {schema}.parents where id = 2") == [("name 2",)]
    assert project.query("select name from {schema}.parent_names where id = 2") == [("name 2",)]
    assert released.status("unique_parents_id") == "pass"
    runs = project.query(
        "select rows_in, rows_published, rows_held, rows_set_aside from {schema}.sluice_runs "
        "order by finished_at"
    )
    assert runs[-1] == (21, 20, 0, 1)


def test_a_uniqueness_rule_fails_on_published_repeats_routed_flag(make_project):
    """A test never passes while the published relation breaks it: repeats routed `flag` are
    published, and `unique` fails on them."""
    project = make_project("duckdb")
    project.write("seeds/raw_parents.csv", "id,name\n1,a\n2,b\n2,c\n")
    project.write("models/parents.sql", "select * from {{ ref('raw_parents') }}\n")
    project.write(
        "models/schema.yml",
        """
        models:
          - name: parents
            config:
              materialized: sluice
              meta: {sluice: {key: id, gate: {high: none}}}
            columns:
              - name: id
                data_tests:
                  - unique: {config: {meta: {sluice: {route: flag}}}}
        """,
    )
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(DISPATCH)
    result = project.dbt("build", expect=1)
    assert project.query("select count(*) from {schema}.parents where id = 2") == [(2,)]
    assert result.status("unique_parents_id") == "fail"
