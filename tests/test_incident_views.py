"""The package's incident and held-rows views for BI tools, on DuckDB and PostgreSQL: they build
before any report has run, and return the right figures on a known history written by the
sidecar's own writer; the figures agree with the report's patterns. The views' columns agree
with the sidecar's tables."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sluice.incidents import IncidentChange, assemble, patterns
from sluice.project import ProjectFlags, load_project
from sluice.warehouse import connect
from sluice.warehouse.incidents import CAUSE_COLUMNS, INCIDENT_COLUMNS, append_incident_changes

from tests.incident_cases import ERP, INVOICES, ORDERS, exposure, run

pytestmark = pytest.mark.package_models

REPO = Path(__file__).resolve().parents[1]
VIEWS = (
    "sluice_incident_history",
    "sluice_incident_cause_history",
    "sluice_incident_summary",
    "sluice_incident_root_causes",
    "sluice_incident_recovery",
    "sluice_held_rows_daily",
)
DBT_TYPES = {"text": "string", "timestamp": "timestamp", "bigint": "bigint"}


@pytest.mark.parametrize(
    ("view", "columns"),
    [
        ("sluice_incident_history.sql", INCIDENT_COLUMNS),
        ("sluice_incident_cause_history.sql", CAUSE_COLUMNS),
    ],
)
def test_view_pre_hooks_declare_the_sidecars_columns(
    view: str, columns: tuple[tuple[str, str], ...]
) -> None:
    sql = (REPO / "models" / "history" / view).read_text()
    declared = re.findall(r"\('(\w+)', dbt\.type_(\w+)\(\)\)", sql)
    assert declared == [(name, DBT_TYPES[kind]) for name, kind in columns]


def _history(now: datetime) -> list[IncidentChange]:
    """Four exposures (days before ``now``):
    crm      opened -100 d (source erp.orders late), closed 24 h later
    churn    opened -50 d (orders), closed -45 d (120 h)
    finance  opened -20 d (orders), closed 2 h later; opened -5 d (orders), worse 1 h later
             (invoices' gate held too), closed 6 h after opening
    ops      opened -3 d (orders), still open
    """
    history: list[IncidentChange] = []
    day = 24.0
    steps = [
        ("a", -100 * day, [exposure("crm", ERP, owner="Sales")]),
        ("b", -100 * day + 24, [exposure("crm", owner="Sales")]),
        ("c", -50 * day, [exposure("churn", ORDERS, owner="Data science")]),
        ("d", -45 * day, [exposure("churn", owner="Data science")]),
        ("e", -20 * day, [exposure("finance", ORDERS)]),
        ("f", -20 * day + 2, [exposure("finance")]),
        ("g", -5 * day, [exposure("finance", ORDERS)]),
        ("h", -5 * day + 1, [exposure("finance", ORDERS, INVOICES)]),
        ("i", -5 * day + 6, [exposure("finance")]),
        ("j", -3 * day, [exposure("finance"), exposure("ops", ORDERS, owner="Ops")]),
    ]
    for invocation, hours, exposures in steps:
        run(history, invocation, hours, *exposures, t0=now)
    return history


RUNS = [
    # model, finished at, rows held, gate
    ("orders", "2026-03-02 08:00:00", 5, "passed"),
    ("orders", "2026-03-02 17:30:00", 2, "passed"),
    ("orders", "2026-03-03 08:00:00", 7, "held"),
    ("orders", "2026-03-03 09:00:00", 0, "passed"),
    ("invoices", "2026-03-03 09:00:00", 1, "passed"),
]


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_views_on_a_known_history(make_project, engine: str) -> None:
    project = make_project(engine)
    # the incidents tables are named by vars, as the sidecar and the views both read them
    (project.root / "dbt_project.yml").write_text(
        (project.root / "dbt_project.yml").read_text()
        + "vars:\n  sluice_incidents_table: inc_log\n  sluice_incident_causes_table: inc_causes\n"
    )
    project.dbt("run")
    for view in VIEWS:
        assert project.query(f"select count(*) from {{schema}}.{view}") == [(0,)], view
    assert project.relation_exists("inc_log") and project.relation_exists("inc_causes")

    now = datetime.now(UTC).replace(microsecond=0)
    history = _history(now)
    loaded = load_project(ProjectFlags(project_dir=project.root, profiles_dir=project.root))
    with connect(loaded) as wh, wh.transaction():
        append_incident_changes(wh, history)
        append_incident_changes(wh, history)  # already there: nothing added
    for model, at, held, gate in RUNS:
        project.execute(
            "insert into {schema}.sluice_runs (invocation_id, model_unique_id, model_name, "
            f"run_started_at, finished_at, rows_held, gate_status) values ('inv-{at}', "
            f"'model.shop.{model}', '{model}', '{at}', '{at}', {held}, '{gate}')"
        )
    assert project.query("select count(*) from {schema}.sluice_incident_history") == [
        (len(history),)
    ]

    causes = {
        row[:3]: row[3:]
        for row in project.query(
            "select culprit_type, culprit_name, node_unique_id, owner, incidents_7d, "
            "incidents_30d, incidents_90d, incidents_total, open_incidents, exposures "
            "from {schema}.sluice_incident_root_causes"
        )
    }
    assert causes == {
        ("rule", "orders_customer_required", "model.shop.orders"): ("crm", 2, 3, 4, 4, 1, 3),
        ("rule", "amount_required", "model.shop.invoices"): ("billing", 1, 1, 1, 1, 0, 1),
        ("source", "orders", "source.shop.erp.orders"): ("erp-team", 0, 0, 0, 1, 0, 1),
    }

    before = datetime.now(UTC)
    recovery = {
        row[0]: row[1:]
        for row in project.query(
            "select exposure_name, owners, incidents, open_incidents, recovered, "
            "avg_hours_to_recover, max_hours_to_recover, recovered_30d, avg_hours_to_recover_30d, "
            "max_hours_to_recover_30d, open_longest_hours from {schema}.sluice_incident_recovery"
        )
    }
    after = datetime.now(UTC)

    def numbers(row: tuple) -> tuple:
        return tuple(None if v is None else round(float(v), 6) for v in row)

    assert numbers(recovery["finance"][1:9]) == (2, 0, 2, 4.0, 6.0, 2, 4.0, 6.0)
    assert recovery["finance"][0] == "Finance" and recovery["finance"][9] is None
    assert numbers(recovery["churn"][1:9]) == (1, 0, 1, 120.0, 120.0, 0, None, None)
    assert numbers(recovery["crm"][1:9]) == (1, 0, 1, 24.0, 24.0, 0, None, None)
    assert numbers(recovery["ops"][1:9]) == (1, 1, 0, None, None, 0, None, None)
    ops_open = float(recovery["ops"][9])
    opened = now - timedelta(days=3)
    assert (before - opened).total_seconds() / 3600 - 1 / 60 <= ops_open
    assert ops_open <= (after - opened).total_seconds() / 3600 + 1 / 60

    summary = {
        (row[0], row[1]): row[2:]
        for row in project.query(
            "select exposure_name, opened_at, state, worst_status, changes, hours_to_recover, "
            "close_reason, fix_owners from {schema}.sluice_incident_summary"
        )
    }
    second_finance = next(v for (name, at), v in summary.items() if name == "finance" and v[2] == 3)
    assert second_finance[:3] == ("closed", "stale", 3)
    assert float(second_finance[3]) == 6.0 and second_finance[4] == "recovered"
    assert second_finance[5] == "crm, billing"  # the root causes' owners before it closed
    assert [v[0] for (name, _), v in summary.items() if name == "ops"] == ["open"]
    assert len(summary) == 5

    daily = project.query(
        "select model_name, cast(build_date as varchar), rows_held, max_rows_held, builds, "
        "gates_held from {schema}.sluice_held_rows_daily order by 1, 2"
    )
    assert daily == [
        ("invoices", "2026-03-03", 1, 1, 1, 0),
        ("orders", "2026-03-02", 2, 5, 2, 0),
        ("orders", "2026-03-03", 0, 7, 2, 1),
    ]

    # the report's patterns over 30 days say the same as the views' 30-day columns
    found = patterns(assemble(history), [], until=now, window=timedelta(days=30))
    assert {
        (c.culprit_type, c.culprit_name, c.node_unique_id): c.incidents for c in found.causes
    } == {key: value[2] for key, value in causes.items() if value[2]}
    by_exposure = {r.label.lower(): r for r in found.recovery_by_exposure}
    assert by_exposure["finance"].recovered == 2 and by_exposure["finance"].mean_seconds == 4 * 3600
    assert by_exposure["ops"].open_incidents == 1 and "churn" not in by_exposure
