"""``sluice summary``: the example project built into a throwaway DuckDB file, then every number
the summary prints checked against the tables themselves and dbt's own run results."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sluice.cli import main
from sluice.errors import InputError
from sluice.summary import classes
from sluice.warehouse import parse_rule_counts, split_relation

from tests.dbt_harness import example_dbt

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "dbt_project"
CLASSES = (
    "missing_required_field",
    "invalid_value",
    "schema_violation",
    "duplicate_event",
    "reference_mismatch",
    "business_rule_violation",
    "conflicting_record",
    "conflicting_identifier",
)
# the staging view each sluice model reads all of its rows from
STAGING = {
    "orders": "stg_erp_orders",
    "customers": "stg_crm_customers",
    "invoices": "stg_billing_invoices",
    "supplier_prices": "stg_supplier_feed",
    "events": "stg_order_events",
    "customer_matches": "stg_erp_customers",
}
MODEL_LINE = re.compile(
    r"^  (\w+)\s+(passed|HELD)\s+(table|incremental)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$"
)
CLASS_LINE = re.compile(rf"^  (\w+)\s+({'|'.join(CLASSES)})\s+(\d+)\s+(\S+)\s+(\S+)\s+(\d+)$")


@dataclass
class Build:
    db: Path
    returncode: int
    output: str
    run_results: dict[str, Any]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db), read_only=True) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]

    def scalar(self, sql: str) -> int:
        return int(self.query(sql)[0][0])

    def status(self, name: str) -> str:
        for result in self.run_results["results"]:
            if result["unique_id"] == f"model.sluice_demo.{name}":
                return str(result["status"])
        raise KeyError(name)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """`dbt build` of the example project into a DuckDB file of its own (nothing copied: the
    database, target and log paths point into a temporary directory)."""
    tmp = tmp_path_factory.mktemp("demo")
    db = tmp / "demo.duckdb"
    env = dict(
        os.environ, SLUICE_DEMO_DB=str(db), DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1"
    )
    deps = example_dbt(["deps"], tmp, env)
    assert deps.returncode == 0, deps.stdout + deps.stderr
    target = tmp / "target"
    proc = example_dbt(
        [
            "build",
            "--target",
            "demo",
            "--target-path",
            str(target),
            "--log-path",
            str(tmp / "logs"),
        ],
        tmp,
        env,
    )
    output = proc.stdout + proc.stderr
    run_results = json.loads((target / "run_results.json").read_text())
    return Build(db, proc.returncode, output, run_results)


@pytest.fixture
def summary(
    built: Build, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    monkeypatch.setenv("SLUICE_DEMO_DB", str(built.db))
    assert main(["summary", "--project-dir", str(DEMO), "--profiles-dir", str(DEMO)]) == 0
    out = capsys.readouterr().out
    return out


def _model_rows(text: str) -> dict[str, tuple[str, str, int, int, int, int]]:
    rows = {}
    for line in text.splitlines():
        m = MODEL_LINE.match(line)
        if m:
            name, gate, mode, *numbers = m.groups()
            rows[name] = (gate, mode, *(int(n) for n in numbers))
    return rows  # type: ignore[return-value]


def _class_rows(text: str) -> dict[tuple[str, str], tuple[int, str, int]]:
    rows = {}
    for line in text.splitlines():
        m = CLASS_LINE.match(line)
        if m:
            model, cls, n, route, _severity, open_rows = m.groups()
            rows[(model, cls)] = (int(n), route, int(open_rows))
    return rows


def test_the_demo_build_holds_only_invoices(built: Build) -> None:
    assert built.returncode == 1, built.output[-4000:]
    assert built.status("invoices") == "error"
    assert built.status("fct_revenue") == "skipped"
    for name in (
        "orders",
        "customers",
        "customer_matches",
        "events",
        "supplier_prices",
        "fct_orders",
        "dim_customers",
        "fct_order_events",
        "supplier_scorecard",
    ):
        assert built.status(name) == "success", name
    # every route and every row-level error class is exercised
    routes = set()
    classes = set()
    for model in STAGING:
        for route, cls in built.query(f"select route, error_class from main.{model}__quarantine"):
            routes.add(route)
            classes.add(cls)
    assert routes == {"quarantine", "manual_review", "deduplicate", "flag"}
    assert classes == set(CLASSES)


def test_summary_numbers_match_the_tables(built: Build, summary: str) -> None:
    invocation = built.run_results["metadata"]["invocation_id"]
    assert f"invocation {invocation}" in summary
    printed = _model_rows(summary)
    assert set(printed) == set(STAGING)
    for model, staging in STAGING.items():
        gate, mode, rows_in, published, held, flagged = printed[model]
        q = f"main.{model}__quarantine"
        this_run = f"invocation_id = '{invocation}' and status = 'open'"
        assert rows_in == built.scalar(f"select count(*) from main.{staging}"), model
        assert held == built.scalar(
            f"select count(*) from (select distinct record_key, record_copy from {q} "
            f"where {this_run} and route <> 'flag')"
        ), model
        assert flagged == built.scalar(
            f"select count(*) from (select distinct record_key, record_copy from {q} as f "
            f"where {this_run} and route = 'flag' and not exists (select 1 from {q} as h "
            f"where h.record_key = f.record_key and h.record_copy = f.record_copy "
            f"and h.invocation_id = '{invocation}' and h.status = 'open' and h.route <> 'flag'))"
        ), model
        if built.status(model) == "error":
            assert gate == "HELD" and published == 0
            exists = built.scalar(
                f"select count(*) from information_schema.tables where table_name = '{model}'"
            )
            assert exists == 0, "a held first build publishes nothing"
        else:
            assert gate == "passed" and mode == "table"
            assert published == built.scalar(f"select count(*) from main.{model}"), model
            assert published + held == rows_in, model
    total = re.search(r"^  total\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", summary, re.MULTILINE)
    assert total is not None
    assert [int(n) for n in total.groups()] == [
        sum(r[i] for r in printed.values()) for i in (2, 3, 4, 5)
    ]


def test_summary_per_error_class_matches_the_quarantine(built: Build, summary: str) -> None:
    invocation = built.run_results["metadata"]["invocation_id"]
    expected: dict[tuple[str, str], tuple[int, str, int]] = {}
    for model in STAGING:
        for cls, n, routes, open_rows in built.query(
            f"select error_class, count(*) filter (where invocation_id = '{invocation}'), "
            f"string_agg(distinct route, '/' order by route), "
            f"count(*) filter (where status = 'open') "
            f"from main.{model}__quarantine group by error_class"
        ):
            expected[(model, cls)] = (int(n), routes, int(open_rows))
    assert _class_rows(summary) == expected


def test_summary_names_the_held_gate_and_the_file(built: Build, summary: str) -> None:
    held = [r for r in built.run_results["results"] if r["status"] == "error"]
    assert [r["unique_id"] for r in held] == ["model.sluice_demo.invoices"]
    assert f"Gates held: {len(held)}" in summary
    (gate_message,) = built.query(
        "select gate_message from main.sluice_runs where gate_status = 'held'"
    )[0]
    assert gate_message in held[0]["message"], "dbt reports the same message the gate recorded"
    assert f"  invoices: {gate_message}" in summary.splitlines()
    assert summary.rstrip().endswith("(sluice_demo.demo)")
    assert "Warehouse: duckdb target" in summary


def test_quarantine_payload_round_trips_hard_text(built: Build) -> None:
    (payload,) = built.query(
        "select row_json from main.customers__quarantine where record_key = '[\"C011\"]'"
    )[0]
    row = json.loads(payload)
    assert row["customer_name"] == 'O\'Brien "Bob" — Zoë {"vip": true}'
    assert len(row["notes"]) > 400 and "東京 🚀" in row["notes"]


def test_missing_database_file_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.duckdb"
    monkeypatch.setenv("SLUICE_DEMO_DB", str(missing))
    assert main(["summary", "--project-dir", str(DEMO), "--profiles-dir", str(DEMO)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "run dbt build first" in err
    assert not missing.exists(), "a summary never creates the database"


def test_missing_runs_table_exits_2_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    monkeypatch.setenv("SLUICE_DEMO_DB", str(empty))
    assert main(["summary", "--project-dir", str(DEMO), "--profiles-dir", str(DEMO)]) == 2
    err = capsys.readouterr().err
    assert "sluice_demo.demo" in err and "sluice_runs" in err and "run `dbt build` first" in err


def test_an_unknown_target_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["summary", "--project-dir", str(DEMO), "--profiles-dir", str(DEMO), "--target", "qa"]
    assert main(args) == 2
    assert "no target 'qa'" in capsys.readouterr().err


def test_rule_counts_are_summed_per_class_and_zeroes_dropped() -> None:
    rules = [
        ("a", "schema_violation", "high", 2),
        ("b", "schema_violation", "medium", 1),
        ("c", "invalid_value", "medium", 0),
    ]
    text = json.dumps(
        [
            {"rule_name": n, "error_class": c, "severity": s, "route": "quarantine", "rows": r}
            for n, c, s, r in rules
        ]
    )
    (only,) = classes(parse_rule_counts(text, "x"))
    assert (only.error_class, only.rows, only.severities) == (
        "schema_violation",
        3,
        ("high", "medium"),
    )
    with pytest.raises(InputError):
        parse_rule_counts("{not json", "x")


def test_relation_names_split_with_quotes() -> None:
    assert split_relation('"demo"."main"."orders__quarantine"') == (
        "demo",
        "main",
        "orders__quarantine",
    )
    assert split_relation('"a""b".main.t') == ('a"b', "main", "t")
