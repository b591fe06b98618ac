"""`sluice audit verify` and `export` on Snowflake semantics: real dbt-snowflake builds against the
fakesnow server seal the history with the package's macros, the verifier rebuilds the same hashes
in Snowflake SQL, finds an edit and a deletion, and exports the trail. (DuckDB and PostgreSQL:
tests/test_audit_trail.py.)

fakesnow runs DuckDB underneath and is lenient where Snowflake is not (quoted names match in any
case, ROW_NUMBER without ORDER BY, correlated subqueries anywhere), so the SQL the verifier sends
on Snowflake is also checked as text against Snowflake's documented rules.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sluice.audit import CHAINS, GENESIS, Seal, Trail, chain_hash, export_trail, verify_trail
from sluice.audit.chain import redaction_marker
from sluice.audit.store import TrailTables
from sluice.cli import main

from tests.dbt_harness import DbtProject

MODEL_YML = """
models:
  - name: orders
    config:
      materialized: sluice
      meta:
        sluice:
          key: order_id
    columns:
      - name: customer_id
        data_tests:
          - sluice.sluice_not_null:
              name: orders_customer_required
              arguments: {sluice_severity: low}
"""

MODEL = "model.sluice_test.orders"


def _cli(project: DbtProject, capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _build(project: DbtProject) -> None:
    project.write(
        "seeds/raw_orders.csv",
        "order_id,customer_id,amount\n1,10,5.50\n2,,7.25\n3,30,1.00\n4,,2.00\n",
    )
    project.write("models/orders.sql", "select * from {{ ref('raw_orders') }}\n")
    project.write("models/orders.yml", MODEL_YML)
    project.dbt("seed")
    project.dbt("run", "-s", "orders")


def test_verify_and_export_on_snowflake(make_project, capsys, tmp_path: Path):
    project = make_project("snowflake")
    _build(project)
    # a reviewer rejects one held record between the builds, with the CLI
    exception_id = project.query(
        "select exception_id from {schema}.orders__quarantine where record_key = '[2]'"
    )[0][0]
    code, out, err = _cli(
        project, capsys, "review", "reject", exception_id, "--by", "x", "--reason", "y"
    )
    assert code == 0, out + err
    code, out, _ = _cli(project, capsys, "audit", "verify")
    assert code == 0 and "1 decision(s) wait for their seal" in out, out
    project.dbt("run", "-s", "orders")

    code, out, err = _cli(project, capsys, "audit", "verify")
    assert code == 0, out + err
    assert "sluice audit verify: intact: 3 chains, 5 seals" in out, out
    seals = project.query(
        "select chain_name, sequence_number, record_count from {schema}.sluice_audit_chain "
        "order by 1, 2"
    )
    assert [(c, s) for c, s, _ in seals] == [
        ("decisions", 1),
        ("exception_events", 1),
        ("exception_events", 2),
        ("runs", 1),
        ("runs", 2),
    ]

    # export, and verify against it
    kept = tmp_path / "kept.jsonl"
    code, out, err = _cli(project, capsys, "audit", "export", "--output", str(kept))
    assert code == 0, err
    lines = [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()]
    kinds = [line["kind"] for line in lines]
    assert kinds.count("seal") == len(seals) and kinds[-1] == "head"
    records = project.query("select count(*) from {schema}.sluice_audit_records")[0][0]
    assert kinds.count("record") == records
    events = [r for r in lines if r["kind"] == "record" and r["chain_name"] == "exception_events"]
    # every record paired with its row, its columns named as the package declares them
    assert events and all(e["row"]["event_id"] == e["record_key"] for e in events)
    assert all(isinstance(e["row"]["event_at"], str) for e in events)
    decision = next(r for r in lines if r["kind"] == "record" and r["chain_name"] == "decisions")
    assert decision["row"]["decided_by"] == "x"
    assert decision["row"]["reason"] == redaction_marker("y")  # the evidence's digest only
    code, out, _ = _cli(project, capsys, "audit", "verify", "--against", str(kept))
    assert code == 0 and f"head: {lines[-1]['digest']}" in out, out

    # an event's actor edited: found, the event named; put back: intact again (the hash is
    # recomputed exactly, timestamps included)
    event_id, actor = project.query(
        "select event_id, actor from {schema}.sluice_exception_events "
        "where invocation_id = (select invocation_id from {schema}.sluice_audit_chain "
        "where chain_name = 'exception_events' and sequence_number = 1) order by event_id limit 1"
    )[0]
    project.execute(
        f"update {{schema}}.sluice_exception_events set actor = 'mallory' "
        f"where event_id = '{event_id}'"
    )
    code, out, _ = _cli(project, capsys, "audit", "verify")
    assert code == 1, out
    edited = f"first: sluice_exception_events event_id {event_id} ({MODEL}, seal 1): edited"
    assert edited in out, out
    restore = "null" if actor is None else f"'{actor}'"
    project.execute(
        f"update {{schema}}.sluice_exception_events set actor = {restore} "
        f"where event_id = '{event_id}'"
    )
    assert _cli(project, capsys, "audit", "verify")[0] == 0

    # a run row deleted
    run = project.query(
        "select invocation_id from {schema}.sluice_audit_chain "
        "where chain_name = 'runs' and sequence_number = 2"
    )[0][0]
    project.execute(f"delete from {{schema}}.sluice_runs where invocation_id = '{run}'")
    code, out, _ = _cli(project, capsys, "audit", "verify")
    assert code == 1, out
    assert f"first: sluice_runs invocation_id {run} ({MODEL}, seal 2): removed" in out, out


def test_tables_written_unsealed_on_snowflake_are_named_not_flagged(make_project, capsys):
    """The report's and `sluice build`'s tables are written unsealed on Snowflake (the sidecar
    seals them on DuckDB and PostgreSQL only): their rows are not findings, and verify says
    which tables it did not check."""
    project = make_project("snowflake")
    _build(project)
    project.execute(
        "create table {schema}.sluice_node_status (invocation_id varchar, node_unique_id varchar)"
    )
    project.execute("insert into {schema}.sluice_node_status values ('inv', 'model.p.x')")
    code, out, err = _cli(project, capsys, "audit", "verify")
    assert code == 0, out + err
    assert "tables written unsealed, not checked: sluice_node_status)" in out, out


# --- the SQL sent on Snowflake, against Snowflake's own rules -------------------------------


class _Recorder:
    """A warehouse that answers every table as present, gives the seals below, and keeps the
    statements sent (what fakesnow would accept more leniently than Snowflake)."""

    def __init__(self, seals: Sequence[Seal]) -> None:
        self.seals = seals
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.sent.append((sql, tuple(params)))
        if "information_schema" in sql:
            return [(1,)]
        if "hashed_columns, content_hash" in sql and "SLUICE_AUDIT_CHAIN" in sql:
            return [
                (
                    s.chain_name,
                    s.model_unique_id,
                    s.sequence_number,
                    s.invocation_id,
                    s.record_count,
                    s.hashed_columns,
                    s.content_hash,
                    s.previous_hash,
                    s.chain_hash,
                    s.sealed_at,
                )
                for s in self.seals
            ]
        return []

    def stream(self, sql: str, params: Sequence[Any] = ()):
        self.sent.append((sql, tuple(params)))
        return iter(())


def _seal(chain: str, scope: str, columns: str) -> Seal:
    seal = Seal(chain, scope, 1, "inv", 1, columns, "a" * 32, GENESIS, None, datetime(2024, 5, 1))
    return dataclasses.replace(seal, chain_hash=chain_hash(seal))


def test_the_snowflake_sql_keeps_to_snowflakes_rules(tmp_path: Path):
    tables = TrailTables(
        "analytics",
        "sluice_audit_chain",
        "sluice_audit_records",
        {c.name: c.default_table for c in CHAINS},
    )
    seals = [
        _seal("exception_events", MODEL, "event_id,actor,event_at:timestamp"),
        # a chain whose keys sluice seals again (checked by its latest seal)
        _seal("node_status", "sluice_report", "invocation_id,node_unique_id,reported_at:timestamp"),
    ]
    recorder = _Recorder(seals)
    trail = Trail("snowflake", "snowflake target test", tables, recorder)  # type: ignore[arg-type]
    verify_trail(trail)
    export_trail(trail, tmp_path / "trail.jsonl")
    sent = recorder.sent
    statements = [sql for sql, _ in sent]
    text = "\n".join(statements)
    # names the package writes unquoted are stored upper case: quoted, they are spelled so
    quoted = re.findall(r'"([^"]*)"', text)
    assert quoted and all(name == name.upper() for name in quoted), quoted
    assert '"ANALYTICS"."SLUICE_EXCEPTION_EVENTS"' in text and 't."EVENT_ID"' in text
    assert all(
        params[0] == "ANALYTICS" and params[1] == params[1].upper()
        for sql, params in sent
        if "information_schema" in sql
    )
    # the package's hashing, as dbt-snowflake renders it
    assert "listagg(record_hash, '') within group (order by record_hash)" in text
    assert "to_char(cast(t.\"EVENT_AT\" as timestamp), 'YYYY-MM-DD HH24:MI:SS.FF6')" in text
    assert "string_agg" not in text and "strftime" not in text
    # ROW_NUMBER needs an ORDER BY on Snowflake
    windows = re.findall(r"row_number\(\) over \(([^)]*)\)", text)
    assert windows and all(" order by " in window for window in windows), windows
    # correlated subqueries: EXISTS in WHERE only, never under OR; no scalar subquery reading
    # another table (the latest seal of a key is a window)
    assert "(select max(" not in text
    assert "max(a.sequence_number) over (partition by a.model_unique_id, a.record_key)" in text
    for sql in statements:
        for match in re.finditer(r"exists \(", sql):
            before = sql[: match.start()]
            clause = max(before.rfind(" where "), before.rfind(" from "), before.rfind(" select "))
            assert clause == before.rfind(" where "), sql
            assert " or " not in before[clause:] + " ", sql
    # the report's and sluice build's chains are read where sealed, skipped where not: here one
    # has a seal, so it is checked
    assert any("SLUICE_NODE_STATUS" in sql for sql in statements)
