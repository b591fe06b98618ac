"""Masked columns (`meta.sluice.mask`): a masked email is never in clear in any sluice table,
file or alert of a build, a review and a report, nor is the masking key; the rules still read
the real values, and equal values share one keyed hash."""

from __future__ import annotations

from pathlib import Path

import pytest
from sluice.cli import main

from tests.dbt_harness import SNOWFLAKE_TOO, DbtProject

EMAIL = "ann.secret@example.com"
KEY = "k3y-Of-The-Test-7f31"

# the email is built in SQL, so that no file of the project holds it in clear
RAW = """
select 1 as id, 'ann' || '.secret' || '@example.com' as email, 10 as amount
union all select 2, 'bo' || '@example.com', 20
union all select 3, 'ann' || '.secret' || '@example.com', -5
"""

SCHEMA = """
models:
  - name: people
    config:
      materialized: sluice
      meta:
        sluice:
          key: id
          mask: [email]
          gate: {critical: none, high: none, medium: none, low: none}
    columns:
      - name: email
        data_tests:
          - sluice.sluice_expression:
              name: people_email_not_secret
              arguments: {expression: "email not like '%secret%'"}
  - name: contacts
    config:
      materialized: sluice
      meta:
        sluice:
          key: email
          gate: {critical: 0}
    columns:
      - name: amount
        data_tests:
          - sluice.sluice_expression:
              name: contacts_amount_positive
              arguments: {expression: "amount > 0", sluice_severity: critical}
"""


def _project(project: DbtProject) -> None:
    project.write("models/raw_people.sql", RAW)
    project.write("models/people.sql", "select * from {{ ref('raw_people') }}\n")
    project.write("models/contacts.sql", "select * from {{ ref('raw_people') }}\n")
    project.write("models/schema.yml", SCHEMA)
    # contacts masks by the project's default
    text = (project.root / "dbt_project.yml").read_text()
    if "vars:" in text:
        text = text.replace("vars:\n", "vars:\n  sluice_mask: [email]\n", 1)
    else:
        text += "\nvars:\n  sluice_mask: [email]\n"
    (project.root / "dbt_project.yml").write_text(text)


def _sluice(project: DbtProject, capsys, *args: str) -> tuple[int, str]:
    code = main([*args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)])
    out = capsys.readouterr()
    return code, out.out + out.err


def _tables(project: DbtProject) -> list[str]:
    if project.engine == "duckdb":
        where = "table_schema = 'main'"
    else:
        where = f"lower(table_schema) = '{project.schema.lower()}'"
    rows = project.query(f"select table_name from information_schema.tables where {where}")
    return sorted(str(r[0]).lower() for r in rows)


def _files(root: Path) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.is_file()
        and "dbt_packages" not in p.relative_to(root).parts
        and not p.name.endswith((".duckdb", ".duckdb.wal"))
    ]


