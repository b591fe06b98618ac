"""Consumers know what they read: a held product holds the order items that reference it
(dependency_held), every build records its load state, and a mart that accepts only complete
input keeps its last good data until the input is complete, or a reviewer accepts one load."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sluice.cli import main

from tests.dbt_harness import SNOWFLAKE_TOO, DbtProject

PRODUCTS = [
    (f"P{i:02d}", ("tool", "part")[i % 2], Decimal(10 * i) + Decimal("0.50")) for i in range(1, 11)
]
BAD_PRODUCT = "P07"
# three orders; the items of P07 are in orders 2 and 3
ITEMS = [
    (1, 1, "P01", 2),
    (2, 1, "P02", 1),
    (3, 2, "P07", 3),
    (4, 2, "P03", 1),
    (5, 3, "P07", 1),
    (6, 3, "P10", 4),
    (7, 3, "P04", 2),
]

PROJECT_CONFIG = """
seeds:
  sluice_test:
    raw_products: {+column_types: {product_id: varchar(10), type: varchar(10), price: 'numeric(10,2)'}}
    raw_items: {+column_types: {item_id: integer, order_id: integer, product_id: varchar(10), quantity: integer}}
models:
  sluice_test:
    marts:
      +materialized: table
      +pre-hook: "{{ sluice.wait_for_inputs() }}"
      +post-hook: "{{ sluice.record_load_state() }}"
"""

MODELS = {
    "staging/products.sql": "select product_id, type, price from {{ ref('raw_products') }}\n",
    "staging/items.sql": (
        "-- depends_on: {{ ref('products') }}\n"
        "select item_id, order_id, product_id, quantity from {{ ref('raw_items') }}\n"
    ),
    "marts/order_revenue.sql": """
        select i.order_id, sum(i.quantity * p.price) as revenue, count(*) as lines
        from {{ ref('items') }} as i
        left join {{ ref('products') }} as p on p.product_id = i.product_id
        group by i.order_id
        """,
    "marts/order_lines.sql": "select order_id, lines from {{ ref('order_revenue') }}\n",
}

SCHEMA = """
models:
  - name: products
    config: {materialized: sluice, meta: {sluice: {key: product_id}}}
    columns:
      - name: type
        data_tests:
          - accepted_values:
              arguments: {values: [tool, part]}
  - name: items
    config: {materialized: sluice, meta: {sluice: {key: item_id}}}
    columns:
      - name: product_id
        data_tests:
          - relationships:
              arguments: {to: ref('products'), field: product_id}
  - name: order_revenue
    config: {meta: {sluice: {accepts: [complete, recovered]}}}
exposures:
  - name: revenue_dashboard
    type: dashboard
    owner: {name: Finance, email: finance@example.com}
    depends_on: [ref('order_revenue')]
    meta: {sluice: {accepts: [complete, recovered]}}
  - name: catalog_app
    type: application
    owner: {name: Shop, email: shop@example.com}
    depends_on: [ref('products')]
    meta: {sluice: {accepts: [complete, recovered]}}
  - name: catalog_search
    type: application
    owner: {name: Shop, email: shop@example.com}
    depends_on: [ref('products')]
"""
DISPATCH = """dispatch:
  - {macro_namespace: dbt, search_order: ['sluice_test', 'sluice', 'dbt']}
