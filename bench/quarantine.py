"""Benchmark: a sluice model with quarantine vs. a plain table model plus the same six checks as
dbt tests with store_failures, both through `dbt build` on DuckDB, measured side by side.

    python bench/quarantine.py [--engine duckdb|postgres] [--rows N ...] [--repeat 3]
                               [--shapes select join incremental dependents]

Input: a generated table of N events and a 200k-row customer dimension. Model shapes: `select *`;
a join to the dimension, an aggregate joined back and a window function; and an incremental
model (sluice `incremental: true` vs dbt's delete+insert incremental on the key) whose timed
build takes a new batch of 50k events after a first build of N (the batch is taken out of the
published table again, untimed, before every run, so each run loads the same batch). Six rules: two required
fields, accepted values, a reference to the dimension, a duplicate event, one business rule.
Every timed build must exit as expected (the plain one 1, its tests failing on the faults; the
sluice one, and the one with dbt's tests adopted, 0: held rows warn) and publish the expected
rows (bench/_dbt.py: `compare`); sides swap order each round.

`dependents` compares two sluice models instead: the events model with the same six rules, its
relationship rule referencing a sluice model over the dimension (which holds the 1% of
customers with an unknown tier; built once, untimed) instead of the source. One side holds the
events of those customers with them (dependency_held, the default), the other says
`hold_with_parent: false` and holds them as orphans; both publish the same rows.

The last line printed is one JSON object: name, rows, ratio (sluice / plain wall clock, medians,
at the largest size), the dependents ratio (held with parent / plain relationship) and the raw
timings and row counts of every size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import textwrap
from pathlib import Path

import duckdb
from _dbt import (
    PG,
    REPO,
    Side,
    compare,
    dbt_command,
    dbt_results,
    duckdb_counts,
    make_duckdb_project,
    run_dbt,
    write,
)

WORK = REPO / "bench" / ".work" / "quarantine"
DIM_ROWS = 200_000
TIERS = ["bronze", "silver", "gold"]
# the customers the dimension's sluice model holds: an unknown tier, 1 in 100
HELD_CUSTOMER = "i % 100 = 42"
BATCH_ROWS = 50_000
# what every `dbt build -s <model>+` must exit with: the plain model's dbt tests fail on the
# injected faults, by design; the sluice model holds those rows back and its rules pass
PLAIN_EXIT = 1
SLUICE_EXIT = 0
PG_SCHEMA = "bench_quarantine"

# The two model shapes, over the same source: what users run, not only `select *`.
SHAPES: dict[str, str | dict[str, str]] = {
    "select": "select * from {{ source('raw', 'events') }}\n",
    # a join to the 200k-row dimension, an aggregate joined back, a window function
    "join": """
        with per_customer as (
            select customer_id, count(*) as customer_events, sum(amount) as customer_amount
            from {{ source('raw', 'events') }}
            group by customer_id
        )
        select
            e.*,
            c.segment,
            p.customer_events,
            p.customer_amount,
            row_number() over (partition by e.customer_id order by e.loaded_at, e.event_id) as customer_seq
        from {{ source('raw', 'events') }} as e
        left join {{ source('raw', 'customers') }} as c on c.customer_id = e.customer_id
        left join per_customer as p on p.customer_id = e.customer_id
        """,
    "incremental": {
        "sluice": """
            select * from {{ source('raw', 'events') }}
            {% if sluice.is_incremental() %}
            where {{ sluice.batch_filter("loaded_at > (select max(loaded_at) from " ~ this ~ ")") }}
            {% endif %}
            """,
        "plain": """
            select * from {{ source('raw', 'events') }}
            {% if is_incremental() %}
            where loaded_at > (select max(loaded_at) from {{ this }})
            {% endif %}
            """,
    },
    # the events again, their relationship rule referencing the dimension's sluice model
    "dependents": "-- depends_on: {{ ref('dim_customers') }}\nselect * from {{ source('raw', 'events') }}\n",
}
# the sides of each shape (a model `<shape>_<kind>` each), where not the three of select and join
KINDS = {
    "incremental": ("sluice", "plain"),
    "dependents": ("held", "relationship"),
}
DEFAULT_KINDS = ("sluice", "adopted", "plain")
DEFAULT_SHAPES = {
    "duckdb": ["select", "join", "dependents"],
    "postgres": ["select", "join", "incremental"],
}
PARENT = "dim_customers"


def _sql(shape: str, kind: str) -> str:
    sql = SHAPES[shape]
    return textwrap.dedent(sql if isinstance(sql, str) else sql[kind]).strip() + "\n"


# adopted dbt tests read what the sluice model recorded (README: dbt's own tests as rules)
DISPATCH = """
dispatch:
  - macro_namespace: dbt
    search_order: ['bench_quarantine', 'sluice', 'dbt']