@SNOWFLAKE_TOO
@pytest.mark.package_models
def test_a_masked_email_is_in_clear_nowhere(make_project, engine, capsys, monkeypatch):
    monkeypatch.setenv("SLUICE_MASK_KEY", KEY)
    monkeypatch.delenv("DBT_ENV_SECRET_SLUICE_MASK_KEY", raising=False)
    project = make_project(engine)
    _project(project)
    project.install_package()
    code, out = _sluice(project, capsys, "build", "--max-attempts", "1", "--dbt-log")
    assert code == 1, out  # contacts' gate holds
    assert EMAIL not in out and KEY not in out

    # the rules read the real values: both rows of the secret email are held, under one hash
    held = project.query(
        "select record_key, failed_value, row_json from {schema}.people__quarantine "
        "where rule_name = 'people_email_not_secret' order by record_key"
    )
    assert [r[0] for r in held] == ["[1]", "[3]"]
    assert held[0][1] == held[1][1] and held[0][1].startswith("sluice:masked:")
    assert all(held[0][1] in r[2] and EMAIL not in r[2] for r in held)
    # a masked key: the record key is the hash, the same as the evidence's
    keys = project.query("select record_key from {schema}.contacts__quarantine order by record_key")
    assert keys == [(f'["{held[0][1]}"]',)]

    # a review of the held rows, then a report
    exception_id = project.query(
        "select exception_id from {schema}.people__quarantine where record_key = '[1]'"
    )[0][0]
    outputs = [out]
    for args in (
        ("review", "list", "--model", "people"),
        ("review", "show", exception_id),
        ("review", "reject", exception_id, "--by", "ana", "--reason", "confirmed wrong"),
    ):
        code, text = _sluice(project, capsys, *args)
        assert code == 0, text
        outputs.append(text)
    assert held[0][1] in outputs[2]
    code, out = _sluice(project, capsys, "build", "--max-attempts", "1", "--dbt-log")
    outputs.append(out)
    code, out = _sluice(project, capsys, "report")
    assert code in (0, 1), out
    outputs.append(out)
    assert not [o for o in outputs if EMAIL in o or KEY in o]

    # every sluice table, and every file of the project: target/, logs/, alerts, reports
    tables = [t for t in _tables(project) if t not in ("people", "contacts", "raw_people")]
    assert "people__quarantine" in tables and "sluice_exception_events" in tables
    for table in tables:
        rows = project.query(f"select * from {{schema}}.{table}")
        text = repr(rows)
        assert EMAIL not in text and KEY not in text, table
    files = _files(project.root)
    assert any(p.name == "dbt.log" for p in files)
    assert any(p.name == "alerts.json" for p in files)
    assert any(p.name == "report.html" for p in files)
    leaks = [
        str(p) for p in files if EMAIL.encode() in p.read_bytes() or KEY.encode() in p.read_bytes()
    ]
    assert not leaks
    # the published relation has the real values
    assert project.query("select count(*) from {schema}.people where email = 'bo@example.com'") == [
        (1,)
    ]


def test_a_missing_key_stops_the_model_naming_the_variable(make_project, monkeypatch, capsys):
    monkeypatch.delenv("SLUICE_MASK_KEY", raising=False)
    project = make_project("duckdb")
    _project(project)
    result = project.dbt("build", "-s", "raw_people", "people", expect=1)
    assert result.status("people") == "error"
    assert (
        "model 'people' masks email (meta.sluice.mask / var sluice_mask) but the environment "
        "variable SLUICE_MASK_KEY is not set" in result.output
    )
    assert project.query(
        "select count(*) from information_schema.tables where table_name = 'people__quarantine'"
    ) == [(0,)]
    code, out = _sluice(project, capsys, "build", "--max-attempts", "1")
    assert code == 1, out


def test_a_conflict_rule_on_a_masked_column_is_refused(make_project, monkeypatch):
    monkeypatch.setenv("SLUICE_MASK_KEY", KEY)
    project = make_project("duckdb")
    _project(project)
    project.write("models/crm_people.sql", "select * from {{ ref('raw_people') }}\n")
    project.write(
        "models/people.sql",
        "-- depends_on: {{ ref('crm_people') }}\nselect * from {{ ref('raw_people') }}\n",
    )
    project.write(
        "models/schema.yml",
        SCHEMA.replace(
            "    columns:\n      - name: email\n",
            "    data_tests:\n"
            "      - sluice.sluice_conflict:\n"
            "          name: people_email_agrees\n"
            "          arguments: {with: \"ref('crm_people')\", match_on: {id: id}, compare: [email]}\n"
            "    columns:\n      - name: email\n",
            1,
        ),
    )
    result = project.dbt("build", "-s", "raw_people", "crm_people", "people", expect=1)
    assert "people_email_agrees" in result.output and "column 'email' is masked" in result.output


