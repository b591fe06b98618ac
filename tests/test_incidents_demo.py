"""Incidents across builds of the example project (dbt_project/) on DuckDB, and the report an
on-call engineer reads: who fixes what, held records with the command to inspect them, the age
of the data, sources worst-first, a lineage picture per affected exposure, patterns, all in
HTML, Markdown and JSON; and in headless Chromium at 1400 px, nothing runs and nothing
overflows or wraps inside a word.

Three builds, each followed by `sluice report`:
1. the demo as shipped: the invoices gate holds (finance stale), rows held elsewhere;
2. billing re-sent the invoice (`billing_fixed`): finance degraded (an invoice in CHF is held);
3. the faulty orders are gone at the source and the invoice is in EUR: finance healthy.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sluice.report import ReportResult, generate_report

from tests.browser import dump_dom, probe_layout, title
from tests.dbt_harness import example_dbt
from tests.test_report_html_security import assert_nothing_injected

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "dbt_project"
FINANCE = "exposure.sluice_demo.finance_revenue_dashboard"
OPS = "exposure.sluice_demo.operations_dashboard"
CHURN = "exposure.sluice_demo.churn_model"
INCIDENT_COLUMNS = (
    "incident_id, change_type, exposure_unique_id, status, previous_status, opened_at, "
    "changed_at, closed_at, duration_seconds, close_reason, invocation_id"
)


@dataclass
class Step:
    result: ReportResult
    outputs: dict[str, Path]
    incidents: list[tuple[Any, ...]]
    run_generated_at: datetime


@dataclass
class Demo:
    tmp: Path
    db: Path
    steps: list[Step] = field(default_factory=list)
    rerun: ReportResult | None = None
    rerun_rows: int = 0

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db), read_only=True) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]


def _fix_sources(db: Path) -> None:
    """The ERP removes the orders sluice holds; billing corrects the invoice's currency."""
    with duckdb.connect(str(db)) as conn:
        keys = [
            json.loads(key)[0]
            for (key,) in conn.execute(
                "select distinct record_key from main.orders__quarantine where status = 'open'"
            ).fetchall()
        ]
        assert keys
        marks = ", ".join("?" for _ in keys)
        conn.execute(f"delete from main.erp_orders where order_id in ({marks})", keys)
        conn.execute(
            "update main.billing_invoices set currency = 'EUR' where invoice_id = 'INV-2011'"
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    tmp = tmp_path_factory.mktemp("incidents")
    db = tmp / "demo.duckdb"
    target = tmp / "target"
    env = dict(
        os.environ, SLUICE_DEMO_DB=str(db), DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1"
    )
    flags = ["--target-path", str(target), "--log-path", str(tmp / "logs")]
    found = Demo(tmp, db)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLUICE_DEMO_DB", str(db))

        def report(step: int) -> Step:
            result = generate_report(DEMO, profiles_dir=DEMO, target_path=target)
            kept = tmp / f"report-{step}"
            kept.mkdir()
            outputs = {fmt: Path(shutil.copy(path, kept)) for fmt, path in result.outputs.items()}
            rows = found.query(f"select {INCIDENT_COLUMNS} from main.sluice_incidents")
            run_at = json.loads((target / "run_results.json").read_text())["metadata"]
            return Step(result, outputs, rows, datetime.fromisoformat(run_at["generated_at"]))

        assert example_dbt(["deps"], tmp, env).returncode == 0
        assert example_dbt(["seed", *flags], tmp, env).returncode == 0
        fresh = example_dbt(["source", "freshness", *flags], tmp, env)
        assert fresh.returncode == 0, fresh.stdout[-3000:]
        built = example_dbt(["build", *flags], tmp, env)
        assert built.returncode == 1, built.stdout[-3000:]  # the invoices gate holds
        found.steps.append(report(1))

        second = [
            "build",
            *flags,
            "--vars",
            "{billing_fixed: true}",
            "--exclude",
            "resource_type:seed",
        ]
        built = example_dbt(second, tmp, env)
        assert built.returncode == 0, built.stdout[-3000:]
        found.steps.append(report(2))
        found.rerun = generate_report(DEMO, profiles_dir=DEMO, target_path=target)
        found.rerun_rows = found.query("select count(*) from main.sluice_incidents")[0][0]

        _fix_sources(db)
        built = example_dbt(second, tmp, env)
        assert built.returncode == 0, built.stdout[-3000:]
        found.steps.append(report(3))
    return found


def _by_exposure(rows: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    found: dict[str, list[tuple[Any, ...]]] = {}
    for row in sorted(rows, key=lambda r: (r[6], r[1] != "opened")):
        found.setdefault(row[2], []).append(row)
    return found


def test_incidents_open_update_and_close_across_builds(demo: Demo) -> None:
    first, second, third = demo.steps
    opened = _by_exposure(first.incidents)
    assert {uid: [(r[1], r[3]) for r in rows] for uid, rows in opened.items()} == {
        FINANCE: [("opened", "stale")],
        OPS: [("opened", "degraded")],
        CHURN: [("opened", "degraded")],
    }
    invocation_1 = first.result.invocation_id
    for rows in opened.values():
        (incident_id, _, _, _, previous, opened_at, changed_at, closed_at, duration, _, inv) = rows[
            0
        ]
        assert incident_id.startswith("inc_") and previous is None and closed_at is None
        assert opened_at == changed_at == first.run_generated_at.replace(tzinfo=None)
        assert duration is None and inv == invocation_1

    # billing re-sent the invoice: finance goes from stale to degraded, one change, same incident
    changed = [r for r in second.incidents if r not in first.incidents]
    assert [(r[1], r[2], r[3], r[4]) for r in changed] == [
        ("updated", FINANCE, "degraded", "stale")
    ]
    assert changed[0][0] == opened[FINANCE][0][0]
    assert [
        (c.change_type.value, c.exposure_unique_id) for c in second.result.incident_changes
    ] == [("updated", FINANCE)]

    # reporting the same invocation again writes nothing new
    assert demo.rerun is not None and demo.rerun.incident_changes == ()
    assert demo.rerun_rows == len(second.incidents)

    # the sources are fixed: finance closes, with the time from its opening
    after = _by_exposure(third.incidents)
    closing = after[FINANCE][-1]
    assert closing[1:4] == ("closed", FINANCE, "healthy") and closing[9] == "recovered"
    assert closing[0] == opened[FINANCE][0][0]
    assert closing[7] == third.run_generated_at.replace(tzinfo=None)
    assert closing[8] == round((third.run_generated_at - first.run_generated_at).total_seconds())
    assert [r[1] for r in after[FINANCE]] == ["opened", "updated", "closed"]
    # ops and churn stay open: their statuses hold, only their root causes changed
    for uid in (OPS, CHURN):
        assert after[uid][-1][1] in ("opened", "updated") and after[uid][-1][3] == "degraded"

    # the root causes recorded with the opening: the rule that held the invoice, and its owner
    causes = demo.query(
        "select rule_name, owner, kind from main.sluice_incident_causes "
        f"where incident_id = '{opened[FINANCE][0][0]}' and invocation_id = '{invocation_1}'"
    )
    assert ("invoices_amount_required", "billing-ops", "gate_held") in causes

    # the package's views read the recorded history (built by the second and third builds)
    summary = demo.query(
        "select exposure_unique_id, state, worst_status, changes, duration_seconds "
        "from main.sluice_incident_summary order by 1"
    )
    assert (FINANCE, "closed", "stale", 3, closing[8]) in summary
    assert {(r[0], r[1]) for r in summary} == {(FINANCE, "closed"), (OPS, "open"), (CHURN, "open")}


def test_incidents_listed_open_first_in_every_format(demo: Demo) -> None:
    third = demo.steps[2]
    doc = json.loads(third.outputs["json"].read_text())
    incidents = doc["incidents"]
    assert incidents["recorded"] is True
    assert {i["exposure_unique_id"] for i in incidents["open"]} == {OPS, CHURN}
    assert [i["exposure_unique_id"] for i in incidents["closed"]] == [FINANCE]
    finance = incidents["closed"][0]
    assert (finance["is_open"], finance["worst_status"], finance["changes"]) == (False, "stale", 3)
    assert finance["duration_seconds"] > 0 and finance["duration"]
    assert doc["summary"]["incidents_open"] == 2
    assert [
        c["change_type"] for c in incidents["changes"] if c["exposure_unique_id"] == FINANCE
    ] == ["closed"]

    md = third.outputs["md"].read_text()
    table = md[md.index("**Incidents**") :].split("\n\n")[1].splitlines()
    assert "Finance revenue dashboard" in table[-1] and "closed (was stale)" in table[-1]
    assert all("degraded" in line for line in table[2:-1])

    page = third.outputs["html"].read_text()
    rows = [
        page.index(f'data-incident="{i["incident_id"]}"')
        for i in incidents["open"] + incidents["closed"]
    ]
    assert rows == sorted(rows)
    assert page.count('class="incident open"') == 2 and page.count('class="incident closed"') == 1


def test_root_causes_say_who_fixes_what(demo: Demo) -> None:
    first = demo.steps[0]
    doc = json.loads(first.outputs["json"].read_text())
    invoices = next(rc for rc in doc["root_causes"] if rc["node_name"] == "invoices")
    assert invoices["kind"] == "gate_held"
    # the rule's owner owns the fix of a row-level breach
    assert (
        invoices["owner"] == "billing-ops" and "invoices_amount_required" in invoices["owner_basis"]
    )
    assert invoices["breached_rules"][0] == "invoices_amount_required"
    assert invoices["affected_models"] == ["invoices", "fct_revenue"]
    assert invoices["next_step"]
    held = invoices["held_records"]
    assert held and held[0]["record_key"] == '["INV-2007"]'  # the critical one first
    assert held[0]["command"] == f"sluice review show {held[0]['exception_id']}"
    known = {r[0] for r in demo.query("select exception_id from main.invoices__quarantine")}
    assert {r["exception_id"] for r in held} <= known
    # the report names the held records by their keys in clear, from the quarantine; the
    # history of the demo's builds holds only their markers
    ((events, markers),) = demo.query(
        "select count(*), count(case when record_key like 'sluice:redacted:%' then 1 end) "
        "from main.sluice_exception_events"
    )
    assert events > 0 and markers == events

    md = first.outputs["md"].read_text()
    assert "**Root causes: who fixes what**" in md
    assert f"`sluice review show {held[0]['exception_id']}`" in md
    page = first.outputs["html"].read_text()
    assert f"sluice review show {held[0]['exception_id']}" in page
    assert "owner of the fix: <strong>billing-ops</strong>" in page

    for exposure in doc["exposures"]:
        assert exposure["data_age"] and exposure["data_age"].endswith(("ago", "just now"))
    # sources worst first, the unchecked ones (no freshness configured) folded away in HTML
    statuses = [s["status"] for s in doc["sources"]]
    assert statuses == sorted(
        statuses, key=["error", "runtime error", "warn", "pass", "not_checked"].index
    )
    assert statuses[-1] == "not_checked" and "pass" in statuses
    folded = page[page.index('<details id="sources-unchecked">') :]
    assert "events.order_events" in folded[: folded.index("</details>")]

    # a lineage picture per affected exposure, from its root causes to it
    for exposure in doc["exposures"]:
        figure = page[
            page.index(f'<figure class="lineage" data-exposure="{exposure["unique_id"]}"') :
        ]
        figure = figure[: figure.index("</figure>")]
        assert '<svg class="pic lineage"' in figure
        for reason in exposure["reasons"]:
            assert f"<title>{reason['node_id']} (root cause: {reason['kind']})</title>" in figure
        assert f"<title>{exposure['unique_id']}</title>" in figure


def test_patterns_in_every_format(demo: Demo) -> None:
    third = demo.steps[2]
    doc = json.loads(third.outputs["json"].read_text())
    patterns = doc["patterns"]
    assert patterns["window_days"] == 30
    causes = {(c["culprit_type"], c["culprit_name"]): c for c in patterns["root_causes"]}
    assert causes[("rule", "invoices_amount_required")]["incidents"] == 1
    assert causes[("rule", "invoices_amount_required")]["open_incidents"] == 0
    finance = next(r for r in patterns["recovery_by_exposure"] if r["key"] == FINANCE)
    assert finance["recovered"] == 1 and finance["mean_seconds"] == finance["max_seconds"] > 0
    held = {h["model_name"]: h["days"] for h in patterns["held_rows"]}
    assert sum(d["builds"] for d in held["invoices"]) == 3
    assert sum(d["gates_held"] for d in held["invoices"]) == 1

    page = third.outputs["html"].read_text()
    section = page[page.index('<section id="patterns">') :]
    section = section[: section.index("</section>")]
    assert section.count('<svg class="pic bars"') == 3 and '<svg class="spark"' in section
    assert "invoices_amount_required" in section
    md = third.outputs["md"].read_text()
    assert "**Patterns over the last 30 days**" in md
    assert "| rule invoices_amount_required | 1 | 0 | billing-ops |" in md


@pytest.mark.chromium
@pytest.mark.parametrize("step", [1, 3])
def test_report_in_chromium_runs_nothing_and_fits_1400px(demo: Demo, step: int) -> None:
    page = demo.steps[step - 1].outputs["html"]
    source = page.read_text()
    assert "<script" not in source.lower()
    policy = source[source.index('http-equiv="Content-Security-Policy"') :].split(">", 1)[0]
    assert "default-src 'none'" in policy and "script-src 'none'" in policy

    dom = dump_dom(page, demo.tmp / f"chromium-{step}")
    assert title(dom) == "sluice impact report"
    assert_nothing_injected(dom)
    assert "<script" not in dom.lower()

    layout = probe_layout(page, demo.tmp / f"probe-{step}")
    assert layout["scrollWidth"] <= 1400, layout
    assert layout["wrapped"] == [], layout
    assert layout["wide"] == [], layout
    assert layout["svgs"] >= 3
