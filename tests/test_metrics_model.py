"""sluice_metrics and its daily rollup on DuckDB and PostgreSQL: a model driven through ten
builds a day apart (breaks, fixes, releases, rejections, retries, dead letters, a withdrawn
record, a record that breaks again), each figure checked against the same figures replayed
independently, exception by exception, from the raw history, and the queue of the last build
against the quarantine itself. Counted incrementally build by build and all at once, the
relation is the same."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sluice.build import build
from sluice.cli import main

from tests import scenario
from tests.test_lifecycle import _decide

pytestmark = pytest.mark.package_models

COUNTS = (
    "new_exceptions",
    "recovered",
    "released",
    "rejected",
    "dead_lettered",
    "retried",
    "withdrawn",
)
ROWS = (
    "rows_in",
    "rows_published",
    "rows_held",
    "rows_set_aside",
    "rows_flagged",
    "rows_held_open",
)
COLUMNS = (
    "invocation_id",
    "rule_name",
    "built_at",
    "gate_status",
    *ROWS,
    *COUNTS,
    "open_at_end",
    "dead_letter_at_end",
    "oldest_open_seconds",
    "oldest_opened_at",
    "severity",
    "owner",
    "source_system",
    "target_system",
    "domain",
)


def _age(project) -> None:
    """Everything recorded so far happened a day earlier: the next build is a day later."""
    for table, columns in (
        ("sluice_exception_events", ("event_at", "from_status_at")),
        ("sluice_runs", ("run_started_at", "finished_at")),
        ("sluice_decisions", ("decided_at",)),
        ("orders__quarantine", ("first_seen_at", "last_seen_at", "status_changed_at")),
        ("sluice_metrics", ("run_started_at", "built_at", "oldest_opened_at")),
        ("sluice_rule_queues", ("oldest_opened_at",)),
    ):
        if not project.relation_exists(table):
            continue
        sets = ", ".join(f"{c} = {c} - interval '1 day'" for c in columns)
        project.execute(f"update {{schema}}.{table} set {sets}")


SETTLED = ("recovered", "released", "rejected", "withdrawn")

# Before each of the ten builds (after the first): what changes at the source or in review.
STEPS = [
    [],
    [
        "update {schema}.raw_orders set status = 'paid' where order_id = 3",
        "insert into {schema}.raw_orders values (9, 'C1', 'lost', 5, '2024-01-09', '2024-01-01 10:00:00')",
    ],
    [
        ("decide", 4, "orders_customer_exists", "release"),
        ("decide", 9, "orders_status_known", "reject"),
    ],
    [],
    [("decide", 2, "orders_customer_required", "retry")],
    [("decide", 9, "orders_status_known", "retry")],
    ["delete from {schema}.raw_orders where order_id = 7"],
    ["update {schema}.raw_orders set customer_id = 'C1' where order_id = 2"],
    ["update {schema}.raw_orders set status = 'void' where order_id = 3"],
    [],
]


def _sluice_build(project) -> None:
    """`sluice build --select orders`, one attempt, no report."""
    build(
        project.root,
        ["--profiles-dir", str(project.root), "--select", "orders"],
        sleeper=lambda _: None,
        report=False,
        max_attempts=1,
        log_dbt_output=True,
    )


def _drive(project) -> None:
    scenario.setup(
        project,
        extra_meta="max_attempts: 3\n                  attempt_interval: 0\n                domain: sales",
    )
    project.dbt("seed")
    for number, step in enumerate(STEPS, start=1):
        for change in step:
            if isinstance(change, tuple):
                _decide(project, *change[1:])
            else:
                project.execute(change)
        if number == len(STEPS):  # the last build through sluice build, which writes the textfile
            _sluice_build(project)
        else:
            project.dbt("run", "-s", "orders")
        if number == 5:  # counted incrementally: the first five builds, then the rest
            project.dbt("run", "-s", "sluice_metrics")
        _age(project)


def _seconds(start: datetime, end: datetime) -> int:
    """Whole seconds from start to end, counted as dbt's datediff counts them: the second
    boundaries crossed."""
    return int((end.replace(microsecond=0) - start.replace(microsecond=0)).total_seconds())


def _expected(project) -> dict[tuple[str, str], dict]:
    """Each build's figures per rule, replayed from the raw history one exception at a time."""
    builds = project.query(
        "select invocation_id, finished_at, gate_status, "
        + ", ".join(ROWS)
        + " from {schema}.sluice_runs order by finished_at"
    )
    events = project.query(
        "select exception_id, rule_name, from_status, to_status, invocation_id, event_at, "
        "coalesce(event_type, 'status'), from_status_at, from_status_at is null "
        "from {schema}.sluice_exception_events order by event_at"
    )
    rules = {e[1] for e in events} | {"sluice_record_key", "orders_amount_positive"}
    status: dict[str, tuple[str, str, datetime]] = {}  # exception -> rule, status, since
    expected = {}
    for invocation, built_at, gate, *rows in builds:
        mine = [e for e in events if e[4] == invocation]
        counts: dict[str, Counter] = defaultdict(Counter)
        for exc, rule, from_s, to_s, _inv, at, kind, from_at, unrecorded in mine:
            if kind == "decided" and to_s == "open":
                counts[rule]["retried"] += 1
            if kind != "status":
                continue
            # each status change records when the exception entered the status it leaves (the
            # emulated Snowflake reads a NULL timestamp back as 1970-01-01: asked apart)
            assert (None if unrecorded else from_at) == (status[exc][2] if exc in status else None)
            if from_s is None:
                counts[rule]["new_exceptions"] += 1
            name = {"dead_letter": "dead_lettered"}.get(to_s, to_s)
            counts[rule][name] += 1
            status[exc] = (rule, to_s, at)
        for rule in rules:
            queue = [since for r, s, since in status.values() if r == rule and s == "open"]
            expected[(invocation, rule)] = {
                "built_at": built_at,
                "gate_status": gate,
                **dict(zip(ROWS, rows, strict=True)),
                **{c: counts[rule][c] for c in COUNTS},
                "open_at_end": len(queue),
                "dead_letter_at_end": sum(
                    1 for r, s, _ in status.values() if r == rule and s == "dead_letter"
                ),
                "oldest_open_seconds": _seconds(min(queue), built_at) if queue else None,
            }
    return expected


