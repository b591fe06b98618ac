"""Each rule as an ordinary dbt test on a non-sluice model: a passing case and a failing case."""

from __future__ import annotations

RAW = """id,customer_id,status,amount,order_date
1,C1,paid,10,2024-01-01
2,C2,open,20,2024-01-02
3,C1,paid,30,2024-01-03
"""
BAD = """id,customer_id,status,amount,order_date
1,C1,paid,10,2024-01-01
2,,open,-20,2024-02-31x
2,C7,lost,30,2024-01-03
4,C1,paid,5,2023-02-29
"""
CUSTOMERS = "customer_id\nC1\nC2\n"

RULES = {
    # rule name: (yaml under the column or model, failures on the bad model)
    "not_null": ("customer_id", "sluice.sluice_not_null: {arguments: {sluice_severity: high}}", 1),
    "accepted": ("status", "sluice.sluice_accepted_values: {arguments: {values: [paid, open]}}", 1),
    "castable": ("order_date", "sluice.sluice_castable: {arguments: {data_type: date}}", 2),
    "pattern": (
        "order_date",
        "sluice.sluice_castable: {arguments: {pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'}}",
        1,
    ),
    "unique": ("id", "sluice.sluice_unique: {arguments: {sluice_severity: high}}", 1),
    "reference": (
        "customer_id",
        "sluice.sluice_relationship: {arguments: {to: ref('customers'), field: customer_id}}",
        1,
    ),
    "expression": (
        None,
        "sluice.sluice_expression: {arguments: {expression: amount >= 0, sluice_severity: critical}}",
        1,
    ),
}


def _schema(model: str) -> str:
    columns: dict[str, list[str]] = {}
    model_tests = []
    for name, (column, test, _) in RULES.items():
        key, body = test.split(": ", 1)
        entry = f"- {key}: {{name: {model}_{name}, {body[1:]}"
        if column is None:
            model_tests.append(entry)
        else:
            columns.setdefault(column, []).append(entry)
    lines = [f"  - name: {model}", "    config: {materialized: table}", "    data_tests:"]
    lines += [f"      {t}" for t in model_tests]
    lines.append("    columns:")
    for column, tests in columns.items():
        lines += [f"      - name: {column}", "        data_tests:"] + [
            f"          {t}" for t in tests
        ]
    return "\n".join(lines)


def test_each_rule_passes_and_fails_as_a_plain_test(make_project, engine):
    project = make_project(engine)
    project.write("seeds/raw_good.csv", RAW)
    project.write("seeds/raw_bad.csv", BAD)
    project.write("seeds/customers.csv", CUSTOMERS)
    project.write("models/good.sql", "select * from {{ ref('raw_good') }}\n")
    project.write("models/bad.sql", "select * from {{ ref('raw_bad') }}\n")
    types = "{id: integer, customer_id: varchar(10), status: varchar(10), amount: integer, order_date: varchar(20)}"
    project.write(
        "models/schema.yml",
        "seeds:\n"
        f"  - name: raw_good\n    config: {{column_types: {types}}}\n"
        f"  - name: raw_bad\n    config: {{column_types: {types}}}\n"
        "models:\n" + _schema("good") + "\n" + _schema("bad") + "\n",
    )
    result = project.dbt("build", expect=1)
    for name, (_, _, failures) in RULES.items():
        assert result.status(f"good_{name}") == "pass", name
        bad = result.result(f"bad_{name}")
        assert bad["failures"] == failures, (name, bad)
    # sluice severity maps onto dbt's: critical/high error, medium/low warn
    assert result.status("bad_not_null") == "fail"
    assert result.status("bad_expression") == "fail"
    assert result.status("bad_accepted") == "warn"
    assert result.status("bad_reference") == "warn"


def test_dbt_test_configs_still_apply(make_project):
    project = make_project("duckdb")
    project.write("seeds/raw_bad.csv", BAD)
    project.write("models/bad.sql", "select * from {{ ref('raw_bad') }}\n")
    project.write(
        "models/schema.yml",
        """
        seeds:
          - name: raw_bad
            config: {column_types: {id: integer, customer_id: varchar(10), status: varchar(10), amount: integer, order_date: varchar(20)}}
        models:
          - name: bad
            columns:
              - name: status
                data_tests:
                  - sluice.sluice_accepted_values:
                      name: status_where
                      arguments: {values: [paid, open], sluice_severity: critical}
                      config: {where: "id = 1"}
                  - sluice.sluice_accepted_values:
                      name: status_stored
                      arguments: {values: [paid], sluice_severity: critical}
                      config: {store_failures: true, warn_if: ">0", error_if: ">5"}
                  - sluice.sluice_accepted_values:
                      name: status_severity_override
                      arguments: {values: [paid], sluice_severity: low}
                      config: {severity: error}
        """,
    )
    result = project.dbt("build", expect=1)
    assert result.status("status_where") == "pass"
    assert result.status("status_stored") == "warn"  # 2 failures: over warn_if, under error_if
    stored = project.query("select status from main_dbt_test__audit.status_stored order by 1")
    assert stored == [("lost",), ("open",)]
    assert result.status("status_severity_override") == "fail"