"""


def csv(columns: tuple[str, ...], rows: list[tuple]) -> str:
    return "\n".join([",".join(columns), *(",".join(str(v) for v in r) for r in rows)]) + "\n"


def write_products(project: DbtProject, bad: bool) -> None:
    rows = [(p, "bogus" if bad and p == BAD_PRODUCT else t, price) for p, t, price in PRODUCTS]
    project.write("seeds/raw_products.csv", csv(("product_id", "type", "price"), rows))


def make_shop(project: DbtProject, *, bad: bool) -> None:
    write_products(project, bad)
    project.write(
        "seeds/raw_items.csv", csv(("item_id", "order_id", "product_id", "quantity"), ITEMS)
    )
    for path, sql in MODELS.items():
        project.write(f"models/{path}", sql)
    project.write("models/schema.yml", SCHEMA)
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(PROJECT_CONFIG + DISPATCH)


def expected_revenue() -> dict[int, Decimal]:
    price = {p: v for p, _, v in PRODUCTS}
    out: dict[int, Decimal] = {}
    for _, order, product, quantity in ITEMS:
        out[order] = out.get(order, Decimal("0")) + quantity * price[product]
    return out


def revenue(project: DbtProject) -> dict[int, Decimal]:
    return {
        r[0]: Decimal(str(r[1])).quantize(Decimal("0.01"))
        for r in project.query("select order_id, revenue from {schema}.order_revenue")
    }


def load_state(project: DbtProject) -> dict[str, tuple]:
    return {
        r[0]: (r[1], r[2])
        for r in project.query("select model_name, state, missing from {schema}.sluice_load_state")
    }


def sluice(project: DbtProject, capsys, *args: str, expect: int = 0) -> str:
    code = main([*args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)])
    out = capsys.readouterr()
    assert code == expect, out.out + out.err
    return out.out + out.err


def exposures(project: DbtProject, capsys) -> dict[str, tuple[str, list[str]]]:
    """Each exposure's status in the report, and the kinds of its reasons."""
    out = project.root / "reports"
    code = main(
        [
            "report",
            *("--project-dir", str(project.root), "--profiles-dir", str(project.root)),
            *("--format", "json", "--output-dir", str(out)),
        ]
    )
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    doc = json.loads((out / "impact.json").read_text())
    return {
        e["name"]: (e["status"], sorted(r["kind"] for r in e["reasons"])) for e in doc["exposures"]
    }


def held_items(project: DbtProject) -> dict[str, tuple]:
    return {
        r[0]: (r[1], r[2], r[3])
        for r in project.query(
            "select record_key, error_class, status, message from {schema}.items__quarantine"
        )
    }


@SNOWFLAKE_TOO
@pytest.mark.package_models
def test_a_held_product_holds_its_items_and_the_mart_waits(make_project, engine, capsys):
    project = make_project(engine)
    make_shop(project, bad=False)
    project.dbt("seed")
    project.dbt("build")
    clean = revenue(project)
    assert clean == expected_revenue()
    assert {m: s for m, (s, _) in load_state(project).items()} == {
        "products": "complete",
        "items": "complete",
        "order_revenue": "complete",
        "order_lines": "complete",
    }

    # P07 arrives with an invalid type: 1 of 10 products held (10%, within the default gate)
    write_products(project, bad=True)
    project.dbt("seed")
    result = project.dbt("build", expect=1)
    assert result.status("products") == "success"
    assert result.status("items") == "success"
    assert result.status("order_revenue") == "error"
    assert result.status("order_lines") == "skipped"
    assert (
        "model 'order_revenue' is waiting for complete input: items is upstream_held"
        in result.output
    )
    assert (
        "products is exception_filtered (1 row held by accepted_values_products_type__tool__part)"
    ) in result.output
    held = held_items(project)
    assert sorted(held) == ["[3]", "[5]"]
    assert {v[0] for v in held.values()} == {"dependency_held"}
    product_exc = project.query("select exception_id from {schema}.products__quarantine")[0][0]
    assert all(product_exc in v[2] for v in held.values())
    assert sorted(r[0] for r in project.query("select item_id from {schema}.items")) == [
        1,
        2,
        4,
        6,
        7,
    ]
    states = load_state(project)
    assert states["products"][0] == "exception_filtered"
    assert states["items"][0] == "upstream_held"
    assert states["order_revenue"][0] == "held"
    assert revenue(project) == clean  # the last good data stays
    # the report: the dashboard is stale (its mart waits), not blocked; the application that
    # reads products and accepts only complete input is stale, the one that does not, degraded
    assert exposures(project, capsys) == {
        "revenue_dashboard": ("stale", ["input_waiting", "rows_held", "rows_held"]),
        "catalog_app": ("stale", ["rows_held"]),
        "catalog_search": ("degraded", ["rows_held"]),
    }

    # a reviewer accepts these two loads: the mart builds from them, once
    out = sluice(
        project,
        capsys,
        "review",
        "accept-load",
        "products",
        "items",
        "--by",
        "alice",
        "--reason",
        "INC-7: ship without P07",
    )
    assert "accepted: 2 loads by alice" in out
    project.dbt("build", "-s", "order_revenue+")
    partial = {o: v for o, v in clean.items()}
    for _, order, product, quantity in ITEMS:
        if product == BAD_PRODUCT:
            partial[order] -= quantity * dict((p, v) for p, _, v in PRODUCTS)[BAD_PRODUCT]
    assert revenue(project) == partial
    state, missing = load_state(project)["order_revenue"]
    assert state == "upstream_held"
    assert "products is exception_filtered, accepted by alice: INC-7: ship without P07" in missing
    # a new build of products is a new load: not accepted, the mart waits again on what it has
    result = project.dbt("build", expect=1)
    assert result.status("order_revenue") == "error"
    assert revenue(project) == partial
    # the acceptance is sealed with products' decisions at that build, and verifies
    assert "intact" in sluice(project, capsys, "audit", "verify")
    project.execute(
        "update {schema}.sluice_decisions set decided_by = 'mallory' where decision = 'accept_load'"
    )
    assert sluice(project, capsys, "audit", "verify", expect=1)

    # fixed at the source: product, items and mart are published together
    write_products(project, bad=False)
    project.dbt("seed")
    result = project.dbt("build")
    assert {v[1] for v in held_items(project).values()} == {"recovered"}
    states = load_state(project)
    assert states["products"][0] == "recovered"
    assert states["items"][0] == "recovered"
    assert states["order_revenue"][0] == "complete"
    assert states["order_lines"][0] == "complete"
    assert revenue(project) == clean
    assert sorted(r[0] for r in project.query("select item_id from {schema}.items")) == [
        i[0] for i in ITEMS
    ]
    project.dbt("build")
    assert {s for s, _ in load_state(project).values()} == {"complete"}
    assert {status for status, _ in exposures(project, capsys).values()} == {"healthy"}