def _metrics(project) -> dict[tuple[str, str], dict]:
    rows = project.query(f"select {', '.join(COLUMNS)} from {{schema}}.sluice_metrics")
    return {(r[0], r[1]): dict(zip(COLUMNS[2:], r[2:], strict=True)) for r in rows}


LATENCY = (
    "build_started_at",
    "build_duration_seconds",
    "data_published_at",
    "freshness_lag_seconds",
)


def _latency(project) -> dict[tuple[str, str], tuple]:
    rows = project.query(
        f"select invocation_id, rule_name, {', '.join(LATENCY)} from {{schema}}.sluice_metrics"
    )
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def _by_invocation(project, table: str, columns: str) -> dict[str, tuple]:
    """The columns of a package table's rows (one per invocation here), by invocation."""
    rows = project.query(f"select invocation_id, {columns} from {{schema}}.{table}")
    return {r[0]: tuple(r[1:]) for r in rows}


def _check_latency(project) -> dict[tuple[str, str], tuple]:
    """Each row's latency is its build's: the start and duration sluice_runs recorded, and from
    the build's load state (sluice_load_states, read on its own) when the data its relation
    held was published and the lag from then to the load."""
    runs = _by_invocation(project, "sluice_runs", "build_started_at, build_duration_seconds")
    loads = _by_invocation(project, "sluice_load_states", "as_of, published_at")
    latency = _latency(project)
    for (invocation, _rule), got in latency.items():
        as_of, published_at = loads[invocation]
        lag = None if published_at is None else _seconds(published_at, as_of)
        assert got == (*runs[invocation], published_at, lag), invocation
        assert got[1] > 0
    return latency


