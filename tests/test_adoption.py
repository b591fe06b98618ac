"""Adoption end to end: an existing dbt project (a small star schema with ordinary dbt tests and
two exposures) takes up sluice as a new user would, with the README alone: the materialization
and a key per staging model in YAML, the dispatch block, and one documented SQL line."""

from __future__ import annotations

import difflib
import json
from decimal import Decimal

from sluice.cli import main

from tests.dbt_harness import PACKAGES_YML, SNOWFLAKE_TOO, DbtProject

# --- the existing project ---------------------------------------------------------------------

STATUSES = ("placed", "shipped", "completed", "returned")
CUSTOMERS = [(f"C{i:02d}", f"Customer {i}", ("DE", "FR", "NL")[i % 3]) for i in range(1, 9)]
PRODUCTS = [
    ("P01", "Kettle", "kitchen", Decimal("24.90")),
    ("P02", "Toaster", "kitchen", Decimal("39.00")),
    ("P03", "Lamp", "living", Decimal("15.50")),
    ("P04", "Rug", "living", Decimal("89.99")),
    ("P05", "Pillow", "bedroom", Decimal("12.25")),
    ("P06", "Duvet", "bedroom", Decimal("64.00")),
]
PRICE = {p[0]: p[3] for p in PRODUCTS}
ORDER_COLUMNS = ("order_id", "customer_id", "order_date", "status")
ITEM_COLUMNS = ("order_item_id", "order_id", "product_id", "quantity", "unit_price")


def good_orders() -> dict[int, tuple]:
    """Thirty orders of eight customers, one a day, statuses in turn."""
    return {i: (i, f"C{i % 8 + 1:02d}", f"2024-01-{i:02d}", STATUSES[i % 4]) for i in range(1, 31)}


def good_items() -> list[tuple]:
    """One to three lines per order, at the product's list price."""
    rows = []
    for i in range(1, 31):
        for k in range(1, 2 + i % 3):
            product = f"P{(i + k) % 6 + 1:02d}"
            rows.append((i * 10 + k, i, product, 1 + (i + k) % 4, PRICE[product]))
    return rows


# the faults a source system sends, one per kind of problem the project's tests look for
NULL_ORDER = (None, "C03", "2024-02-01", "placed")  # not_null / the key: missing_required_field
RELEASED_STATUS, REJECTED_STATUS, FIXED_STATUS = 7, 12, 15  # accepted_values: invalid_value
BAD_STATUS = {RELEASED_STATUS: "lost", REJECTED_STATUS: "canceled", FIXED_STATUS: "Shipped"}
DUPLICATE = 20  # unique: a second copy of order 20, corrected (duplicate_event)
# relationships: an item of order 5 for a product P99 that does not exist (reference_mismatch)
ORPHAN_ITEM = (59, 5, "P99", 2, Decimal("9.99"))


def orders_rows(bad_status: dict[int, str]) -> list[tuple]:
    """The orders a load brings: bad statuses, a corrected second copy, an order without id."""
    orders = good_orders()
    for key, status in bad_status.items():
        orders[key] = (*orders[key][:3], status)
    corrected = (*orders[DUPLICATE][:3], "shipped")
    assert corrected != orders[DUPLICATE]
    return [*orders.values(), corrected, NULL_ORDER]


def faulty_orders() -> list[tuple]:
    return orders_rows(BAD_STATUS)


def faulty_items() -> list[tuple]:
    return [*good_items(), ORPHAN_ITEM]


def csv(columns: tuple[str, ...], rows: list[tuple]) -> str:
    lines = [",".join(columns)]
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


PROJECT_CONFIG = """
models:
  sluice_test:
    marts: {+materialized: table}
seeds:
  sluice_test:
    raw_customers: {+column_types: {customer_id: varchar(10), name: varchar(40), country: varchar(2)}}
    raw_products: {+column_types: {product_id: varchar(10), name: varchar(40), category: varchar(20), list_price: 'numeric(10,2)'}}
    raw_orders: {+column_types: {order_id: integer, customer_id: varchar(10), order_date: date, status: varchar(20)}}
    raw_order_items: {+column_types: {order_item_id: integer, order_id: integer, product_id: varchar(10), quantity: integer, unit_price: 'numeric(10,2)'}}
"""

