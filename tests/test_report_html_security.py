"""Hostile names and messages in the artifacts never become markup in the report.

The HTML report is rendered in headless Chromium: the board must show, and no injected script
may run nor injected element exist. Those tests are marked `chromium`: without the browser they
are skipped with the reason, except under CI=true (CI installs it), where they fail.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sluice.report import generate_report

from tests.browser import probe_layout
from tests.dbt_harness import chromium_path
from tests.fixtures import synth
from tests.fixtures.synth import dbt_test, exposure, model, result, source, uid

MARK = "PWNED"
PAYLOADS = (
    f"<script>document.title='{MARK}';document.body.appendChild("
    f"document.createElement('{MARK.lower()}'))</script>",
    f'"><img src=x onerror="document.title=\'{MARK}\'">',
    f"</style><script>document.title='{MARK}'</script><style>",
    f"'><svg onload=\"document.title='{MARK}'\">",
    f"</title><script>document.title='{MARK}'</script>",
    '</textarea></pre><iframe src="javascript:alert(1)"></iframe>',
)
INJECTED_TAGS = ("script", "img", "svg", "iframe", MARK.lower())


def _dump_dom(page: Path, profile: Path) -> str:
    browser = chromium_path()
    assert browser is not None, "tests that open the browser are marked chromium"
    completed = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "<html" in completed.stdout, completed.stderr[-2000:]
    return completed.stdout


class _Elements(HTMLParser):
    """Every element of a page: its tag and attributes (text never counts as an element)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(dom: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(dom)
    return parser.found


def assert_nothing_injected(dom: str) -> None:
    """No injected element, and no event handler on any element. The report's own pictures are
    inline SVG (class ``pic`` or ``spark``); any other svg is injected."""
    for tag, attrs in elements(dom):
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"<{tag}> has event handler attributes {handlers}"
        if tag == "svg":
            assert (attrs.get("class") or "").split()[0] in ("pic", "spark"), attrs
        else:
            assert tag not in INJECTED_TAGS, f"injected <{tag}> is in the DOM"


def _title(dom: str) -> str:
    match = re.search(r"<title>(.*?)</title>", dom, re.S)
    return match.group(1) if match else ""


def _hostile_project(tmp_path: Path) -> Path:
    p = PAYLOADS
    src = source("raw", f"events{p[2]}")
    src["source_name"] = f"raw{p[3]}"
    nodes = [
        model("base", (src["unique_id"],)),
        model("mart", (uid("base"),)),
        model("held", (uid("base"),), materialized="sluice"),
        dbt_test(f"not_null_base{p[0]}", uid("base")),
    ]
    nodes[1]["name"] = f"mart{p[1]}"
    exposures = [
        exposure(
            "finance_board",
            (uid("mart"),),
            label=f"Finance board {p[0]}",
            owner={"name": f"Fin {p[1]}", "email": f"x{p[3]}@example.com"},
            meta={"owner": p[4], "criticality": p[2]},
            url=f"javascript:document.title='{MARK}'",
        ),
        exposure(
            "ops_board",
            (uid("held"),),
            label=f"Ops board {p[5]}",
            url=f"https://example.com/?q={p[1]}",
        ),
    ]
    man = synth.manifest(nodes, sources=[src], exposures=exposures)
    runs = synth.run_results(
        [
            result(uid("base"), "success"),
            result(uid("mart"), "error", f"Database Error {p[0]} {p[1]} {p[2]}"),
            result(
                uid("held"),
                "success",
                f"sluice: gate passed; published 1 of 3 rows; held 2, flagged 0 {p[3]}",
                code="SLUICE",
            ),
            result(f"test.shop.not_null_base{p[0]}.abc123", "fail", p[4], failures=2),
        ]
    )
    fresh = synth.sources_results([synth.freshness(src["unique_id"], "runtime error")])
    fresh["results"][0]["error"] = f"cannot read {p[5]}"
    project = synth.write_project(tmp_path / "proj")
    synth.write_target(project / "target", man, runs, fresh)
    hostile_counts = [
        {"rule_name": p[0], "error_class": p[1], "severity": p[2], "route": p[3], "rows": 2}
    ]
    synth.create_sluice_runs(
        project / "wh.duckdb",
        [synth.sluice_run("held", rows_held=2, rule_counts=hostile_counts)],
    )
    return project


@pytest.mark.chromium
def test_chromium_runs_scripts_in_an_unprotected_page(tmp_path: Path) -> None:
    """The detector works: the same payload in a page without escaping does run."""
    page = tmp_path / "control.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><title>control</title></head><body>{PAYLOADS[0]}</body></html>"
    )
    dom = _dump_dom(page, tmp_path / "chromium-control")
    assert _title(dom) == MARK
    assert f"<{MARK.lower()}>" in dom
    with pytest.raises(AssertionError, match="injected"):
        assert_nothing_injected(dom)