@pytest.mark.parametrize(
    "engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres), "snowflake"]
)
def test_ten_builds_counted_as_the_history_says(make_project, engine: str) -> None:
    project = make_project(engine)
    _drive(project)
    project.dbt("run", "-s", "sluice_metrics", "sluice_metrics_daily")
    expected = _expected(project)
    metrics = _metrics(project)
    assert len({inv for inv, _ in metrics}) == 10
    assert metrics.keys() == expected.keys()
    for key, want in expected.items():
        got = {k: metrics[key][k] for k in want}
        assert got == want, key
    assert _check_latency(project).keys() == expected.keys()

    # the history is not vacuous: the builds did what the steps meant
    by_build = sorted({(v["built_at"], inv) for (inv, _), v in expected.items()})

    def total(column: str) -> list[int]:
        return [
            sum(metrics[(inv, r)][column] for (i, r) in metrics if i == inv) for _, inv in by_build
        ]

    assert total("new_exceptions")[:2] == [6, 1]
    assert sum(total("recovered")) >= 2 and sum(total("released")) == 1
    assert sum(total("rejected")) == 1 and sum(total("retried")) == 2
    assert sum(total("withdrawn")) == 1 and sum(total("dead_lettered")) >= 2
    assert any(
        v["oldest_open_seconds"] and v["oldest_open_seconds"] >= 3 * 86400
        for v in expected.values()
    )

    # the last build's queue is the quarantine's
    last = by_build[-1][1]
    quarantine = dict(
        project.query(
            "select rule_name, count(*) from {schema}.orders__quarantine where status = 'open' group by 1"
        )
    )
    assert {
        r: v["open_at_end"] for (i, r), v in metrics.items() if i == last and v["open_at_end"]
    } == quarantine

    # who and what each rule is about
    row = metrics[(last, "orders_customer_required")]
    assert (
        row["severity"],
        row["owner"],
        row["source_system"],
        row["target_system"],
        row["domain"],
    ) == ("high", "crm-team", "erp", "finance_dw", "sales")
    assert metrics[(last, "orders_status_known")]["owner"] == "erp-team"

    # the daily rollup: one day per build here, the sums and the day's last queue
    daily = project.query(
        "select rule_name, build_date, builds, rows_in, recovered, open_at_end, oldest_open_seconds "
        "from {schema}.sluice_metrics_daily"
    )
    assert len(daily) == len(expected)
    for rule, day, builds, rows_in, recovered, open_at_end, oldest in daily:
        (inv,) = [
            i for (t, i) in by_build if t.date() == (day if isinstance(day, date) else day.date())
        ]
        want = expected[(inv, rule)]
        assert (builds, rows_in, recovered, open_at_end, oldest) == (
            1,
            want["rows_in"],
            want["recovered"],
            want["open_at_end"],
            want["oldest_open_seconds"],
        )

    # recovery completion of an incident that opened at the third build
    _check_recovery_completion(project, by_build[2][0])

    # the Prometheus textfile: the one sluice build wrote, and `sluice metrics --prom`
    built = _parse_textfile(project.root / "target" / "sluice" / "sluice_metrics.prom")
    path = project.root / "metrics.prom"
    before = datetime.now(UTC).replace(tzinfo=None)
    code = main(
        [
            "metrics",
            "--prom",
            str(path),
            "--project-dir",
            str(project.root),
            "--profiles-dir",
            str(project.root),
        ]
    )
    after = datetime.now(UTC).replace(tzinfo=None)
    assert code == 0
    now = _parse_textfile(path)
    _check_textfile(now, expected, by_build, metrics)
    # the same but for the times: the history has aged a day since the build wrote its file
    timeless = ("age_seconds", "timestamp_seconds")
    assert {k: v for k, v in built.items() if not k[0].endswith(timeless)} == {
        k: v for k, v in now.items() if not k[0].endswith(timeless)
    }
    (stamp,) = [v for k, v in now.items() if k[0] == "sluice_model_last_build_timestamp_seconds"]
    assert stamp == by_build[-1][0].replace(tzinfo=UTC).timestamp()
    ((age,),) = [[v] for k, v in now.items() if k[0] == "sluice_exceptions_oldest_open_age_seconds"]
    opened = min(
        v["oldest_opened_at"]
        for (i, _), v in metrics.items()
        if i == last and v["oldest_open_seconds"] is not None
    )
    assert (before - opened).total_seconds() - 1 <= age <= (after - opened).total_seconds() + 1

    # counted all at once, the relation is the same; the queue read from what each build
    # recorded at its end
    project.dbt("run", "-s", "sluice_metrics", "--full-refresh")
    assert _metrics(project) == metrics
    assert _read_queues(project)

    # a history whose first five builds were recorded before builds recorded their queue: the
    # queue counted from the events, all at once, then the later builds read from the queues
    # on top of those rows
    first = "', '".join(inv for _, inv in by_build[:5])
    project.execute(f"delete from {{schema}}.sluice_rule_queues where invocation_id in ('{first}')")
    project.dbt("run", "-s", "sluice_metrics", "--full-refresh")
    assert not _read_queues(project)
    assert _metrics(project) == metrics
    later = "', '".join(inv for _, inv in by_build[5:])
    project.execute(f"delete from {{schema}}.sluice_metrics where invocation_id in ('{later}')")
    project.dbt("run", "-s", "sluice_metrics")
    assert _read_queues(project)
    assert _metrics(project) == metrics

    # a history written before events recorded when a spell began is counted the same: in part
    # (spells begun before the upgrade end after it), then all of it
    project.execute("delete from {schema}.sluice_rule_queues")
    # and so is the textfile
    counted = project.root / "counted.prom"
    args = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    assert main(["metrics", "--prom", str(counted), *args]) == 0
    assert {k: v for k, v in _parse_textfile(counted).items() if not k[0].endswith(timeless)} == {
        k: v for k, v in now.items() if not k[0].endswith(timeless)
    }
    upgraded = by_build[4][0].strftime("%Y-%m-%d %H:%M:%S.%f")
    for where in (f" where event_at < cast('{upgraded}' as timestamp)", ""):
        project.execute("update {schema}.sluice_exception_events set from_status_at = null" + where)
        project.dbt("run", "-s", "sluice_metrics", "--full-refresh")
        assert _metrics(project) == metrics