"""


def _parent_rules() -> str:
    """The dimension as a sluice model: its tier rule holds 1% of the customers."""
    return f"""
          - name: {PARENT}
            config:
              materialized: sluice
              meta:
                sluice:
                  key: customer_id
                  source_system: bench
                  gate: {{critical: none, high: none, medium: none, low: none}}
            columns:
              - name: tier
                data_tests:
                  - sluice.sluice_accepted_values: {{arguments: {{values: [{", ".join(TIERS)}]}}}}
        """


def _rules(model: str, kind: str, incremental: bool) -> str:
    """The six checks, as sluice rules, as dbt tests with store_failures, or (adopted) as dbt's
    own tests on a sluice model (the business rule stays a sluice rule: dbt has no such test).
    held / relationship: sluice rules whose relationship references the dimension's sluice
    model, holding rows with the customers it holds (held) or not (relationship)."""
    if kind == "adopted":
        return f"""
          - name: {model}
            config:
              materialized: sluice
              meta:
                sluice:
                  key: event_id
                  source_system: bench
                  gate: {{critical: none, high: none, medium: none, low: none}}
            data_tests:
              - sluice.sluice_expression: {{arguments: {{expression: amount >= 0}}}}
            columns:
              - name: event_id
                data_tests: [unique]
              - name: customer_id
                data_tests:
                  - not_null
                  - relationships: {{arguments: {{to: "source('raw', 'customers')", field: customer_id}}}}
              - name: order_id
                data_tests: [not_null]
              - name: status
                data_tests:
                  - accepted_values: {{arguments: {{values: [placed, shipped, delivered, returned]}}}}
        """
    if kind in ("sluice", "held", "relationship"):
        to = "source('raw', 'customers')" if kind == "sluice" else f"ref('{PARENT}')"
        hold = ", hold_with_parent: false" if kind == "relationship" else ""
        return f"""
          - name: {model}
            config:
              materialized: sluice
              meta:
                sluice:
                  key: event_id
                  incremental: {str(incremental).lower()}
                  source_system: bench
                  gate: {{critical: none, high: none, medium: none, low: none}}
            data_tests:
              - sluice.sluice_expression: {{arguments: {{expression: amount >= 0}}}}
            columns:
              - name: event_id
                data_tests:
                  - sluice.sluice_unique: {{arguments: {{order_by: loaded_at}}}}
              - name: customer_id
                data_tests:
                  - sluice.sluice_not_null: {{arguments: {{}}}}
                  - sluice.sluice_relationship: {{arguments: {{to: "{to}", field: customer_id{hold}}}}}
              - name: order_id
                data_tests:
                  - sluice.sluice_not_null: {{arguments: {{}}}}
              - name: status
                data_tests:
                  - sluice.sluice_accepted_values: {{arguments: {{values: [placed, shipped, delivered, returned]}}}}
        """
    config = (
        "{materialized: incremental, unique_key: event_id, incremental_strategy: delete+insert}"
        if incremental
        else "{materialized: table}"
    )
    return f"""
          - name: {model}
            config: {config}
            columns:
              - name: event_id
                data_tests:
                  - unique: {{config: {{store_failures: true}}}}
              - name: customer_id
                data_tests:
                  - not_null: {{config: {{store_failures: true}}}}
                  - relationships: {{arguments: {{to: "source('raw', 'customers')", field: customer_id}}, config: {{store_failures: true}}}}
              - name: order_id
                data_tests:
                  - not_null: {{config: {{store_failures: true}}}}
              - name: status
                data_tests:
                  - accepted_values: {{arguments: {{values: [placed, shipped, delivered, returned]}}, config: {{store_failures: true}}}}
        """


def make_project(root: Path, engine: str) -> None:
    if engine == "duckdb":
        make_duckdb_project(root, "bench_quarantine", root / "bench.duckdb", threads=2)
        schema = "main"
    else:
        make_duckdb_project(root, "bench_quarantine", root / "unused.duckdb", threads=2)
        write(
            root / "profiles.yml",
            f"""
            bench:
              target: dev
              outputs:
                dev: {{type: postgres, host: "{PG["host"]}", port: {PG["port"]}, user: "{PG["user"]}", password: "{PG["password"]}", dbname: "{PG["dbname"]}", schema: {PG_SCHEMA}, threads: 2}}
            """,
        )
        schema = PG_SCHEMA
    with (root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(DISPATCH)
    write(
        root / "models/sources.yml",
        f"""
        sources:
          - name: raw
            schema: {schema}
            tables: [{{name: events}}, {{name: customers}}]
        """,
    )
    write(root / f"models/{PARENT}.sql", "select * from {{ source('raw', 'customers') }}\n")
    models = [_parent_rules()]
    for shape in SHAPES:
        for kind in KINDS.get(shape, DEFAULT_KINDS):
            model = f"{shape}_{kind}"
            write(root / f"models/{model}.sql", _sql(shape, kind))
            models.append(_rules(model, kind, shape == "incremental"))
            if kind == "plain":
                write(
                    root / f"tests/{model}_amount_positive.sql",
                    "{{ config(store_failures=true) }}\n"
                    f"select * from {{{{ ref('{model}') }}}} where not (amount >= 0)\n",
                )
    write(
        root / "models/schema.yml",
        "models:\n"
        + "\n".join(textwrap.indent(textwrap.dedent(m).strip("\n"), "  ") for m in models)
        + "\n",
    )


def _events(start: int, stop: int, engine: str) -> str:
    """Events start..stop-1, breaking each rule in about 0.1% of rows."""
    if engine == "duckdb":
        series, cat, status = (
            f"range({start}, {stop}) t(i)",
            "||",
            "['placed', 'shipped', 'delivered', 'returned'][1 + i % 4]",
        )
        ts = "timestamp '2024-01-01' + to_seconds(i)"
    else:
        series, cat = f"generate_series({start}, {stop - 1}) as t(i)", "||"
        status = "(array['placed', 'shipped', 'delivered', 'returned'])[1 + i % 4]"
        ts = "timestamp '2024-01-01' + i * interval '1 second'"
    return f"""
            select
                case when i % 997 = 5 then i - 1 else i end as event_id,
                case when i % 1009 = 7 then null
                     when i % 1013 = 9 then 'X' {cat} i
                     else 'C' {cat} (i % {DIM_ROWS}) end as customer_id,
                case when i % 1019 = 11 then null else 'O' {cat} (i / 3) end as order_id,
                case when i % 1021 = 13 then 'lost' else {status} end as status,
                case when i % 1031 = 17 then -1.0 else (i % 500) * 1.25 end as amount,
                {ts} as loaded_at,
                'sku_' {cat} (i % 5000) as sku,
                i % 13 as quantity,
                'warehouse_' {cat} (i % 11) as warehouse
            from {series}"""


def _execute(root: Path, engine: str, statements: list[str]) -> None:
    """Statements with `{s}` for the source schema's prefix."""
    if engine == "duckdb":
        with duckdb.connect(str(root / "bench.duckdb")) as conn:
            for sql in statements:
                conn.execute(sql.format(s=""))
        return
    import psycopg2

    conn = psycopg2.connect(**PG)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"create schema if not exists {PG_SCHEMA}")
            for sql in statements:
                cur.execute(sql.format(s=PG_SCHEMA + "."))
    finally:
        conn.close()


