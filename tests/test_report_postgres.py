"""The BI tables and the sluice_runs enrichment on a PostgreSQL target."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sluice.report import generate_report

from tests.dbt_harness import (
    PG_DBNAME,
    PG_HOST,
    PG_PASSWORD,
    PG_PORT,
    PG_USER,
)
from tests.fixtures import synth

pytestmark = pytest.mark.postgres


def _connect() -> Any:
    import psycopg2

    return psycopg2.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_DBNAME
    )


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"sluice_report_{uuid.uuid4().hex[:10]}"
    conn = _connect()
    with conn, conn.cursor() as cur:
        cur.execute(f"create schema {name}")
        cur.execute(f"create table {name}.sluice_runs ({synth.RUNS_COLUMNS})")
        row = synth.sluice_run("orders", rows_held=12)
        cols = ", ".join(row)
        marks = ", ".join(["%s"] * len(row))
        cur.execute(f"insert into {name}.sluice_runs ({cols}) values ({marks})", list(row.values()))
    conn.close()
    yield name
    conn = _connect()
    with conn, conn.cursor() as cur:
        cur.execute(f"drop schema {name} cascade")
    conn.close()


def _project(tmp_path: Path, schema: str) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "dbt_project.yml").write_text("name: shop\nprofile: shop\nconfig-version: 2\n")
    (project / "profiles.yml").write_text(
        "shop:\n  target: pg\n  outputs:\n    pg:\n      type: postgres\n"
        f"      host: {PG_HOST}\n      port: {PG_PORT}\n      user: {PG_USER}\n"
        f"      password: \"{{{{ env_var('SLUICE_TEST_PG_PASSWORD', '{PG_PASSWORD}') }}}}\"\n"
        f"      dbname: {PG_DBNAME}\n      schema: {schema}\n      threads: 1\n"
    )
    man, runs, fresh = synth.shop()
    synth.write_target(project / "target", man, runs, fresh)
    return project


def _fetch(sql: str) -> list[tuple[Any, ...]]:
    conn = _connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def test_postgres_tables_and_enrichment(tmp_path: Path, schema: str) -> None:
    project = _project(tmp_path, schema)
    result = generate_report(project, profiles_dir=project)
    assert result.quarantine_source == "warehouse"
    assert next(e for e in result.exposures if e.name == "finance").rows_held_upstream == 12
    rows = _fetch(
        f"select exposure_name, status, invocation_id from {schema}.sluice_exposure_status "
        "order by exposure_name"
    )
    assert rows == [
        ("crm", "blocked", synth.INVOCATION),
        ("exec", "blocked", synth.INVOCATION),
        ("finance", "degraded", synth.INVOCATION),
    ]
    generate_report(
        project, profiles_dir=project
    )  # same invocation again: replaced, not duplicated
    for table, expected in (
        ("sluice_exposure_status", 3),
        ("sluice_source_freshness", 2),
        ("sluice_node_status", len(result.impact.nodes)),
    ):
        assert _fetch(f"select count(*) from {schema}.{table}") == [(expected,)]
    # one incident per exposure that is not healthy; the same invocation again, or a later one
    # with the same picture, records nothing more
    incidents = "select exposure_name, change_type, status from {}.sluice_incidents order by 1"
    expected = [
        ("crm", "opened", "blocked"),
        ("exec", "opened", "blocked"),
        ("finance", "opened", "degraded"),
    ]
    assert _fetch(incidents.format(schema)) == expected
    man, runs, fresh = synth.shop()
    man["metadata"]["invocation_id"] = runs["metadata"]["invocation_id"] = "later-run"
    runs["metadata"]["generated_at"] = "2026-01-02T10:00:00Z"
    synth.write_target(project / "target", man, runs, fresh)
    later = generate_report(project, profiles_dir=project)
    assert later.incident_changes == ()
    assert _fetch(incidents.format(schema)) == expected
