"""Latency in sluice_metrics and in the Prometheus textfile, on DuckDB and PostgreSQL: each
build's start and duration checked against the node's timing in dbt's run_results.json, each
build's freshness lag against its load state in sluice_load_states, each source's lag against
dbt's sources.json; counted incrementally and all at once, the relation is the same. A
relation and a run log written before these columns existed gain them."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sluice.cli import main

from tests import scenario
from tests.dbt_harness import PACKAGES_YML
from tests.test_audit_report_status import SOURCES
from tests.test_metrics_model import (
    _by_invocation,
    _check_latency,
    _latency,
    _parse_textfile,
    _sluice_build,
)
from tests.test_record_identity import _package_at

pytestmark = pytest.mark.package_models

# a gate-breaking batch: seven rows without a customer break the high threshold of 5
BREAK_GATE = (
    "insert into {schema}.raw_orders "
    "select 100 + order_id, null, status, amount, order_date, loaded_at "
    "from {schema}.raw_orders where order_id in (1, 2, 3, 4, 5, 6)"
)


def _utc(text: str) -> datetime:
    """A time of dbt's artifacts (ISO 8601, Z) as a naive UTC datetime, as the tables store it."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def _execute_window(run_results: dict, model: str) -> tuple[str, datetime, datetime]:
    """The invocation and the node's execute timing in run_results.json."""
    (result,) = [
        r for r in run_results["results"] if r["unique_id"] == f"model.sluice_test.{model}"
    ]
    (timing,) = [t for t in result["timing"] if t["name"] == "execute"]
    return (
        run_results["metadata"]["invocation_id"],
        _utc(timing["started_at"]),
        _utc(timing["completed_at"]),
    )


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_build_duration_and_freshness_lag(make_project, engine: str) -> None:
    project = make_project(engine)
    scenario.setup(project)
    project.write("models/sources.yml", SOURCES)
    project.dbt("seed")
    project.dbt("source", "freshness", expect=None)
    windows = [_execute_window(project.dbt("run", "-s", "orders").run_results, "orders")]
    project.dbt("run", "-s", "sluice_metrics")
    # the first build's load happened a day earlier: the next build's lag is at least a day
    project.execute(
        "update {schema}.sluice_load_states set as_of = as_of - interval '1 day', "
        "published_at = published_at - interval '1 day'"
    )
    project.execute(
        "update {schema}.sluice_metrics set data_published_at = data_published_at - interval '1 day'"
    )
    project.execute(BREAK_GATE)
    _sluice_build(project)  # held: the last good data stays; writes the textfile
    run_results = json.loads((project.root / "target" / "run_results.json").read_text())
    windows.append(_execute_window(run_results, "orders"))
    project.dbt("run", "-s", "sluice_metrics")  # counted incrementally

    runs = _by_invocation(
        project, "sluice_runs", "build_started_at, build_duration_seconds, gate_status"
    )
    loads = _by_invocation(project, "sluice_load_states", "as_of, published_at, state")
    assert [runs[inv][2] for inv, _, _ in windows] == ["passed", "held"]
    assert [loads[inv][2] for inv, _, _ in windows] == ["exception_filtered", "held"]
    # each build's start and duration fall within its node's execution as dbt timed it
    for invocation, started, completed in windows:
        build_started_at, duration, _ = runs[invocation]
        assert isinstance(duration, Decimal) and duration > 0
        assert started <= build_started_at
        assert build_started_at + timedelta(seconds=float(duration)) <= completed

    latency = _check_latency(project)
    assert {inv for inv, _ in latency} == {inv for inv, _, _ in windows}
    assert len(latency) == 2 * 7  # two builds of six rules and the record-key rule
    first, held = (windows[0][0], windows[1][0])
    # the first build published (no lag); the held one kept the first one's data, a day old
    assert latency[(first, "orders_status_known")][3] == 0
    assert latency[(held, "orders_status_known")][2] == loads[first][1]
    assert latency[(held, "orders_status_known")][3] >= 86400

    # the textfile: the one sluice build wrote, and `sluice metrics --prom`
    sources = json.loads((project.root / "target" / "sources.json").read_text())
    (measured,) = [r for r in sources["results"] if r["unique_id"].endswith(".erp.raw_orders")]
    checked, newest = _utc(measured["snapshotted_at"]), _utc(measured["max_loaded_at"])
    path = project.root / "metrics.prom"
    flags = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    assert main(["metrics", "--prom", str(path), *flags]) == 0
    as_of, published_at, _ = loads[held]
    orders, source = frozenset({("model", "orders")}), frozenset({("source", "erp.raw_orders")})
    for samples in (
        _parse_textfile(project.root / "target" / "sluice" / "sluice_metrics.prom"),
        _parse_textfile(path),
    ):
        assert samples[("sluice_model_build_duration_seconds", orders)] == float(runs[held][1])
        assert samples[("sluice_model_freshness_lag_seconds", orders)] == (
            (as_of - published_at).total_seconds()
        )
        assert samples[("sluice_source_freshness_lag_seconds", source)] == (
            (checked - newest).total_seconds()
        )
        assert (
            abs(
                samples[("sluice_source_freshness_lag_seconds", source)]
                - measured["max_loaded_at_time_ago_in_s"]
            )
            < 1
        )
        assert samples[("sluice_source_freshness_checked_timestamp_seconds", source)] == (
            checked.replace(tzinfo=UTC).timestamp()
        )

    # the daily rollup: per rule and UTC day, the builds' time summed and at its longest, the
    # lag at the day's last build and at its worst, from the builds' rows checked above
    project.dbt("run", "-s", "sluice_metrics_daily")
    days: dict[tuple[str, object], list[tuple[datetime, Decimal, Decimal]]] = {}
    rows = project.query(
        "select rule_name, built_at, build_duration_seconds, freshness_lag_seconds "
        "from {schema}.sluice_metrics"
    )
    for rule, built_at, duration, lag in rows:
        days.setdefault((rule, built_at.date()), []).append((built_at, duration, lag))
    daily = project.query(
        "select rule_name, build_date, build_duration_seconds, max_build_duration_seconds, "
        "freshness_lag_seconds, max_freshness_lag_seconds from {schema}.sluice_metrics_daily"
    )
    assert len(daily) == len(days) >= 7
    for rule, day, total, longest, lag, worst in daily:
        builds = sorted(days[(rule, day)])
        assert Decimal(str(total)) == sum(Decimal(str(d)) for _, d, _ in builds)
        assert Decimal(str(longest)) == max(Decimal(str(d)) for _, d, _ in builds)
        assert lag == builds[-1][2]
        assert worst == max(x for _, _, x in builds)
    assert any(worst >= 86400 for *_, worst in daily)

    # counted all at once, the relation is the same
    before = project.query("select * from {schema}.sluice_metrics order by metric_id")
    project.dbt("run", "-s", "sluice_metrics", "--full-refresh")
    assert project.query("select * from {schema}.sluice_metrics order by metric_id") == before


