"""Headless Chromium for the report tests: the DOM after the page ran, and a layout probe.

The probe measures the report as a reader at a given width sees it: the page's own copy with
its Content-Security-Policy removed and one measuring script added at the end (the policy
forbids every script, including this one; it has no effect on layout). The measurements come
back in the document title.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.dbt_harness import chromium_path

PROBE = """
<script>
(function () {
  function oneLine(el) {
    // every text fragment inside `el` sits on the first fragment's line
    var rects = [];
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      var node = walker.currentNode;
      if (!node.textContent.trim()) continue;
      var range = document.createRange();
      range.selectNodeContents(node);
      Array.prototype.forEach.call(range.getClientRects(), function (r) {
        if (r.width > 0 && r.height > 0) rects.push(r);
      });
    }
    if (rects.length < 2) return true;
    var first = rects[0];
    return rects.every(function (r) { return r.top < first.bottom - 2 && r.bottom > first.top + 2; });
  }
  var wrapped = [];
  var selectors = [".badge", "th", ".nw", ".num", ".id", ".path > span"];
  selectors.forEach(function (selector) {
    document.querySelectorAll(selector).forEach(function (el) {
      if (el.getClientRects().length && !oneLine(el)) {
        wrapped.push(selector + ": " + el.textContent.trim().slice(0, 80));
      }
    });
  });
  // elements reaching past the window or spilling out of their box, other than content a
  // scrolling box holds
  function scrolled(el) {
    if (el.closest("svg")) return true;  // an inline svg clips what it draws
    for (var up = el.parentElement; up; up = up.parentElement) {
      var style = getComputedStyle(up);
      if (style.overflowX === "auto" || style.overflowX === "scroll") return true;
    }
    return false;
  }
  var wide = [];
  var width = document.documentElement.clientWidth;
  document.querySelectorAll("body *").forEach(function (el) {
    var box = el.getBoundingClientRect();
    var spills = getComputedStyle(el).overflowX === "visible" && el.clientWidth > 0
      && el.scrollWidth > el.clientWidth + 1;
    if (box.width > 0 && (box.right > width + 0.5 || spills) && !scrolled(el)) {
      var name = el.id || (el.className && (el.className.baseVal || el.className)) || "";
      wide.push(el.tagName.toLowerCase() + (name ? "." + name : "") + " " + Math.round(box.right));
    }
  });
  document.title = "PROBE " + JSON.stringify({
    scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
    clientWidth: document.documentElement.clientWidth,
    wrapped: wrapped,
    wide: wide,
    svgs: document.querySelectorAll("svg").length,
    scripts: document.querySelectorAll("script").length
  });
})();
</script>
"""


def dump_dom(page: Path, profile: Path, width: int = 1400) -> str:
    """The page's DOM after Chromium loaded it (and ran whatever it was allowed to run)."""
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
            "--hide-scrollbars",
            f"--window-size={width},900",
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


def title(dom: str) -> str:
    match = re.search(r"<title>(.*?)</title>", dom, re.S)
    return html.unescape(match.group(1)) if match else ""


def probe_layout(page: Path, workdir: Path, width: int = 1400) -> dict[str, Any]:
    """Layout measurements of ``page`` at ``width`` pixels (see the module's docstring)."""
    source = page.read_text(encoding="utf-8")
    without_policy, removed = re.subn(
        r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", source, count=1
    )
    assert removed == 1, "the report carries its Content-Security-Policy"
    workdir.mkdir(parents=True, exist_ok=True)
    probed = workdir / f"probe-{page.stem}-{width}.html"
    probed.write_text(without_policy.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    found = title(dump_dom(probed, workdir / "chromium-probe", width))
    assert found.startswith("PROBE "), f"the probe did not run: {found!r}"
    result: dict[str, Any] = json.loads(found[len("PROBE ") :])
    return result