def settle(engine: str) -> None:
    """PostgreSQL: vacuum and analyze the tables the previous run left (untimed), so that
    autovacuum does not do that work for one side while the next side is being timed."""
    if engine != "postgres":
        return
    import psycopg2

    conn = psycopg2.connect(**PG)
    conn.autocommit = True  # VACUUM runs outside a transaction
    try:
        with conn.cursor() as cur:
            cur.execute("select tablename from pg_tables where schemaname = %s", (PG_SCHEMA,))
            for (table,) in cur.fetchall():
                cur.execute(f'vacuum analyze {PG_SCHEMA}."{table}"')
    finally:
        conn.close()


def generate(root: Path, rows: int, engine: str) -> None:
    """The source: N events and the 200k-row dimension; every model of a former run dropped."""
    tiers = _tiers()
    if engine == "duckdb":
        (root / "bench.duckdb").unlink(missing_ok=True)
        dim_series = f"range({DIM_ROWS}) t(i)"
        tier = f"[{tiers}][1 + i % {len(TIERS)}]"
    else:
        dim_series = f"generate_series(0, {DIM_ROWS - 1}) as t(i)"
        tier = f"(array[{tiers}])[1 + i % {len(TIERS)}]"
        _execute(root, engine, [f"drop schema if exists {PG_SCHEMA} cascade"])
    analyze = ["analyze {s}events", "analyze {s}customers"] if engine == "postgres" else []
    _execute(
        root,
        engine,
        [
            f"""create table {{s}}customers as
            select
                'C' || i as customer_id,
                'segment_' || (i % 7) as segment,
                case when {HELD_CUSTOMER} then 'unknown' else {tier} end as tier
            from {dim_series}""",
            f"create table {{s}}events as {_events(0, rows, engine)}",
            *analyze,
        ],
    )