CHAIN_SCHEMA = """
models:
  - name: products
    config: {materialized: sluice, meta: {sluice: {key: product_id}}}
    columns:
      - name: type
        data_tests:
          - accepted_values:
              arguments: {values: [tool, part]}
  - name: items
    config: {materialized: sluice, meta: {sluice: {key: item_id, gate: {high: '50%'}}}}
    columns:
      - name: product_id
        data_tests:
          - relationships:
              arguments: {to: ref('products'), field: product_id}
  - name: shipments
    config:
      materialized: sluice
      meta: {sluice: {key: shipment_id, incremental: true, batch_id_column: load_batch}}
    columns:
      - name: item_id
        data_tests:
          - sluice.sluice_relationship:
              arguments: {to: ref('items'), field: item_id}
  - name: returns
    config: {materialized: sluice, meta: {sluice: {key: return_id, gate: {high: '60%'}}}}
    columns:
      - name: product_id
        data_tests:
          - relationships:
              arguments: {to: ref('products'), field: product_id}
              config: {meta: {sluice: {hold_with_parent: false}}}
"""
CHAIN_MODELS = {
    "shipments.sql": """
        -- depends_on: {{ ref('items') }}
        select shipment_id, item_id, loaded_at from {{ ref('raw_shipments') }}
        {% if sluice.is_incremental() %}
        where {{ sluice.batch_filter("loaded_at > (select max(loaded_at) from " ~ this ~ ")") }}
        {% endif %}
        """,
    "returns.sql": (
        "-- depends_on: {{ ref('products') }}\n"
        "select return_id, product_id from {{ ref('raw_returns') }}\n"
    ),
}


def quarantined(project: DbtProject, model: str) -> dict[tuple[str, str], str]:
    return {
        (r[0], r[1]): r[2]
        for r in project.query(
            f"select record_key, error_class, status from {{schema}}.{model}__quarantine"
        )
    }