MODELS = {
    "staging/stg_customers.sql": (
        "select customer_id, name as customer_name, country from {{ ref('raw_customers') }}\n"
    ),
    "staging/stg_products.sql": (
        "select product_id, name as product_name, category, list_price\n"
        "from {{ ref('raw_products') }}\n"
    ),
    "staging/stg_orders.sql": (
        "select order_id, customer_id, order_date, status from {{ ref('raw_orders') }}\n"
    ),
    "staging/stg_order_items.sql": (
        "select order_item_id, order_id, product_id, quantity, unit_price\n"
        "from {{ ref('raw_order_items') }}\n"
    ),
    "marts/fct_orders.sql": """
        select
            o.order_id,
            o.customer_id,
            o.order_date,
            o.status,
            count(i.order_item_id) as items,
            count(p.product_id) as items_of_known_products,
            coalesce(sum(i.quantity * i.unit_price), 0) as revenue
        from {{ ref('stg_orders') }} as o
        left join {{ ref('stg_order_items') }} as i on i.order_id = o.order_id
        left join {{ ref('stg_products') }} as p on p.product_id = i.product_id
        group by o.order_id, o.customer_id, o.order_date, o.status
        """,
    "marts/dim_customers.sql": """
        select c.customer_id, c.customer_name, c.country, count(o.order_id) as orders
        from {{ ref('stg_customers') }} as c
        left join {{ ref('stg_orders') }} as o on o.customer_id = c.customer_id
        group by c.customer_id, c.customer_name, c.country
        """,
}

SCHEMA_BEFORE = """
models:
  - name: stg_customers
    columns:
      - name: customer_id
        data_tests: [unique, not_null]
  - name: stg_products
    columns:
      - name: product_id
        data_tests: [unique, not_null]
  - name: stg_orders
    columns:
      - name: order_id
        data_tests: [unique, not_null]
      - name: status
        data_tests:
          - accepted_values:
              arguments: {values: [placed, shipped, completed, returned]}
  - name: stg_order_items
    columns:
      - name: order_item_id
        data_tests: [unique, not_null]
      - name: product_id
        data_tests:
          - not_null
          - relationships:
              arguments: {to: ref('stg_products'), field: product_id}
  - name: fct_orders
    columns:
      - name: order_id
        data_tests: [unique, not_null]
      - name: customer_id
        data_tests:
          - relationships:
              arguments: {to: ref('dim_customers'), field: customer_id}
  - name: dim_customers
    columns:
      - name: customer_id
        data_tests: [unique, not_null]
"""

EXPOSURES = """
exposures:
  - name: revenue_dashboard
    type: dashboard
    maturity: high
    owner: {name: Finance, email: finance@example.com}
    depends_on: [ref('fct_orders')]
  - name: churn_model
    type: ml
    maturity: medium
    owner: {name: Data Science, email: ds@example.com}
    depends_on: [ref('dim_customers')]
"""

# --- the adoption, as the README shows it -------------------------------------------------------

ADOPT = {
    "stg_products": "meta: {sluice: {key: product_id}}",
    # a NULL key and three bad statuses are 4 `high` rows of 32, 12.5%: over the default
    # 10%, within this gate
    "stg_orders": "meta: {sluice: {key: order_id, deduplicate: true, gate: {high: '20%'}}}",
    "stg_order_items": "meta: {sluice: {key: order_item_id}}",
}
DISPATCH = """dispatch:
  - {macro_namespace: dbt, search_order: ['sluice_test', 'sluice', 'dbt']}
"""


def adopted_schema() -> str:
    text = SCHEMA_BEFORE
    for model, meta in ADOPT.items():
        entry = f"  - name: {model}\n"
        assert text.count(entry) == 1
        text = text.replace(
            entry, f"{entry}    config:\n      materialized: sluice\n      {meta}\n"
        )
    return text