# customers keyed on their (masked) email; orders reference it
PARENT_RAW = """
select 'ann' || '.secret' || '@example.com' as email, 'Ann' as name, 1 as tier
union all select 'bo' || '@example.com', 'Bo', 1
union all select 'cy' || '@example.com', 'Cy', -1
"""
ORDERS_RAW = """
select 1 as order_id, 'ann' || '.secret' || '@example.com' as email, 10 as amount
union all select 2, 'bo' || '@example.com', 20
union all select 3, 'cy' || '@example.com', 30
union all select 4, 'cy' || '@example.com', 40
union all select 5, 'dee' || '@example.com', 50
"""
PARENT_SCHEMA = """
models:
  - name: customers
    config:
      materialized: sluice
      meta:
        sluice:
          key: email
          mask: [email]
          gate: {critical: none, high: none, medium: none, low: none}
    columns:
      - name: tier
        data_tests:
          - sluice.sluice_expression:
              name: customers_tier_positive
              arguments: {expression: "tier > 0"}
  - name: orders
    config:
      materialized: sluice
      meta:
        sluice:
          key: order_id
          mask: [email]
          gate: {critical: none, high: none, medium: none, low: none}
    columns:
      - name: email
        data_tests:
          - sluice.sluice_relationship:
              name: orders_customer_exists
              arguments: {to: ref('customers'), field: email}
"""


@SNOWFLAKE_TOO
def test_a_masked_parent_key_holds_its_dependents_and_stays_masked(
    make_project, engine, monkeypatch
):
    """A relationship rule whose parent is keyed on a masked column: the rows referencing a
    record the parent holds are held with it (dependency_held, naming the parent's exception),
    a row referencing no customer is an orphan, and the email is in clear in no sluice table."""
    monkeypatch.setenv("SLUICE_MASK_KEY", KEY)
    project = make_project(engine)
    project.write("models/raw_customers.sql", PARENT_RAW)
    project.write("models/raw_orders.sql", ORDERS_RAW)
    project.write("models/customers.sql", "select * from {{ ref('raw_customers') }}\n")
    project.write(
        "models/orders.sql",
        "-- depends_on: {{ ref('customers') }}\nselect * from {{ ref('raw_orders') }}\n",
    )
    project.write("models/schema.yml", PARENT_SCHEMA)
    project.dbt("build")

    parent = project.query(
        "select exception_id, record_key from {schema}.customers__quarantine where status = 'open'"
    )
    assert len(parent) == 1 and parent[0][1].startswith('["sluice:masked:'), parent
    held = project.query(
        "select o.record_key, o.error_class, o.message, o.failed_value "
        "from {schema}.orders__quarantine as o where o.status = 'open' order by 1, 2"
    )
    assert [(k, c) for k, c, _, _ in held] == [
        ("[3]", "dependency_held"),
        ("[4]", "dependency_held"),
        ("[5]", "reference_mismatch"),
    ], held
    for _, error_class, message, value in held:
        assert value.startswith("sluice:masked:")
        if error_class == "dependency_held":
            assert parent[0][0] in message and value in parent[0][1]
    assert project.query("select order_id from {schema}.orders order by 1") == [(1,), (2,)]

    # the parent is fixed: its dependents recover and are published
    project.write("models/raw_customers.sql", PARENT_RAW.replace("-1\n", "2\n"))
    project.dbt("build")
    assert project.query(
        "select record_key, status from {schema}.orders__quarantine "
        "where error_class = 'dependency_held' order by 1"
    ) == [("[3]", "recovered"), ("[4]", "recovered")]
    assert project.query("select order_id from {schema}.orders order by 1") == [
        (1,),
        (2,),
        (3,),
        (4,),
    ]
    tables = [
        t
        for t in _tables(project)
        if t not in ("customers", "orders", "raw_customers", "raw_orders")
    ]
    assert "orders__quarantine" in tables and "sluice_exception_events" in tables
    for table in tables:
        text = repr(project.query(f"select * from {{schema}}.{table}"))
        assert "@example.com" not in text and KEY not in text, table