def add_batch(root: Path, rows: int, engine: str) -> str:
    """The next batch (events rows..rows+50k) into the source; returns its first loaded_at."""
    _execute(root, engine, [f"insert into {{s}}events {_events(rows, rows + BATCH_ROWS, engine)}"])
    seconds = f"timestamp '2024-01-01' + interval '{rows} seconds'"
    return seconds


def counts(engine: str, queries: dict[str, str]) -> dict[str, int]:
    if engine == "duckdb":
        return duckdb_counts(WORK / "bench.duckdb", queries)
    import psycopg2

    out = {}
    conn = psycopg2.connect(**PG)
    try:
        with conn.cursor() as cur:
            cur.execute(f"set search_path to {PG_SCHEMA}")
            for name, sql in queries.items():
                cur.execute(sql)
                row = cur.fetchone()
                out[name] = -1 if row is None or row[0] is None else int(row[0])
    finally:
        conn.close()
    return out


def side(
    model: str,
    exit_code: int,
    rows: int,
    engine: str,
    batch_from: str | None,
    more: dict[str, tuple[str, int]] | None = None,
) -> Side:
    """`dbt build -s model` (the model and its tests); after each run, the nodes dbt ran and the
    rows published, checked. batch_from: an incremental model's batch starts there, and is taken
    out of the published table again (untimed) before every run. more: {name: (query, the count
    it must give)}."""
    queries = {"published": f"select count(*) from {model}"}
    expect = {} if batch_from else {"published": rows}  # a table model publishes every row
    if not model.endswith("_plain"):
        last_run = (
            f"from sluice_runs where model_name = '{model}' order by finished_at desc limit 1"
        )
        queries["quarantine"] = f"select count(*) from {model}__quarantine"
        queries["rows_in"] = f"select rows_in {last_run}"
        if not batch_from:  # an incremental run's counts are checked against its warm-up's
            queries["published_not_logged"] = (
                f"select (select count(*) from {model}) - rows_published {last_run}"
            )
            expect = {"rows_in": rows, "published_not_logged": 0}  # every row read, as logged
    for name, (sql, count) in (more or {}).items():
        queries[name] = sql
        expect[name] = count
    take_out_batch = f"delete from {{s}}{model} where loaded_at >= {batch_from}"

    def prepare() -> None:
        if batch_from:
            _execute(WORK, engine, [take_out_batch])
        settle(engine)

    return Side(
        run=lambda: run_dbt(WORK, "build", "-s", model),
        exit_code=exit_code,
        rows=lambda _run: {**dbt_results(WORK), **counts(engine, queries)},
        expect_rows=expect,
        prepare=prepare,
    )


def _tiers() -> str:
    return ", ".join(f"'{t}'" for t in TIERS)


def _from_source(engine: str, queries: dict[str, str]) -> dict[str, int]:
    """Counts read from the source tables alone, untimed."""
    return counts(engine, {name: sql.format(tiers=_tiers()) for name, sql in queries.items()})