# the only SQL line the adoption needs: the relationship rule of stg_order_items reads
# stg_products, which it does not depend on (README, "Install in a dbt project"; the refused
# build names this line)
DEPENDS_ON = "-- depends_on: {{ ref('stg_products') }}\n"

RELATIONSHIP_RULE = "relationships_stg_order_items_product_id__product_id__ref_stg_products_"
STATUS_RULE = "accepted_values_stg_orders_status__placed__shipped__completed__returned"
UNIQUE_RULE = "unique_stg_orders_order_id"
NOT_NULL_RULE = "not_null_stg_orders_order_id"


def changed_lines(before: str, after: str) -> int:
    """Lines added, changed or removed from one text to the other."""
    a, b = before.splitlines(), after.splitlines()
    count = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
        if tag != "equal":
            count += max(i2 - i1, j2 - j1)
    return count


def write_orders(project: DbtProject, bad_status: dict[int, str]) -> None:
    project.write("seeds/raw_orders.csv", csv(ORDER_COLUMNS, orders_rows(bad_status)))


def write_existing_project(project: DbtProject) -> None:
    project.write("seeds/raw_customers.csv", csv(("customer_id", "name", "country"), CUSTOMERS))
    project.write(
        "seeds/raw_products.csv", csv(("product_id", "name", "category", "list_price"), PRODUCTS)
    )
    project.write("seeds/raw_orders.csv", csv(ORDER_COLUMNS, faulty_orders()))
    project.write("seeds/raw_order_items.csv", csv(ITEM_COLUMNS, faulty_items()))
    for path, sql in MODELS.items():
        project.write(f"models/{path}", sql)
    project.write("models/schema.yml", SCHEMA_BEFORE)
    project.write("models/exposures.yml", EXPOSURES)
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(PROJECT_CONFIG)
    # a project without packages: nothing of sluice is installed yet (and the harness is told
    # not to install it before the first dbt command)
    (project.root / "packages.yml").unlink()
    project._deps_done = True


def adopt(project: DbtProject, *, depends_on: bool) -> None:
    """README, "Install in a dbt project": the package, then per model the materialization and
    its key; "dbt's own tests as rules": the dispatch block."""
    project.write("packages.yml", PACKAGES_YML)
    project.install_package()  # what `dbt deps` does for a `local:` package
    project.write("models/schema.yml", adopted_schema())
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(DISPATCH)
    if depends_on:
        add_depends_on(project)


def add_depends_on(project: DbtProject) -> None:
    path = project.root / "models" / "staging" / "stg_order_items.sql"
    path.write_text(DEPENDS_ON + path.read_text())


# --- reading what happened ----------------------------------------------------------------------


def published_keys(project: DbtProject, model: str, key: str) -> list:
    return [r[0] for r in project.query(f"select {key} from {{schema}}.{model} order by 1")]


def published_orders(project: DbtProject) -> list[tuple]:
    return [
        (r[0], r[1], str(r[2])[:10], r[3])
        for r in project.query(
            "select order_id, customer_id, order_date, status from {schema}.stg_orders order by 1"
        )
    ]


def quarantine(project: DbtProject, model: str) -> dict[tuple[str, int, str], dict]:
    return {
        (r[0], r[1], r[2]): {
            "error_class": r[3],
            "route": r[4],
            "status": r[5],
            "failed_column": r[6],
            "failed_value": r[7],
            "row": {k.lower(): v for k, v in json.loads(r[8]).items()},
            "exception_id": r[9],
        }
        for r in project.query(
            "select record_key, record_copy, rule_name, error_class, route, status, "
            "failed_column, failed_value, row_json, exception_id "
            f"from {{schema}}.{model}__quarantine"
        )
    }


def runs(project: DbtProject, invocation_id: str) -> dict[str, tuple]:
    return {
        r[0]: r[1:]
        for r in project.query(
            "select model_name, rows_in, rows_published, rows_held, rows_set_aside, gate_status "
            f"from {{schema}}.sluice_runs where invocation_id = '{invocation_id}'"
        )
    }


