"""`sluice load-state` and `sluice.load_state()` against real builds: the current state of every
model, what is missing and why, a reviewer's acceptance, the history newest first, and an
unknown model."""

from __future__ import annotations

import json

import pytest
import sluice
from sluice.cli import EXIT_USAGE, main
from sluice.loadstate.render import age

RULE = "accepted_values_products_type__tool__part"
# 1 of 10 products has an invalid type: held, within the default gate (10%)
PRODUCTS = [(f"P{i:02d}", "bogus" if i == 7 else ("tool", "part")[i % 2]) for i in range(1, 11)]
ITEMS = [(1, "P01"), (2, "P02"), (3, "P04")]

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
"""
CONFIG = """
seeds:
  sluice_test:
    raw_products: {+column_types: {product_id: varchar(10), type: varchar(10)}}
    raw_items: {+column_types: {item_id: integer, product_id: varchar(10)}}
dispatch:
  - {macro_namespace: dbt, search_order: ['sluice_test', 'sluice', 'dbt']}
"""


def make(project):
    project.write(
        "seeds/raw_products.csv", "product_id,type\n" + "".join(f"{p},{t}\n" for p, t in PRODUCTS)
    )
    project.write(
        "seeds/raw_items.csv", "item_id,product_id\n" + "".join(f"{i},{p}\n" for i, p in ITEMS)
    )
    project.write("models/products.sql", "select product_id, type from {{ ref('raw_products') }}\n")
    project.write("models/items.sql", "select item_id, product_id from {{ ref('raw_items') }}\n")
    project.write("models/schema.yml", SCHEMA)
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(CONFIG)


def load_state(project, capsys, *args, expect=0):
    flags = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    code = main(["load-state", *args, *flags])
    out = capsys.readouterr()
    assert code == expect, out.out + out.err
    return out.out if expect == 0 else out.err


def as_json(project, capsys, *args):
    return json.loads(load_state(project, capsys, *args, "--format", "json"))


def test_load_state_shows_what_each_build_gave(make_project, engine, capsys):
    project = make_project(engine)
    make(project)
    first = project.dbt("build").run_results["metadata"]["invocation_id"]
    text = load_state(project, capsys)
    header, *lines = text.splitlines()
    assert header.split()[:4] == ["model", "state", "as", "of"]
    products = next(line for line in lines if line.startswith("products "))
    assert "exception_filtered" in products
    assert f"1 row held by {RULE}" in products
    assert next(line for line in lines if line.startswith("items ")).split()[1] == "complete"

    states = {s["model_name"]: s for s in as_json(project, capsys)}
    assert sorted(states) == ["items", "products"]
    p = states["products"]
    assert (p["state"], p["batch_id"], p["rows_in"], p["rows_published"], p["rows_held"]) == (
        "exception_filtered",
        first,
        10,
        9,
        1,
    )
    assert RULE in p["missing"]
    assert p["model_unique_id"] == "model.sluice_test.products"
    assert p["as_of"].endswith("Z") and p["published_at"].endswith("Z")
    assert 0 <= p["age_seconds"] < 600
    assert p["accepted_by"] is None and p["inputs"] == []
    assert states["items"]["state"] == "complete" and states["items"]["missing"] is None

    frame = sluice.load_state("products", project.root, profiles_dir=project.root)
    assert list(frame.columns) == list(p)
    row = frame.iloc[0]
    assert (row.state, row.rows_held, row.batch_id) == ("exception_filtered", 1, first)
    assert RULE in row.missing
    assert str(row.as_of.tz) == "UTC"

    # a reviewer accepts this load; a later row without a reason is no acceptance
    decisions = "{schema}.sluice_decisions"
    columns = "decision_id, exception_id, model_unique_id, decision, decided_by, decided_at, reason"
    project.execute(
        f"insert into {decisions} ({columns}) values "
        f"('d1', 'load:{first}', 'model.sluice_test.products', 'accept_load', 'ann', "
        "timestamp '2026-01-02 03:04:05', 'P07 is a known test product'), "
        f"('d2', 'load:{first}', 'model.sluice_test.products', 'accept_load', 'bob', "
        "timestamp '2026-01-03 00:00:00', '')"
    )
    [p] = as_json(project, capsys, "products")
    assert (p["accepted_by"], p["accepted_at"], p["accepted_reason"]) == (
        "ann",
        "2026-01-02T03:04:05Z",
        "P07 is a known test product",
    )
    assert "ann: P07 is a known test product" in load_state(project, capsys, "products")
    frame = sluice.load_state("model.sluice_test.products", project.root, profiles_dir=project.root)
    assert frame.iloc[0].accepted_by == "ann"

    # a second build: two loads, newest first; the acceptance stays with the first
    second = project.dbt("build").run_results["metadata"]["invocation_id"]
    loads = as_json(project, capsys, "products", "--history")
    assert [(s["batch_id"], s["accepted_by"]) for s in loads] == [(second, None), (first, "ann")]
    assert loads[0]["as_of"] >= loads[1]["as_of"]
    assert {s["state"] for s in loads} == {"exception_filtered"}
    text = load_state(project, capsys, "products", "--history")
    header, *lines = text.splitlines()
    assert header.split()[:2] == ["batch", "model"]
    assert [line.split()[0] for line in lines] == [second, first]
    history = sluice.load_state("products", project.root, history=True, profiles_dir=project.root)
    assert list(history.batch_id) == [second, first]
    [current] = as_json(project, capsys, "products")
    assert (current["batch_id"], current["accepted_by"]) == (second, None)

    # a model that records no load: the documented exit code for bad input, naming it
    err = load_state(project, capsys, "nope", expect=EXIT_USAGE)
    assert "no load state for model 'nope'" in err and err.startswith("sluice load-state: ")

    # no table yet (as before the first sluice build): nothing recorded, not an error
    elsewhere = "{sluice_load_states_table: not_built_yet}"
    assert load_state(project, capsys, "--vars", elsewhere).strip() == "no load recorded yet"
    assert as_json(project, capsys, "--vars", elsewhere) == []
    assert sluice.load_state(None, project.root, profiles_dir=project.root, vars=elsewhere).empty
    err = load_state(project, capsys, "products", "--vars", elsewhere, expect=EXIT_USAGE)
    assert "no sluice build has recorded a load yet" in err
    assert "needs a MODEL" in load_state(project, capsys, "--history", expect=EXIT_USAGE)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (-3, "0s"),
        (45, "45s"),
        (125, "2m"),
        (3 * 3600 + 300, "3h 05m"),
        (2 * 86400 + 4 * 3600, "2d 04h"),
    ],
)
def test_age_of_data_in_words(seconds, text):
    assert age(seconds) == text