def test_dependents_follow_their_parent_along_a_chain(make_project, engine, capsys):
    """A held product holds its items, and the shipments of those items (an incremental model);
    a rule with hold_with_parent: false treats them as orphans; when a reviewer rejects the
    product, its items become orphans (their dependency exceptions are withdrawn) and the
    shipments stay held with the items."""
    project = make_project(engine)
    make_shop(project, bad=True)
    project.write("models/schema.yml", CHAIN_SCHEMA)
    for path, sql in CHAIN_MODELS.items():
        project.write(f"models/staging/{path}", sql)
    project.write(
        "seeds/raw_shipments.csv",
        csv(
            ("shipment_id", "item_id", "loaded_at"),
            [(s, s, "2024-01-01 00:00:00") for s in (1, 3, 4, 5)],
        ),
    )
    project.write(
        "seeds/raw_returns.csv", csv(("return_id", "product_id"), [(1, "P07"), (2, "P01")])
    )
    project.dbt("seed")
    first = project.dbt("build", "-s", "staging")

    assert quarantined(project, "items") == {
        ("[3]", "dependency_held"): "open",
        ("[5]", "dependency_held"): "open",
    }
    assert quarantined(project, "shipments") == {
        ("[3]", "dependency_held"): "open",
        ("[5]", "dependency_held"): "open",
    }
    assert quarantined(project, "returns") == {("[1]", "reference_mismatch"): "open"}
    shipped = project.query("select shipment_id, load_batch from {schema}.shipments order by 1")
    batch = first.run_results["metadata"]["invocation_id"]
    assert shipped == [(1, batch), (4, batch)]

    product_exc = project.query("select exception_id from {schema}.products__quarantine")[0][0]
    sluice(
        project,
        capsys,
        "review",
        "reject",
        product_exc,
        "--by",
        "bob",
        "--reason",
        "P07 is discontinued",
    )
    project.dbt("build", "-s", "staging")
    assert quarantined(project, "items") == {
        ("[3]", "dependency_held"): "withdrawn",
        ("[5]", "dependency_held"): "withdrawn",
        ("[3]", "reference_mismatch"): "open",
        ("[5]", "reference_mismatch"): "open",
    }
    # the items are still held (as orphans), so are their shipments
    assert quarantined(project, "shipments") == {
        ("[3]", "dependency_held"): "open",
        ("[5]", "dependency_held"): "open",
    }
    latest = project.query(
        "select model_name, state from {schema}.sluice_load_states as l where as_of = "
        "(select max(as_of) from {schema}.sluice_load_states as m where m.model_name = l.model_name)"
    )
    assert dict(latest)["items"] == "exception_filtered"
    assert dict(latest)["shipments"] == "upstream_held"
    # an incremental consumer checkpoints on the batch id: nothing was published again
    assert (
        project.query("select shipment_id, load_batch from {schema}.shipments order by 1")
        == shipped
    )


def test_a_sluice_model_that_accepts_only_complete_input_waits(make_project):
    """The sluice materialization checks its inputs itself, before it writes anything."""
    project = make_project("duckdb")
    make_shop(project, bad=False)
    project.write(
        "models/staging/product_facts.sql",
        "select product_id, price * 2 as double_price from {{ ref('products') }}\n",
    )
    project.write(
        "models/schema.yml",
        SCHEMA.replace(
            "exposures:\n",
            "  - name: product_facts\n"
            "    config:\n      materialized: sluice\n"
            "      meta: {sluice: {key: product_id, accepts: [complete]}}\n"
            "exposures:\n",
        ),
    )
    project.dbt("seed")
    project.dbt("build")
    write_products(project, bad=True)
    project.dbt("seed")
    result = project.dbt("build", expect=1)
    assert result.status("product_facts") == "error"
    assert (
        "model 'product_facts' is waiting for complete input: products is exception_filtered"
        in (result.output)
    )
    assert project.query("select count(*) from {schema}.product_facts") == [(10,)]
    states = dict(
        project.query(
            "select model_name, state from {schema}.sluice_load_states as l where as_of = "
            "(select max(as_of) from {schema}.sluice_load_states as m "
            "where m.model_name = l.model_name)"
        )
    )
    assert states["products"] == "exception_filtered"
    assert states["product_facts"] == "held"