SOURCE_ROWS = {"stg_products": 6, "stg_orders": 32, "stg_order_items": 61}


def assert_accounted(figures: dict[str, tuple]) -> None:
    """Every source row of each adopted model is published, held or set aside, once."""
    for model, (rows_in, published, held, set_aside, _) in figures.items():
        assert rows_in == SOURCE_ROWS[model] == published + held + set_aside, model


def invocation(result) -> str:
    return result.run_results["metadata"]["invocation_id"]


def review(project: DbtProject, capsys, *args: str) -> str:
    code = main(
        ["review", *args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def report(project: DbtProject, capsys, name: str) -> dict:
    out = project.root / "reports" / name
    code = main(
        [
            "report",
            "--project-dir",
            str(project.root),
            "--profiles-dir",
            str(project.root),
            "--format",
            "json",
            "--output-dir",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    return json.loads((out / "impact.json").read_text())


INCIDENTS = "select exposure_name, change_type, status from {schema}.sluice_incidents"


def exposure_statuses(doc: dict) -> dict[str, str]:
    return {e["name"]: e["status"] for e in doc["exposures"]}


def revenue(orders: list[int], items: list[tuple]) -> dict[int, Decimal]:
    """fct_orders' revenue, computed from the seed rows sluice should have published."""
    totals = {order: Decimal("0.00") for order in orders}
    for _, order, _, quantity, price in items:
        if order in totals:
            totals[order] += quantity * price
    return totals


def assert_published(project: DbtProject, *, orders: list[int], items: list[int]) -> None:
    """Exactly these keys are published, each once, in every adopted staging table."""
    for model, key, expected in (
        ("stg_orders", "order_id", orders),
        ("stg_order_items", "order_item_id", items),
        ("stg_products", "product_id", [p[0] for p in PRODUCTS]),
    ):
        assert published_keys(project, model, key) == sorted(expected), model


def fct_revenue(project: DbtProject) -> dict[int, Decimal]:
    return {
        r[0]: Decimal(str(r[1])).quantize(Decimal("0.01"))
        for r in project.query("select order_id, revenue from {schema}.fct_orders")
    }


# --- the adoption -------------------------------------------------------------------------------


@SNOWFLAKE_TOO
def test_adopting_sluice_in_an_existing_project(make_project, engine, capsys):
    project = make_project(engine)
    write_existing_project(project)
    project_yml_before = (project.root / "dbt_project.yml").read_text()

    # without sluice: the project's own tests find the bad rows, and the marts are not built
    plain = project.dbt("build", expect=1)
    assert plain.status(UNIQUE_RULE) == "fail"
    assert plain.status(STATUS_RULE) == "fail"
    assert plain.status(RELATIONSHIP_RULE) == "fail"
    assert plain.status("fct_orders") == "skipped"
    assert plain.status("dim_customers") == "skipped"

    # the adoption: YAML only, and few lines of it
    adopt(project, depends_on=False)
    yaml_changed = (
        changed_lines("", PACKAGES_YML)
        + changed_lines(SCHEMA_BEFORE, adopted_schema())
        + changed_lines(project_yml_before, (project.root / "dbt_project.yml").read_text())
    )
    assert yaml_changed <= 20, yaml_changed

    # a relationship rule reading a model that is not upstream is refused, naming the fix
    refused = project.dbt("build", expect=None)
    assert refused.returncode != 0
    text = " ".join(refused.output.split())
    assert (
        f"sluice: model 'stg_order_items', rule '{RELATIONSHIP_RULE}', key 'to': "
        "the rule reads model 'stg_products'" in text
    ), refused.output[-3000:]
    assert (
        "Add this line to models/staging/stg_order_items.sql: "
        "-- depends_on: {{ ref('stg_products') }}" in text
    )
    assert refused.run_results is None or not refused.run_results["results"]
    for model in ADOPT:
        assert not project.relation_exists(f"{model}__quarantine")
    assert not project.relation_exists("sluice_runs")

    add_depends_on(project)
    first = project.dbt("build")
    # the gate passes: nothing downstream is skipped, every adopted test passes and says what
    # its rule held back in this build
    assert {
        r["unique_id"]: r["status"]
        for r in first.run_results["results"]
        if r["status"] not in ("success", "pass") and not r["unique_id"].startswith("exposure.")
    } == {}
    output = " ".join(first.output.split())
    for rule, model, held, route in (
        (STATUS_RULE, "stg_orders", 3, "quarantine"),
        (NOT_NULL_RULE, "stg_orders", 1, "quarantine"),
        (UNIQUE_RULE, "stg_orders", 1, "deduplicate"),
        (RELATIONSHIP_RULE, "stg_order_items", 1, "manual_review"),
    ):
        assert first.status(rule) == "pass"
        assert (
            f"sluice: rule '{rule}' held {held} row(s) of model '{model}' in this build "
            f"(route {route}); they are in" in output
        ), rule
        assert f"{model}__quarantine" in output

    # row by row: each bad row held (or set aside) with its class and its evidence
    orders = quarantine(project, "stg_orders")
    null_key = next(key for key, _, rule in orders if rule == "sluice_record_key")
    assert null_key.startswith("[null]#")
    assert {k: (v["error_class"], v["route"], v["status"]) for k, v in orders.items()} == {
        **{
            (f"[{key}]", 1, STATUS_RULE): ("invalid_value", "quarantine", "open")
            for key in BAD_STATUS
        },
        (null_key, 1, "sluice_record_key"): ("missing_required_field", "quarantine", "open"),
        (null_key, 1, NOT_NULL_RULE): ("missing_required_field", "quarantine", "open"),
        (f"[{DUPLICATE}]", 2, UNIQUE_RULE): ("duplicate_event", "deduplicate", "open"),
    }
    for key, status in BAD_STATUS.items():
        held = orders[(f"[{key}]", 1, STATUS_RULE)]
        assert (held["failed_column"], held["failed_value"]) == ("status", status)
        assert held["row"] == dict(zip(ORDER_COLUMNS, faulty_orders()[key - 1]))
    for rule in ("sluice_record_key", NOT_NULL_RULE):
        held = orders[(null_key, 1, rule)]
        assert (held["failed_column"], held["failed_value"]) == ("order_id", None)
        assert held["row"] == dict(zip(ORDER_COLUMNS, NULL_ORDER))
    # no order_by on an adopted `unique`: the first copy by content is kept (README, "Record
    # identity"), here the original; the corrected copy is set aside, not lost
    set_aside = orders[(f"[{DUPLICATE}]", 2, UNIQUE_RULE)]
    assert (set_aside["failed_column"], set_aside["failed_value"]) == ("order_id", str(DUPLICATE))
    assert set_aside["row"]["status"] == "shipped"
    items = quarantine(project, "stg_order_items")
    assert list(items) == [(f"[{ORPHAN_ITEM[0]}]", 1, RELATIONSHIP_RULE)]
    orphan = items[(f"[{ORPHAN_ITEM[0]}]", 1, RELATIONSHIP_RULE)]
    assert (orphan["error_class"], orphan["route"], orphan["status"]) == (
        "reference_mismatch",
        "manual_review",
        "open",
    )
    assert (orphan["failed_column"], orphan["failed_value"]) == ("product_id", "P99")
    assert orphan["row"]["order_item_id"] == ORPHAN_ITEM[0]
    assert orphan["row"]["product_id"] == "P99"
    assert quarantine(project, "stg_products") == {}

    # every good row published once; every source row published, held or set aside
    good = sorted(set(good_orders()) - set(BAD_STATUS))
    assert_published(project, orders=good, items=[i[0] for i in good_items()])
    assert published_orders(project) == [row for key, row in good_orders().items() if key in good]
    assert len(faulty_orders()) == SOURCE_ROWS["stg_orders"]
    assert len(faulty_items()) == SOURCE_ROWS["stg_order_items"]
    assert_accounted(runs(project, invocation(first)))
    assert runs(project, invocation(first)) == {
        "stg_products": (6, 6, 0, 0, "passed"),
        "stg_orders": (32, 27, 4, 1, "passed"),
        "stg_order_items": (61, 60, 1, 0, "passed"),
    }
    assert fct_revenue(project) == revenue(good, good_items())
    assert exposure_statuses(report(project, capsys, "first")) == {
        "revenue_dashboard": "degraded",  # rows held back upstream
        "churn_model": "degraded",
    }
    assert sorted(project.query(INCIDENTS)) == [
        ("churn_model", "opened", "degraded"),
        ("revenue_dashboard", "opened", "degraded"),
    ]

    # reviewers decide, with the README's CLI: release the unknown status, the item of an
    # unknown product and the corrected copy of the repeated order, reject another order; the
    # source fixes one status, and the rejected one
    said = review(
        project,
        capsys,
        "release",
        orders[(f"[{RELEASED_STATUS}]", 1, STATUS_RULE)]["exception_id"],
        orphan["exception_id"],
        set_aside["exception_id"],
        "--by",
        "ana",
        "--reason",
        "'lost' is real; P99 is a new product; the second copy of 20 is the right one",
    )
    assert "decided: release of 3 exception" in said
    rejected = orders[(f"[{REJECTED_STATUS}]", 1, STATUS_RULE)]["exception_id"]
    said = review(project, capsys, "reject", rejected, "--by", "ana", "--reason", "test order")
    assert "decided: reject of 1 exception" in said
    fixed = {**BAD_STATUS}
    for key in (FIXED_STATUS, REJECTED_STATUS):
        project.execute(
            f"update {{schema}}.raw_orders set status = '{good_orders()[key][3]}' "
            f"where order_id = {key}"
        )
        del fixed[key]
    write_orders(project, fixed)
    # `dbt run`: a released row is published although it breaks its test, and the adopted
    # test then fails on it (README, "Tests on sluice models"), which in `dbt build` would skip
    # the marts this step checks
    decided = project.dbt("run")
    orders = quarantine(project, "stg_orders")
    assert {k[0]: v["status"] for k, v in orders.items() if k[2] == STATUS_RULE} == {
        f"[{RELEASED_STATUS}]": "released",
        f"[{REJECTED_STATUS}]": "rejected",  # out for good, although its row passes now
        f"[{FIXED_STATUS}]": "recovered",
    }
    assert (
        quarantine(project, "stg_order_items")[(f"[{ORPHAN_ITEM[0]}]", 1, RELATIONSHIP_RULE)][
            "status"
        ]
        == "released"
    )
    published = sorted([*good, RELEASED_STATUS, FIXED_STATUS])
    assert_published(project, orders=published, items=[i[0] for i in faulty_items()])
    assert orders[(f"[{DUPLICATE}]", 2, UNIQUE_RULE)]["status"] == "released"
    # each row published once: the released copy of order 20 in place of the kept one, which
    # is set aside now (a release never publishes a key twice)
    expected_rows = {row[0]: row for row in good_orders().values() if row[0] in published}
    expected_rows[RELEASED_STATUS] = faulty_orders()[RELEASED_STATUS - 1]
    expected_rows[DUPLICATE] = (*expected_rows[DUPLICATE][:3], "shipped")
    assert published_orders(project) == sorted(expected_rows.values())
    assert_accounted(runs(project, invocation(decided)))
    assert runs(project, invocation(decided)) == {
        "stg_products": (6, 6, 0, 0, "passed"),
        "stg_orders": (32, 29, 2, 1, "passed"),
        "stg_order_items": (61, 61, 0, 0, "passed"),
    }
    # the marts: the released item counts in order 5's revenue, the released order is there
    expected = revenue(published, faulty_items())
    assert fct_revenue(project) == expected
    assert (
        expected[ORPHAN_ITEM[1]]
        == revenue([ORPHAN_ITEM[1]], good_items())[ORPHAN_ITEM[1]] + ORPHAN_ITEM[3] * ORPHAN_ITEM[4]
    )

    # a load that breaks the gate: a third of the statuses unknown
    orders_before = project.query("select * from {schema}.stg_orders order by 1, 4")
    fct_before = project.query("select * from {schema}.fct_orders order by 1")
    unknown = [key for key in range(1, 12) if key != RELEASED_STATUS]
    write_orders(project, {**fixed, **dict.fromkeys(unknown, "unknown")})
    held = project.dbt("build", expect=1)
    assert held.status("stg_orders") == "error"
    assert "sluice gate held publication of model 'stg_orders'" in held.output
    assert held.status(STATUS_RULE) == "skipped"
    assert held.status("fct_orders") == "skipped"
    assert held.status("dim_customers") == "skipped"
    # the last good data stays published, and so do the marts built on it
    assert project.query("select * from {schema}.stg_orders order by 1, 4") == orders_before
    assert project.query("select * from {schema}.fct_orders order by 1") == fct_before
    orders = quarantine(project, "stg_orders")
    for key in unknown:
        exception = orders[(f"[{key}]", 1, STATUS_RULE)]
        assert (exception["error_class"], exception["status"], exception["failed_value"]) == (
            "invalid_value",
            "open",
            "unknown",
        )
    # nothing is published on a held gate: the rows that passed are counted nowhere
    assert runs(project, invocation(held)) == {
        "stg_products": (6, 6, 0, 0, "passed"),
        "stg_orders": (32, 0, 2 + len(unknown), 1, "held"),
        "stg_order_items": (61, 61, 0, 0, "passed"),
    }
    # the released item is published and breaks the relationship: its test says so (README,
    # "Tests on sluice models"), from now on at every build until a reviewer retries it
    assert held.status(RELATIONSHIP_RULE) == "fail"
    assert exposure_statuses(report(project, capsys, "held")) == {
        "revenue_dashboard": "blocked",  # the failing relationship test upstream
        "churn_model": "stale",  # the gate held stg_orders: the last good data
    }
    assert sorted(project.query(INCIDENTS)) == [
        ("churn_model", "opened", "degraded"),
        ("churn_model", "updated", "stale"),
        ("revenue_dashboard", "opened", "degraded"),
        ("revenue_dashboard", "updated", "blocked"),
    ]


@SNOWFLAKE_TOO
def test_deciding_every_held_row_closes_the_incidents(make_project, engine, capsys):
    """Once every held row is decided (rejected; the duplicate copy is set aside), the
    exposures are healthy again and the incidents the first report opened close."""
    project = make_project(engine)
    write_existing_project(project)
    adopt(project, depends_on=True)
    project.dbt("build")
    assert exposure_statuses(report(project, capsys, "first")) == {
        "revenue_dashboard": "degraded",
        "churn_model": "degraded",
    }
    for route in ("quarantine", "manual_review"):
        said = review(
            project,
            capsys,
            "reject",
            "--status",
            "open",
            "--route",
            route,
            "--by",
            "ana",
            "--reason",
            "not ours to publish",
        )
        assert "decided: reject of" in said
    decided = project.dbt("build")
    assert {
        (key, rule, e["status"])
        for model in ADOPT
        for (key, _, rule), e in quarantine(project, model).items()
        if e["status"] != "rejected"
    } == {(f"[{DUPLICATE}]", UNIQUE_RULE, "open")}  # the set-aside copy
    # the rejected rows stay held, the copy set aside: nothing is published that was not before
    good = sorted(set(good_orders()) - set(BAD_STATUS))
    assert_published(project, orders=good, items=[i[0] for i in good_items()])
    assert runs(project, invocation(decided))["stg_orders"] == (32, 27, 4, 1, "passed")
    assert exposure_statuses(report(project, capsys, "decided")) == {
        "revenue_dashboard": "healthy",
        "churn_model": "healthy",
    }
    assert sorted(project.query(INCIDENTS)) == [
        ("churn_model", "closed", "healthy"),
        ("churn_model", "opened", "degraded"),
        ("revenue_dashboard", "closed", "healthy"),
        ("revenue_dashboard", "opened", "degraded"),
    ]
