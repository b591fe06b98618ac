"""Benchmark: a sluice model with quarantine vs. a plain table model plus the same six checks as
dbt tests with store_failures, both through `dbt build` on DuckDB, measured side by side.

    python bench/quarantine.py [--engine duckdb|postgres] [--rows N ...] [--repeat 3]
                               [--shapes select join incremental]

Input: a generated table of N events and a 200k-row customer dimension. Model shapes: `select *`;
a join to the dimension, an aggregate joined back and a window function; and an incremental
model (sluice `incremental: true` vs dbt's delete+insert incremental on the key) whose timed
build takes a new batch of 50k events after a first build of N (the batch is taken out of the
published table again, untimed, before every run, so each run loads the same batch). Six rules: two required
fields, accepted values, a reference to the dimension, a duplicate event, one business rule.
Every timed build must exit as expected (the plain one 1, its tests failing on the faults; the
sluice one, and the one with dbt's tests adopted, 0: held rows warn) and publish the expected
rows (bench/_dbt.py: `compare`); sides swap order each round. The last line printed is one JSON object: name, rows, ratio (sluice / plain wall clock,
medians, at the largest size) and the raw timings and row counts of every size.
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
}
DEFAULT_SHAPES = {"duckdb": ["select", "join"], "postgres": ["select", "join", "incremental"]}


def _sql(shape: str, kind: str) -> str:
    sql = SHAPES[shape]
    return textwrap.dedent(sql if isinstance(sql, str) else sql[kind]).strip() + "\n"


# adopted dbt tests read what the sluice model recorded (README: dbt's own tests as rules)
DISPATCH = """
dispatch:
  - macro_namespace: dbt
    search_order: ['bench_quarantine', 'sluice', 'dbt']
"""


def _rules(model: str, kind: str, incremental: bool) -> str:
    """The six checks, as sluice rules, as dbt tests with store_failures, or (adopted) as dbt's
    own tests on a sluice model (the business rule stays a sluice rule: dbt has no such test)."""
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
    if kind == "sluice":
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
                  - sluice.sluice_relationship: {{arguments: {{to: "source('raw', 'customers')", field: customer_id}}}}
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
    models = []
    for shape in SHAPES:
        for kind in (
            ("sluice", "plain") if shape == "incremental" else ("sluice", "adopted", "plain")
        ):
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
    if engine == "duckdb":
        (root / "bench.duckdb").unlink(missing_ok=True)
        dim_series = f"range({DIM_ROWS}) t(i)"
    else:
        dim_series = f"generate_series(0, {DIM_ROWS - 1}) as t(i)"
        _execute(root, engine, [f"drop schema if exists {PG_SCHEMA} cascade"])
    analyze = ["analyze {s}events", "analyze {s}customers"] if engine == "postgres" else []
    _execute(
        root,
        engine,
        [
            f"""create table {{s}}customers as
            select 'C' || i as customer_id, 'segment_' || (i % 7) as segment from {dim_series}""",
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


def side(model: str, exit_code: int, rows: int, engine: str, batch_from: str | None) -> Side:
    """`dbt build -s model` (the model and its tests); after each run, the nodes dbt ran and the
    rows published, checked. batch_from: an incremental model's batch starts there, and is taken
    out of the published table again (untimed) before every run."""
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
    ratios = {r["shape"]: r["ratio"] for r in largest}
    print(
        json.dumps(
            {
                "name": "quarantine",
                "engine": args.engine,
                "rows": sizes[-1],
                "ratio": max(ratios.values()),
                "ratios": ratios,
                "adopted_vs_sluice_rules": {
                    r["shape"]: r["adopted_vs_sluice_rules"]
                    for r in largest
                    if r["adopted_vs_sluice_rules"] is not None
                },
                "statements": {r["shape"]: r["statements"] for r in largest},
                "timings": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
