"""The report's operational charts on DuckDB and PostgreSQL: a model driven through ten builds
(breaks, fixes, releases, retries, dead letters, recoveries; the history aged a day per build),
then every charted figure (impact.json, the HTML's text tables and the SVG bars' titles) checked
against figures replayed from the raw history and the last queue against the quarantine; the
pictures load nothing; a report without the package's models, or without builds, says so."""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from sluice.report import generate_report
from sluice.report.oncall import duration_text

from tests.test_metrics_model import _drive, _expected

ENGINES = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres), "snowflake"]


def _report(project) -> tuple[dict, str, str]:
    out = project.root / "report"
    generate_report(project.root, profiles_dir=project.root, output_dir=out)
    document = json.loads((out / "impact.json").read_text())
    return document, (out / "report.html").read_text(), (out / "summary.md").read_text()


def _per_build(project) -> list[dict]:
    """Each build of the model, oldest first, its rules' replayed figures added up."""
    builds: dict[str, dict] = {}
    for (invocation, _rule), want in _expected(project).items():
        b = builds.setdefault(
            invocation,
            {
                "invocation_id": invocation,
                "built_at": want["built_at"],
                "rows_held": want["rows_held"],
                "recovered": 0,
                "open_exceptions": 0,
                "oldest_open_seconds": None,
                "dead_letters": 0,
            },
        )
        b["recovered"] += want["recovered"]
        b["open_exceptions"] += want["open_at_end"]
        b["dead_letters"] += want["dead_letter_at_end"]
        if want["oldest_open_seconds"] is not None:
            b["oldest_open_seconds"] = max(
                b["oldest_open_seconds"] or 0, want["oldest_open_seconds"]
            )
    return sorted(builds.values(), key=lambda b: b["built_at"])


def _recoveries(project, since: datetime) -> dict[str, tuple[int, float, float]]:
    """Per owner: exceptions recovered since ``since``, mean and longest seconds from their
    latest move to open before, replayed event by event."""
    events = project.query(
        "select exception_id, owner, from_status, to_status, event_at, "
        "coalesce(event_type, 'status') from {schema}.sluice_exception_events order by event_at"
    )
    opened: dict[str, datetime] = {}
    took: dict[str, list[float]] = defaultdict(list)
    for exception, owner, _from, to, at, kind in events:
        if kind != "status":
            continue
        if to == "recovered" and exception in opened and at >= since.replace(tzinfo=None):
            took[owner or "unowned"].append((at - opened[exception]).total_seconds())
        if to == "open":
            opened[exception] = at
    return {o: (len(t), sum(t) / len(t), max(t)) for o, t in took.items()}


def _cells(row: str) -> list[str]:
    return [html.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]