@pytest.mark.chromium
def test_hostile_artifacts_render_as_text(tmp_path: Path) -> None:
    project = _hostile_project(tmp_path)
    result_ = generate_report(project, profiles_dir=project)
    page = result_.outputs["html"]
    source = page.read_text()
    for payload in PAYLOADS:
        assert payload not in source
    assert "http://" not in source.split("</style>", 1)[1].replace("https://example.com", "")
    assert 'href="javascript:' not in source

    dom = _dump_dom(page, tmp_path / "chromium-profile")
    assert _title(dom) == "sluice impact report"
    assert_nothing_injected(dom)
    # the board rendered, hostile text shown as text
    assert dom.count('class="card ') == 2
    assert "Finance board" in dom and "Ops board" in dom
    assert html.escape("<script>", quote=False) in dom
    assert dom.count('data-status="blocked"') == 2  # the failing test on base reaches both
    for section in ("board", "incidents", "root-causes", "paths", "patterns", "quarantine"):
        assert f'id="{section}"' in dom
    assert 'id="freshness"' in dom
    # the hostile names reached the incidents, the patterns and the lineage pictures as text
    assert dom.count('class="incident open"') == 2
    assert dom.count('<svg class="pic lineage"') == 2
    assert f"rule {PAYLOADS[0]}" not in source and html.escape(PAYLOADS[0], quote=False) in dom


@pytest.mark.chromium
def test_hostile_and_very_long_names_fit_1400px(tmp_path: Path) -> None:
    project = _hostile_project(tmp_path)
    target = project / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    long_name = "base_" + "x" * 160 + "_and_" + "y" * 120
    manifest["nodes"][uid("base")]["name"] = long_name
    manifest["exposures"]["exposure.shop.ops_board"]["label"] = "Ops" + "W" * 200
    (target / "manifest.json").write_text(json.dumps(manifest))
    page = generate_report(project, profiles_dir=project).outputs["html"]
    assert long_name in page.read_text()
    layout = probe_layout(page, tmp_path / "probe")
    assert layout["scrollWidth"] <= 1400, layout
    assert layout["wide"] == [], layout


@pytest.mark.parametrize("warehouse", [False, True], ids=["artifacts", "warehouse"])
def test_markdown_summary_escapes_markup(tmp_path: Path, warehouse: bool) -> None:
    project = _hostile_project(tmp_path)
    summary = (
        generate_report(project, profiles_dir=project, warehouse=warehouse, formats=("md",))
        .outputs["md"]
        .read_text()
    )
    if warehouse:  # the incidents and patterns tables carry the hostile names too
        assert "**Incidents**" in summary and "**Patterns over the last 30 days**" in summary
    for tag in INJECTED_TAGS:
        assert f"<{tag}" not in summary.lower()
    assert "&lt;script&gt;" in summary
    # every table row keeps its column count: no value broke out of its cell
    for line in summary.splitlines():
        if line.startswith("| ") and "---" not in line:
            assert line.count(" | ") + 2 == line.count("|") - line.count("\\|"), line
