"""The warehouse door on Snowflake semantics: dbt-snowflake against fakesnow (in-process), the
profile rendered by sluice.project, the report's tables and sluice_runs in ``sluice_schema``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import fakesnow
import pytest
from sluice.cli import main
from sluice.report import generate_report

from tests.fixtures import synth

PROFILES = """
shop:
  target: sf
  outputs:
    sf:
      type: snowflake
      account: "{{ env_var('SHOP_SF_ACCOUNT', 'fake_account') }}"
      user: loader
      password: "{{ env_var('DBT_ENV_SECRET_SF_PASSWORD', 'not-a-secret') }}"
      role: transformer
      database: analytics_db
      warehouse: transforming
      schema: analytics
      threads: "{{ env_var('SHOP_SF_THREADS', '4') | as_number }}"
"""


@pytest.fixture
def snowflake() -> Iterator[object]:
    with fakesnow.patch():
        import snowflake.connector

        conn = snowflake.connector.connect(database="analytics_db")
        cur = conn.cursor()
        cur.execute("create schema if not exists analytics_db.audit")
        cur.execute(f"create table analytics_db.audit.sluice_runs ({synth.RUNS_COLUMNS})")
        row = synth.sluice_run("orders", rows_held=12)
        cur.execute(
            f"insert into analytics_db.audit.sluice_runs ({', '.join(row)}) "
            f"values ({', '.join(['%s'] * len(row))})",
            list(row.values()),
        )
        yield conn


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "dbt_project.yml").write_text(
        "name: shop\nprofile: shop\nconfig-version: 2\nvars:\n  sluice_schema: audit\n"
    )
    (root / "profiles.yml").write_text(PROFILES)
    man, runs, fresh = synth.shop()
    synth.write_target(root / "target", man, runs, fresh)
    return root


def test_report_tables_on_snowflake(tmp_path: Path, snowflake, capsys) -> None:
    root = _project(tmp_path)
    result = generate_report(root, profiles_dir=root)
    assert result.quarantine_source == "warehouse"
    finance = next(e for e in result.exposures if e.name == "finance")
    assert finance.rows_held_upstream == 12  # from sluice_runs in the sluice schema
    assert result.warehouse_tables == (
        "audit.sluice_exposure_status",
        "audit.sluice_node_status",
        "audit.sluice_source_freshness",
        "audit.sluice_incidents",
        "audit.sluice_incident_causes",
    )
    cur = snowflake.cursor()
    cur.execute("select exposure_name, status from analytics_db.audit.sluice_exposure_status")
    assert sorted(cur.fetchall()) == [
        ("crm", "blocked"),
        ("exec", "blocked"),
        ("finance", "degraded"),
    ]
    generate_report(root, profiles_dir=root)  # the same invocation again: replaced
    cur.execute("select count(*) from analytics_db.audit.sluice_exposure_status")
    assert cur.fetchall() == [(3,)]
    # one incident opened per exposure that is not healthy, recorded once
    cur.execute(
        "select exposure_name, change_type, status from analytics_db.audit.sluice_incidents"
    )
    assert sorted(cur.fetchall()) == [
        ("crm", "opened", "blocked"),
        ("exec", "opened", "blocked"),
        ("finance", "opened", "degraded"),
    ]
    # the summary reads the same table through the same door
    assert main(["summary", "--project-dir", str(root), "--profiles-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "orders" in out and "snowflake target" in out
    doc = json.loads(result.outputs["json"].read_text())
    assert doc["quarantine"]["by_error_class"] == {"invalid_value": 12}