def _read_queues(project) -> bool:
    """Whether the latest run of sluice_metrics read the queues the builds recorded (else it
    counted them from the events)."""
    (compiled,) = (project.root / "target" / "compiled").rglob("sluice_metrics.sql")
    return "sluice_rule_queues" in compiled.read_text()


def _check_recovery_completion(project, opened_at: datetime) -> None:
    project.dbt("run", "-s", "+sluice_incident_recovery_completion")
    at = f"cast('{opened_at.isoformat(sep=' ')}' as timestamp)"
    project.execute(
        "insert into {schema}.sluice_incidents (change_id, incident_id, change_type, "
        "exposure_unique_id, exposure_name, status, opened_at, changed_at, invocation_id) values "
        f"('c1', 'inc_1', 'opened', 'exposure.sluice_test.sales', 'sales', 'degraded', {at}, {at}, 'i1')"
    )
    project.execute(
        "insert into {schema}.sluice_incident_causes (change_id, incident_id, exposure_unique_id, "
        "invocation_id, changed_at, root_cause_id, kind, node_unique_id, node_name, resource_type) "
        f"values ('c1', 'inc_1', 'exposure.sluice_test.sales', 'i1', {at}, "
        "'rows_held:model.sluice_test.orders', 'rows_held', 'model.sluice_test.orders', 'orders', 'model')"
    )
    history: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for exc, to_status, event_at in project.query(
        "select exception_id, to_status, event_at from {schema}.sluice_exception_events "
        "where coalesce(event_type, 'status') = 'status' order by event_at"
    ):
        history[exc].append((event_at, to_status))
    held, settled = 0, []
    for changes in history.values():
        before = [s for when, s in changes if when <= opened_at]
        if not before or before[-1] not in ("open", "dead_letter"):
            continue
        held += 1
        after = [when for when, s in changes if when > opened_at and s in SETTLED]
        settled.append(after[0] if after else None)
    assert held >= 4 and None in settled  # some rows still wait
    # incomplete: no time to complete (asked of hours_to_complete, as a null timestamp reads
    # as 1970-01-01 through fakesnow)
    ((exceptions_held, exceptions_settled, hours),) = project.query(
        "select exceptions_held, exceptions_settled, hours_to_complete "
        "from {schema}.sluice_incident_recovery_completion"
    )
    assert (exceptions_held, exceptions_settled, hours) == (
        held,
        sum(1 for s in settled if s is not None),
        None,
    )