# The package before the latency columns: its run log, its metrics relation and its seals of the
# run log have none.
BEFORE_LATENCY = "120aea36041e107cd3d9904d1003a58c8acffef7"


def test_tables_of_the_version_before_gain_the_latency_columns(make_project, tmp_path, capsys):
    """A run log, a metrics relation and an audit trail written by the version before: the
    textfile reads the run log as it is; this version's first build adds the run log's columns,
    the next incremental run the relation's (null on the rows written before), and the earlier
    seals keep verifying."""
    project = make_project("duckdb")
    scenario.setup(project)
    project.write(
        "packages.yml", f"packages:\n  - local: {_package_at(BEFORE_LATENCY, tmp_path)}\n"
    )
    project.dbt("seed")
    project.dbt("run", "-s", "orders")
    project.dbt("run", "-s", "sluice_metrics")
    path = project.root / "metrics.prom"
    flags = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    assert main(["metrics", "--prom", str(path), *flags]) == 0
    names = {name for name, _ in _parse_textfile(path)}
    assert "sluice_model_rows_in_total" in names
    assert "sluice_model_build_duration_seconds" not in names

    # this version
    shutil.rmtree(project.root / "dbt_packages")
    project.write("packages.yml", PACKAGES_YML)
    project._deps_done = False
    second = project.dbt("run", "-s", "orders").run_results["metadata"]["invocation_id"]
    project.dbt("run", "-s", "sluice_metrics")
    latency = _latency(project)
    assert len({inv for inv, _ in latency}) == 2
    for (invocation, _rule), (started, duration, published_at, lag) in latency.items():
        if invocation == second:
            assert started is not None and duration > 0 and published_at is not None
            assert lag == 0
        else:
            assert (started, duration, published_at, lag) == (None, None, None, None)
    assert main(["metrics", "--prom", str(path), *flags]) == 0
    assert (
        "sluice_model_build_duration_seconds",
        frozenset({("model", "orders")}),
    ) in _parse_textfile(path)
    capsys.readouterr()
    code = main(["audit", "verify", *flags])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