@pytest.mark.package_models
@pytest.mark.parametrize("engine", ENGINES)
def test_charts_show_what_the_history_says(make_project, engine: str) -> None:
    project = make_project(engine)
    _drive(project)
    project.dbt("run", "-s", "sluice_metrics")
    document, page, summary = _report(project)
    ops = document["operations"]
    assert ops["built"] and ops["builds_per_model"] == 30
    (model,) = ops["models"]
    assert model["model_name"] == "orders"

    # every charted figure of every build, against the history replayed
    want = _per_build(project)
    assert len(want) == 10
    got = model["builds"]
    fields = ("rows_held", "recovered", "open_exceptions", "oldest_open_seconds", "dead_letters")
    assert [b["invocation_id"] for b in got] == [w["invocation_id"] for w in want]
    for g, w in zip(got, want, strict=True):
        assert {f: g[f] for f in fields} == {f: w[f] for f in fields}, w["invocation_id"]
        assert g["oldest_open"] == duration_text(w["oldest_open_seconds"])
    # the history is not vacuous
    assert sum(w["recovered"] for w in want) >= 2
    assert max(w["dead_letters"] for w in want) >= 1
    assert max(w["oldest_open_seconds"] or 0 for w in want) >= 3 * 86400
    assert len({w["rows_held"] for w in want}) > 1

    # the last build's queue is the quarantine's, and so is each owner's
    queue = dict(
        project.query(
            "select owner, count(*) from {schema}.orders__quarantine "
            "where status = 'open' group by owner"
        )
    )
    assert got[-1]["open_exceptions"] == sum(queue.values())
    owners = {o["owner"]: o for o in ops["owners"]}
    assert {o: v["open_exceptions"] for o, v in owners.items() if v["open_exceptions"]} == queue

    # each owner's recoveries, replayed from the events
    since = datetime.fromisoformat(ops["since"].replace("Z", "+00:00"))
    recovered = _recoveries(project, since)
    assert recovered, "the scenario recovers exceptions"
    assert {o: v["recovered"] for o, v in owners.items() if v["recovered"]} == {
        o: n for o, (n, _, _) in recovered.items()
    }
    for owner, (_n, mean, longest) in recovered.items():
        assert owners[owner]["mean_recovery_seconds"] == pytest.approx(mean, abs=1)
        assert owners[owner]["longest_recovery_seconds"] == pytest.approx(longest, abs=1)
        assert owners[owner]["mean_recovery"] == duration_text(
            owners[owner]["mean_recovery_seconds"]
        )

    # the text table beside the charts: one row per build, the latest first, the same figures
    block = page.split(f'id="ops-{model["model_unique_id"]}"', 1)[1].split(
        '<div class="ops-model"', 1
    )[0]
    body = block.split('<table class="ops-table">', 1)[1].split("</table>", 1)[0]
    rows = [_cells(r) for r in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1])]
    assert [r[0] for r in rows] == [b["built_at"][:16].replace("T", " ") for b in reversed(got)]
    expected_rows = [
        [
            str(w["rows_held"]),
            str(w["recovered"]),
            str(w["open_exceptions"]),
            duration_text(w["oldest_open_seconds"]) or "",
            str(w["dead_letters"]),
        ]
        for w in reversed(want)
    ]
    assert [r[1:] for r in rows] == expected_rows

    # the bars: one per build with a value, each titled with its figure
    titles = [html.unescape(t) for t in re.findall(r"<rect [^>]*><title>(.*?)</title>", block)]
    held = [t for t in titles if t.endswith(" rows held")]
    assert held == [f"{b['built_at']}: {b['rows_held']} rows held" for b in got if b["rows_held"]]
    dead = [t for t in titles if t.endswith(" in dead_letter")]
    assert dead == [
        f"{b['built_at']}: {b['dead_letters']} in dead_letter" for b in got if b["dead_letters"]
    ]
    assert len(re.findall(r"<svg class=\"pic cols ", block)) == 5

    # the owners' table beside their charts
    table = page.split('id="operations-owners"', 1)[1].split("</table>", 1)[0]
    owner_rows = {
        r[0]: r[1:]
        for r in map(_cells, re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1]))
    }
    for owner, o in owners.items():
        assert owner_rows[owner] == [
            str(o["open_exceptions"]),
            o["oldest_open"] or "",
            str(o["recovered"]),
            o["mean_recovery"] or "",
            o["longest_recovery"] or "",
        ]

    # nothing the pictures draw comes from elsewhere
    section = page.split('<section id="operations">', 1)[1].split("</section>", 1)[0]
    assert "<svg" in section
    for needle in ("href", "src=", "url(", "http:", "https:", "<image", "<script", "@import"):
        assert needle not in section

    # the Markdown summary carries the same latest figures
    operations = summary.split("**Operations", 1)[1].splitlines()
    line = next(x for x in operations if x.startswith("| orders |"))
    last = want[-1]
    assert line.split(" | ")[2:] == [
        str(last["rows_held"]),
        str(sum(w["recovered"] for w in want)),
        str(last["open_exceptions"]),
        duration_text(last["oldest_open_seconds"]) or "",
        f"{last['dead_letters']} |",
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_without_the_package_models_the_report_says_so(make_project, engine: str) -> None:
    from tests import scenario

    project = make_project(engine)
    scenario.setup(project)
    project.dbt("seed")
    project.dbt("run", "-s", "orders")
    document, page, summary = _report(project)
    ops = document["operations"]
    assert ops["built"] is False and ops["relation"] is None and ops["models"] == []
    assert 'id="operations-not-built"' in page
    assert "sluice_metrics model has not been built" in summary


@pytest.mark.package_models
def test_no_builds_recorded(make_project) -> None:
    project = make_project("duckdb")
    project.dbt("run", "-s", "sluice_metrics")
    document, page, summary = _report(project)
    ops = document["operations"]
    assert ops["built"] is True and ops["models"] == [] and ops["owners"] == []
    assert "No builds recorded in sluice_metrics yet." in page
    assert "No builds recorded in sluice_metrics yet." in summary
    assert 'class="pic cols' not in page


def test_rules_added_up_per_build_and_owner() -> None:
    """Pure: a build's rules of two owners are one build (its rows held once, the largest age),
    each owner's queue is that of each model's latest build, a rule without an owner is
    `unowned`, and an owner with only recoveries is listed."""
    from sluice.report.operations import Recovery, assemble

    t0 = datetime(2026, 1, 1)
    t1 = t0 + timedelta(days=1)
    rows = [
        ("model.p.a", "a", "i1", t0, "erp", 5, 1, 3, 100, 0, 1),
        ("model.p.a", "a", "i1", t0, "crm", 5, 0, 2, 400, 1, 1),
        ("model.p.a", "a", "i2", t1, "erp", 2, 2, 1, 50, 0, 1),
        ("model.p.a", "a", "i2", t1, "", 2, 0, 4, 900, 0, 0),
        ("model.p.b", "b", "j1", t1, "crm", 0, 0, 0, None, 0, 0),
    ]
    ops = assemble(rows, {"ops": Recovery(2, 300.0, 200.0)}, relation="r", since=t0)
    (a, b) = ops.models
    assert (a.model_name, b.model_name) == ("a", "b")
    assert [(x.invocation_id, x.rows_held, x.recovered, x.open_exceptions) for x in a.builds] == [
        ("i1", 5, 1, 5),
        ("i2", 2, 2, 5),
    ]
    assert [(x.oldest_open_seconds, x.dead_lettered, x.dead_letters) for x in a.builds] == [
        (400, 1, 2),
        (900, 0, 1),
    ]
    owners = {o.owner: o for o in ops.owners}
    assert list(owners) == ["unowned", "erp", "ops"]  # crm: nothing open at a's latest build
    assert (owners["unowned"].open_exceptions, owners["unowned"].oldest_open_seconds) == (4, 900)
    assert (owners["erp"].open_exceptions, owners["erp"].oldest_open_seconds) == (1, 50)
    assert (owners["ops"].recovered, owners["ops"].mean_recovery_seconds) == (2, 150.0)
    assert owners["ops"].longest_recovery_seconds == 200.0
