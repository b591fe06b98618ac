"""Render the impact document as JSON, self-contained HTML, and Markdown.

Both come from Jinja2 templates. HTML: autoescape on, so every value is escaped. Markdown: every
value passes through ``_md_cell`` (HTML-escaped, since PR comments render HTML). The HTML loads
nothing from the network (inline CSS, no script) and carries a Content-Security-Policy that
forbids scripts, as a second line of defence.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any, Final

import jinja2
import markupsafe
import msgspec

from sluice.destinations import REPORT_FILES, REPORT_FORMATS
from sluice.lineage import short_id
from sluice.report.charts import BUILD_FIGURES, charts
from sluice.report.document import Document

FORMATS: Final = REPORT_FORMATS
FILE_NAMES: Final = REPORT_FILES
MAX_REASONS_SHOWN: Final = 12
MAX_ROWS_MD: Final = 30
MAX_MODELS_SHOWN: Final = 10
MAX_ACTIONS_SHOWN: Final = 40


def render_json(document: Document) -> str:
    return msgspec.json.format(msgspec.json.encode(document), indent=2).decode() + "\n"


def _md_cell(value: Any) -> str:
    """A Markdown table cell: HTML-escaped (PR comments render HTML), one line, no bare pipes."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    return html.escape(text, quote=False).replace("|", "\\|").replace("`", "'")


def _safe_url(value: Any) -> str | None:
    text = str(value or "").strip()
    return text if text.lower().startswith(("https://", "http://")) else None


_BREAK_AFTER: Final = re.compile(r"(?<=[._/:-])")
_SPARK_BLOCKS: Final = "▁▂▃▄▅▆▇█"


_IDENT: Final = markupsafe.Markup('<span class="id">{}</span>')


def _ident(value: Any) -> markupsafe.Markup:
    """An identifier (node, rule, record key): escaped, in a span that never wraps."""
    return _IDENT.format("" if value is None else value)


_WBR: Final = markupsafe.Markup("<wbr>")


def _when(at: Any, age: Any) -> markupsafe.Markup:
    """A time as its age in words, the time itself in the title."""
    if not at:
        return markupsafe.Markup('<span class="muted">unknown</span>')
    return markupsafe.Markup('<span class="nw" title="{}">{}</span>').format(at, age or at)


def _breakable(value: Any) -> markupsafe.Markup:
    """Free text that may wrap after each ``.``, ``_``, ``/``, ``:`` and ``-``: the escaped
    parts joined by ``<wbr>``."""
    parts = _BREAK_AFTER.split("" if value is None else str(value))
    return _WBR.join(markupsafe.escape(part) for part in parts if part)


def _spark_text(values: Sequence[int]) -> str:
    """Rows held per day as block characters (Markdown has no pictures)."""
    top = max(values, default=0)
    if top <= 0:
        return _SPARK_BLOCKS[0] * len(values)
    return "".join(_SPARK_BLOCKS[round((len(_SPARK_BLOCKS) - 1) * v / top)] for v in values)


def _percent(value: float, total: float) -> float:
    return 0.0 if total <= 0 else round(100.0 * value / total, 1)


def _short_id(unique_id: Any) -> str:
    """``model.pkg.orders`` -> ``orders``; ``model.pkg.orders.v2`` -> ``orders.v2``;
    ``source.pkg.raw.orders`` -> ``raw.orders``."""
    return short_id(str(unique_id))


def _environment(*, markdown: bool) -> jinja2.Environment:
    loader = jinja2.PackageLoader("sluice.report", "templates")
    common: dict[str, Any] = {
        "loader": loader,
        "undefined": jinja2.StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
    }
    if markdown:
        # Not HTML: instead of autoescape, every expression's value passes through _md_cell.
        env = jinja2.Environment(autoescape=False, finalize=_md_cell, **common)  # noqa: S701
    else:
        env = jinja2.Environment(autoescape=True, **common)
    env.filters["safe_url"] = _safe_url
    env.filters["short_id"] = _short_id
    env.filters["spark_text"] = _spark_text
    if not markdown:
        env.filters["ident"] = _ident
        env.filters["breakable"] = _breakable
        env.globals["when"] = _when
    env.globals["percent"] = _percent
    return env


_HTML_ENV: Final = _environment(markdown=False)
_MD_ENV: Final = _environment(markdown=True)


def preload() -> None:
    """Compile the templates now (``sluice build`` calls this while dbt runs)."""
    _HTML_ENV.get_template("report.html.j2")
    _HTML_ENV.get_template("_svg.html.j2")  # imported by report.html.j2 when it renders
    _MD_ENV.get_template("summary.md.j2")


def render_html(document: Document) -> str:
    return _HTML_ENV.get_template("report.html.j2").render(
        doc=document,
        max_reasons=MAX_REASONS_SHOWN,
        max_models=MAX_MODELS_SHOWN,
        max_actions=MAX_ACTIONS_SHOWN,
        charts=charts(document),
        figures=BUILD_FIGURES,
    )


def render_markdown(document: Document) -> str:
    return _MD_ENV.get_template("summary.md.j2").render(
        doc=document, max_rows=MAX_ROWS_MD, max_models=MAX_MODELS_SHOWN
    )


def render_all(document: Document, formats: tuple[str, ...]) -> dict[str, str]:
    renderers = {"html": render_html, "json": render_json, "md": render_markdown}
    return {fmt: renderers[fmt](document) for fmt in formats}


def redact_held_record(fmt: str, text: str, exception_id: str, marker: str) -> str:
    """``text``, a report file of format ``fmt`` as :func:`render_all` wrote it, with the record
    key of the held record ``exception_id`` replaced by ``marker`` wherever the file lists it
    (``sluice review forget``). Anchored on the exception id that the same entry names, so the
    same key of another record or model is left as it is."""
    command = re.escape(f"sluice review show {exception_id}")
    if fmt == "json":
        eid = re.escape(msgspec.json.encode(exception_id).decode())
        pattern = rf'("exception_id": {eid},\s*"record_key": )"(?:[^"\\]|\\.)*"()'
        value = msgspec.json.encode(marker).decode()
    elif fmt == "html":  # the row's key cell, before its command
        opening, closing = (re.escape(part) for part in _IDENT.split("{}"))
        pattern = rf"(<tr><td><code>{opening})[^<]*({closing}</code>(?:(?!</tr>).)*?{command})"
        value = html.escape(marker)
    else:  # `key` rule: `command`
        pattern = rf"(`)[^`\n]*(` [^`\n]*: `{command}`)"
        value = _md_cell(marker)
    return re.sub(pattern, lambda m: m.group(1) + value + m.group(2), text, flags=re.S)