# what the events' six rules publish, and what they hold, worked out from the source alone: a row
# is published when it passes every rule and is the first copy of its event_id
SOURCE_COUNTS = {
    "published": """
        select count(*) from (
            select
                row_number() over (partition by e.event_id order by e.loaded_at) as copy,
                coalesce(e.customer_id is not null and c.tier in ({tiers})
                    and e.order_id is not null
                    and e.status in ('placed', 'shipped', 'delivered', 'returned')
                    and e.amount >= 0, false) as passes
            from events as e left join customers as c on c.customer_id = e.customer_id
        ) as t
        where passes and copy = 1""",
    # events of the customers the dimension's sluice model holds
    "of_held_customers": """
        select count(*) from events as e join customers as c on c.customer_id = e.customer_id
        where c.tier not in ({tiers})""",
    # events of customers missing from the dimension
    "orphans": """
        select count(*) from events as e
        where e.customer_id is not null
          and not exists (select 1 from customers as c where c.customer_id = e.customer_id)""",
    "held_customers": "select count(*) from customers where tier not in ({tiers})",
}


def build_parent(engine: str) -> dict[str, int]:
    """The dimension's sluice model, built once (untimed; --indirect-selection cautious: not the
    events models' relationship rules, which read it); checked to hold the customers it should.
    Returns the events models' expected counts."""
    first = run_dbt(WORK, "build", "-s", PARENT, "--indirect-selection", "cautious")
    if first.exit_code != SLUICE_EXIT:
        raise SystemExit(f"building {PARENT} exited {first.exit_code}\n{first.output[-4000:]}")
    expected = _from_source(engine, SOURCE_COUNTS)
    held = counts(
        engine, {"held": f"select rows_held from sluice_runs where model_name = '{PARENT}'"}
    )
    if held["held"] != expected["held_customers"]:
        raise SystemExit(
            f"{PARENT} holds {held['held']} customers, expected {expected['held_customers']}"
        )
    return expected


def dependents_sides(rows: int, engine: str, expected: dict[str, int]) -> dict[str, Side]:
    """The events held with their customers, and held as orphans: the same rows published and
    held, under other classes; the dimension's model is not built again."""

    def held(model: str, error_class: str) -> str:
        return (
            f"select count(*) from {model}__quarantine "
            f"where error_class = '{error_class}' and status = 'open'"
        )

    parent_builds = f"select count(*) from sluice_runs where model_name = '{PARENT}'"
    of_held, orphans = expected["of_held_customers"], expected["orphans"]
    sides = {}
    for kind, with_parent, as_orphans in (("held", of_held, 0), ("relationship", 0, of_held)):
        model = f"dependents_{kind}"
        sides[kind] = side(
            model,
            SLUICE_EXIT,
            rows,
            engine,
            None,
            {
                "published": (f"select count(*) from {model}", expected["published"]),
                "dependency_held": (held(model, "dependency_held"), with_parent),
                "reference_mismatch": (held(model, "reference_mismatch"), orphans + as_orphans),
                "parent_builds": (parent_builds, 1),
            },
        )
    return sides