def _parse_textfile(path: Path) -> dict[tuple[str, frozenset], float]:
    """The samples of a textfile, checked as Prometheus checks them: promtool when it is
    installed, and the text parser of prometheus_client; names and labels as the conventions
    want them (counters end in _total, ages in _seconds; bounded labels only)."""
    text = path.read_text()
    assert len(text.encode()) < 1_000_000
    promtool = shutil.which("promtool")
    if promtool:
        check = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
    samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("sluice_") and family.documentation
        assert family.type in ("counter", "gauge"), family.name
        for sample in family.samples:
            if family.type == "counter":
                assert sample.name == family.name + "_total"
            assert set(sample.labels) in (
                {"model"},
                {"model", "system"},
                {"model", "rule", "severity", "owner"},
                {"source"},
            )
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def _check_textfile(samples, expected, by_build, metrics) -> None:
    last = by_build[-1][1]
    open_by_rule, model = {}, {}
    for (name, labels), value in samples.items():
        labels = dict(labels)
        if "rule" in labels:
            assert name == "sluice_exceptions_open" and labels["model"] == "orders"
            assert (labels["severity"], labels["owner"]) == (
                metrics[(last, labels["rule"])]["severity"],
                metrics[(last, labels["rule"])]["owner"],
            )
            open_by_rule[labels["rule"]] = value
        else:
            assert labels == (
                {"model": "orders", "system": "erp"}
                if name == "sluice_model_info"
                else {"model": "orders"}
            )
            model[name] = value
    ruled = {r for (_, r), v in expected.items() if v["new_exceptions"]}  # rules with history
    assert open_by_rule == {r: expected[(last, r)]["open_at_end"] for r in ruled}
    final = [v for (i, r), v in expected.items() if i == last]
    assert model["sluice_exceptions_dead_letter"] == sum(v["dead_letter_at_end"] for v in final)
    for column in COUNTS:
        name = "new" if column == "new_exceptions" else column
        total = sum(v[column] for v in expected.values())
        assert model[f"sluice_exceptions_{name}_total"] == total, column
    runs = [v for (i, r), v in expected.items() if r == "sluice_record_key"]
    assert len(runs) == 10
    for column in ("in", "published", "held", "set_aside", "flagged"):
        assert model[f"sluice_model_rows_{column}_total"] == sum(v[f"rows_{column}"] for v in runs)


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_recovery_completes_when_every_held_exception_is_settled(make_project, engine: str) -> None:
    """An incident opened while a model held exceptions: once each of them has moved to a
    settled status (some an hour after the opening, the others three hours after), the incident's
    recovery is complete at the last move, three hours after it opened."""
    project = make_project(engine)
    scenario.setup(project)
    project.dbt("seed")
    _sluice_build(project)
    ((opened_at,),) = project.query("select max(event_at) from {schema}.sluice_exception_events")
    held = project.query(
        "select exception_id, rule_name from {schema}.sluice_exception_events "
        "where to_status in ('open', 'dead_letter') and coalesce(event_type, 'status') = 'status'"
    )
    rules = sorted({rule for _, rule in held})
    assert len(held) >= 4 and len(rules) >= 2
    _check_recovery_completion(project, opened_at)  # nothing settled yet

    def at(hours: int) -> str:
        return f"cast('{(opened_at + timedelta(hours=hours)).isoformat(sep=' ')}' as timestamp)"

    columns = (
        "event_id, exception_id, model_name, model_unique_id, record_key, record_copy, "
        "rule_name, error_class, severity, route, owner, from_status, to_status, attempt_count, "
        "invocation_id, event_at, actor, reason, event_type"
    )
    for hours, to_status, chosen in ((1, "released", rules[:1]), (3, "rejected", rules[1:])):
        names = ", ".join(f"'{rule}'" for rule in chosen)
        project.execute(
            f"insert into {{schema}}.sluice_exception_events ({columns}) "
            f"select e.event_id || '|{to_status}', e.exception_id, e.model_name, "
            "e.model_unique_id, e.record_key, e.record_copy, e.rule_name, e.error_class, "
            f"e.severity, e.route, e.owner, e.to_status, '{to_status}', e.attempt_count, "
            f"'settled', {at(hours)}, 'reviewer', null, 'status' "
            "from {schema}.sluice_exception_events as e "
            "where e.to_status in ('open', 'dead_letter') "
            f"and coalesce(e.event_type, 'status') = 'status' and e.rule_name in ({names})"
        )
    project.dbt("run", "-s", "sluice_incident_recovery_completion")
    ((exceptions_held, exceptions_settled, completed_at, hours),) = project.query(
        "select exceptions_held, exceptions_settled, completed_at, hours_to_complete "
        "from {schema}.sluice_incident_recovery_completion"
    )
    assert (exceptions_held, exceptions_settled) == (len(held), len(held))
    assert completed_at == opened_at + timedelta(hours=3)
    assert float(hours) == 3.0