def statements(model: str, side: Side) -> int:
    """SQL calls dbt sent for the model and its tests in one (untimed) build, counted from dbt's
    own debug log (one SQLQuery event per call, metadata queries included). A call is one round
    trip: statements sent together (sluice.run_together on DuckDB and PostgreSQL, dbt's own
    multi-statement hooks) count once; on Snowflake dbt sends each statement on its own."""
    log = WORK / "logs" / "dbt.log"
    log.unlink(missing_ok=True)
    if side.prepare is not None:
        side.prepare()
    subprocess.run(
        dbt_command(
            WORK, "build", "-s", model, "--log-format-file", "json", "--log-level-file", "debug"
        ),
        capture_output=True,
        check=False,
    )
    n = 0
    for line in log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(event, dict) or event.get("info", {}).get("name") != "SQLQuery":
            continue
        conn_name = str(event.get("data", {}).get("conn_name", ""))
        if f".{model}" in conn_name or f"_{model}_" in conn_name or conn_name.endswith(f".{model}"):
            n += 1
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["duckdb", "postgres"], default="duckdb")
    parser.add_argument("--rows", type=int, nargs="+", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shapes", nargs="+", default=None, choices=list(SHAPES))
    args = parser.parse_args()
    sizes = args.rows or ([5_000_000] if args.engine == "duckdb" else [1_000_000])
    shapes = args.shapes or DEFAULT_SHAPES[args.engine]

    make_project(WORK, args.engine)
    subprocess.run(dbt_command(WORK, "deps"), check=True)
    results = []
    for rows in sizes:
        generate(WORK, rows, args.engine)
        # the incremental shape last: its batch is added to the source the others read
        for shape in sorted(shapes, key=lambda name: name == "incremental"):
            batch = None
            if shape == "incremental":  # the first build, untimed; then the batch arrives
                first = run_dbt(WORK, "build", "-s", "incremental_sluice", "incremental_plain")
                if first.exit_code != PLAIN_EXIT:
                    raise SystemExit(f"first incremental build exited {first.exit_code}")
                batch = add_batch(WORK, rows, args.engine)
            if shape == "dependents":
                sides = dependents_sides(rows, args.engine, build_parent(args.engine))
                found = compare(sides, args.repeat)
                ratio = found.ratio("held", "relationship")
                stmts = {name: statements(f"{shape}_{name}", sides[name]) for name in sides}
                print(
                    f"{args.engine} {rows:>9} rows, {shape:>11}: held with parent "
                    f"{found.median('held'):.2f}s, plain relationship "
                    f"{found.median('relationship'):.2f}s (medians), ratio {ratio:.3f}; "
                    f"statements held {stmts['held']}, relationship {stmts['relationship']}"
                )
                results.append(
                    {
                        "rows": rows,
                        "shape": shape,
                        "dependents_vs_relationship": round(ratio, 3),
                        "statements": stmts,
                        "published": found.rows["held"]["published"],
                        "quarantine_rows": found.rows["held"]["quarantine"],
                        "dependency_held": found.rows["held"]["dependency_held"],
                        **found.summary(),
                    }
                )
                continue
            sides = {
                "sluice": side(f"{shape}_sluice", SLUICE_EXIT, rows, args.engine, batch),
                "plain": side(f"{shape}_plain", PLAIN_EXIT, rows, args.engine, batch),
            }
            if shape != "incremental":  # dbt's tests adopted: held rows warn, nothing fails
                sides["adopted"] = side(f"{shape}_adopted", SLUICE_EXIT, rows, args.engine, batch)
            found = compare(sides, args.repeat)
            ratio = found.ratio("sluice", "plain")
            adopted = round(found.ratio("adopted", "sluice"), 3) if "adopted" in sides else None
            stmts = {name: statements(f"{shape}_{name}", sides[name]) for name in sides}
            print(
                f"{args.engine} {rows:>9} rows, {shape:>11}: sluice {found.median('sluice'):.2f}s, "
                f"plain {found.median('plain'):.2f}s (medians), ratio {ratio:.3f}; "
                f"statements sluice {stmts['sluice']}, plain {stmts['plain']}"
                + (
                    f"; adopted dbt tests {found.median('adopted'):.2f}s, {adopted:.3f}x sluice rules"
                    if adopted is not None
                    else ""
                )
            )
            results.append(
                {
                    "rows": rows,
                    "shape": shape,
                    "ratio": round(ratio, 3),
                    "adopted_vs_sluice_rules": adopted,
                    "statements": stmts,
                    "published": found.rows["sluice"]["published"],
                    "quarantine_rows": found.rows["sluice"]["quarantine"],
                    **found.summary(),
                }
            )
    largest = [r for r in results if r["rows"] == sizes[-1]]
    ratios = {r["shape"]: r["ratio"] for r in largest if "ratio" in r}
    dependents = [r["dependents_vs_relationship"] for r in largest if r["shape"] == "dependents"]
    print(
        json.dumps(
            {
                "name": "quarantine",
                "engine": args.engine,
                "rows": sizes[-1],
                "ratio": max(ratios.values()) if ratios else None,
                "ratios": ratios,
                "dependents_vs_relationship": dependents[0] if dependents else None,
                "adopted_vs_sluice_rules": {
                    r["shape"]: r["adopted_vs_sluice_rules"]
                    for r in largest
                    if r.get("adopted_vs_sluice_rules") is not None
                },
                "statements": {r["shape"]: r["statements"] for r in largest},
                "timings": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
