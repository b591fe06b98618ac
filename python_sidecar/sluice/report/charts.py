"""The geometry of the report's small pictures, computed here and drawn as inline SVG by the
templates (autoescaped like every other value): horizontal bar charts, a sparkline per sluice
model, and a lineage picture per affected exposure from its root causes to it.

Nothing here is markup: only numbers, short labels and CSS class names chosen from fixed sets.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from sluice.lineage import short_id

BAR_ROW: Final = 20
BAR_LABEL_WIDTH: Final = 200
BAR_WIDTH: Final = 220
BAR_VALUE_WIDTH: Final = 100
LABEL_CHARS: Final = 30

BOX_WIDTH: Final = 150
BOX_HEIGHT: Final = 30
COLUMN_GAP: Final = 34
ROW_GAP: Final = 12
BOX_CHARS: Final = 20
MAX_LINEAGE_REASONS: Final = 8
MAX_LINEAGE_PICTURES: Final = 30

SPARK_WIDTH: Final = 180
SPARK_HEIGHT: Final = 28

_EFFECTS: Final = frozenset({"healthy", "degraded", "unknown", "stale", "blocked"})


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (the full text goes in a title)."""
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "\u2026"


@dataclass(frozen=True, slots=True)
class Bar:
    y: int
    label: str
    title: str
    width: float
    value: str
    css: str


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bars: tuple[Bar, ...]
    caption: str


def bar_chart(
    rows: Sequence[tuple[str, float, str, str]], caption: str, *, limit: int = 10
) -> BarChart | None:
    """Rows of (label, value, value as text, effect for the colour): the first ``limit``."""
    shown = list(rows[:limit])
    if not shown:
        return None
    top = max(value for _, value, _, _ in shown) or 1.0
    bars = tuple(
        Bar(
            y=index * BAR_ROW,
            label=clip(label, LABEL_CHARS),
            title=f"{label}: {text}",
            width=round(max(1.0, BAR_WIDTH * value / top), 1),
            value=text,
            css=f"f-{css}" if css in _EFFECTS else "f-bar",
        )
        for index, (label, value, text, css) in enumerate(shown)
    )
    return BarChart(
        width=BAR_LABEL_WIDTH + BAR_WIDTH + BAR_VALUE_WIDTH,
        height=len(bars) * BAR_ROW,
        label_width=BAR_LABEL_WIDTH,
        bars=bars,
        caption=caption,
    )


@dataclass(frozen=True, slots=True)
class Sparkline:
    width: int
    height: int
    points: str
    """``x,y x,y ...`` for a polyline."""
    dots: tuple[tuple[float, float, str], ...]
    """(x, y, title) of each day with a build."""
    title: str


def sparkline(days: Sequence[Mapping[str, Any]], since: date, until: date) -> Sparkline:
    """Rows held per day (``day``, ``rows_held``) on a shared day axis from ``since`` to
    ``until``."""
    span = max(1, (until - since).days)
    top = max((int(d["rows_held"]) for d in days), default=0) or 1
    pad = 3.0
    coords: list[tuple[float, float, str]] = []
    for day in days:
        when = date.fromisoformat(str(day["day"]))
        x = pad + (SPARK_WIDTH - 2 * pad) * min(span, max(0, (when - since).days)) / span
        held = int(day["rows_held"])
        y = SPARK_HEIGHT - pad - (SPARK_HEIGHT - 2 * pad) * held / top
        coords.append((round(x, 1), round(y, 1), f"{when.isoformat()}: {held} rows held"))
    return Sparkline(
        width=SPARK_WIDTH,
        height=SPARK_HEIGHT,
        points=" ".join(f"{x},{y}" for x, y, _ in coords),
        dots=tuple(coords),
        title="; ".join(t for _, _, t in coords),
    )


COLUMNS_HEIGHT: Final = 32
COLUMN_SLOT: Final = 5
MAX_OPERATIONS_MODELS: Final = 20


@dataclass(frozen=True, slots=True)
class Column:
    x: int
    y: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class Columns:
    """One bar per build, the latest at the right, on a fixed number of slots so every model's
    builds line up."""

    width: int
    height: int
    bar_width: int
    columns: tuple[Column, ...]
    caption: str
    css: str


@dataclass(frozen=True, slots=True)
class Figure:
    """One charted figure of a build: its field in impact.json, its heading, and how a value
    reads in a bar's title (``{}`` the value, ``{when}`` the build's time)."""

    key: str
    heading: str
    title: str
    css: str
    text: str | None = None
    """The field holding the value in words, when there is one (an age)."""


BUILD_FIGURES: Final = (
    Figure("rows_held", "Rows held", "{when}: {} rows held", "c-held"),
    Figure("recovered", "Recovered", "{when}: {} exceptions recovered", "c-recovered"),
    Figure("open_exceptions", "Open (queue)", "{when}: {} exceptions open", "c-queue"),
    Figure("oldest_open_seconds", "Oldest open", "{when}: oldest open {}", "c-age", "oldest_open"),
    Figure("dead_letters", "Dead letters", "{when}: {} in dead_letter", "c-dead"),
)


def columns(
    builds: Sequence[Mapping[str, Any]], figure: Figure, slots: int, caption: str
) -> Columns:
    """``figure`` of each build (oldest first; the last ``slots``) as bars scaled to the
    largest; a build without a value (no open exception: no age) draws no bar."""
    shown = list(builds[-slots:]) if slots > 0 else []
    values = [float(b.get(figure.key) or 0) for b in shown]
    top = max(values, default=0.0) or 1.0
    offset = slots - len(shown)
    drawn = []
    for index, (build, value) in enumerate(zip(shown, values, strict=True)):
        height = round((COLUMNS_HEIGHT - 2) * value / top, 1)
        word = build.get(figure.text) if figure.text else build.get(figure.key)
        drawn.append(
            Column(
                x=(offset + index) * COLUMN_SLOT,
                y=round(COLUMNS_HEIGHT - height, 1),
                height=height,
                title=figure.title.format(
                    "none" if word is None else word, when=str(build.get("built_at") or "?")
                ),
            )
        )
    return Columns(
        width=slots * COLUMN_SLOT,
        height=COLUMNS_HEIGHT,
        bar_width=COLUMN_SLOT - 1,
        columns=tuple(drawn),
        caption=caption,
        css=figure.css,
    )


def operations(found: Mapping[str, Any]) -> dict[str, Any]:
    """The operational pictures: per shown model, one bar chart per figure of its builds; per
    owner, the open exceptions and the mean time to recover."""
    slots = int(found["builds_per_model"])
    models = {
        m["model_unique_id"]: [
            columns(m["builds"], f, slots, f"{f.heading} of {m['model_name']}, build by build")
            for f in BUILD_FIGURES
        ]
        for m in found["models"][:MAX_OPERATIONS_MODELS]
    }
    owners = found["owners"]
    return {
        "models": models,
        "owner_open": bar_chart(
            [
                (
                    o["owner"],
                    float(o["open_exceptions"]),
                    f"{o['open_exceptions']} open",
                    "stale" if o["open_exceptions"] else "bar",
                )
                for o in owners
            ],
            "Open exceptions per owner",
        ),
        "owner_recovery": bar_chart(
            [
                (o["owner"], _hours(o["mean_recovery_seconds"]), o["mean_recovery"], "bar")
                for o in owners
                if o["recovered"]
            ],
            "Mean time from open to recovered per owner (exceptions recovered in the window)",
        ),
    }


@dataclass(frozen=True, slots=True)
class Box:
    x: int
    y: int
    label: str
    title: str
    css: str
    width: int = BOX_WIDTH
    height: int = BOX_HEIGHT


@dataclass(frozen=True, slots=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True, slots=True)
class Lineage:
    width: int
    height: int
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    caption: str
    omitted: int
    """Reasons left out of the picture (the table lists them all)."""


def lineage(exposure: Mapping[str, Any], kinds: Mapping[str, str]) -> Lineage | None:
    """Every reason's path (root cause to exposure) of one exposure, merged into one picture:
    one column per step before the exposure, root causes coloured by their effect. ``kinds``
    maps a root cause's node to the effect it has."""
    reasons = list(exposure.get("reasons") or [])
    if not reasons:
        return None
    shown = reasons[:MAX_LINEAGE_REASONS]
    paths = [tuple(str(step) for step in r["path"]) for r in shown]
    distance: dict[str, int] = {}
    for path in paths:
        for index, node in enumerate(path):
            distance[node] = max(distance.get(node, 0), len(path) - 1 - index)
    depth = max(distance.values())
    columns: dict[int, list[str]] = {}
    for path in paths:
        for node in path:
            column = depth - distance[node]
            if node not in columns.setdefault(column, []):
                columns[column].append(node)
    place: dict[str, tuple[int, int]] = {}
    for column, nodes in columns.items():
        for row, node in enumerate(nodes):
            place[node] = (column * (BOX_WIDTH + COLUMN_GAP), row * (BOX_HEIGHT + ROW_GAP))
    roots = {r["node_id"]: r["effect"] for r in shown}
    exposure_id = str(exposure["unique_id"])
    boxes = []
    for node, (x, y) in place.items():
        if node == exposure_id:
            css = "n-exposure"
        elif node in roots:
            effect = roots[node]
            css = f"n-{effect}" if effect in _EFFECTS else "n-unknown"
        else:
            css = "n-step"
        title = node if node not in roots else f"{node} (root cause: {kinds.get(node, '?')})"
        boxes.append(Box(x, y, clip(short_id(node), BOX_CHARS), title, css))
    edges: dict[tuple[str, str], Edge] = {}
    for path in paths:
        for a, b in itertools.pairwise(path):
            (ax, ay), (bx, by) = place[a], place[b]
            edges[(a, b)] = Edge(ax + BOX_WIDTH, ay + BOX_HEIGHT // 2, bx - 2, by + BOX_HEIGHT // 2)
    rows = max(len(nodes) for nodes in columns.values())
    name = str(exposure.get("label") or exposure.get("name") or exposure_id)
    return Lineage(
        width=(depth + 1) * BOX_WIDTH + depth * COLUMN_GAP,
        height=rows * BOX_HEIGHT + (rows - 1) * ROW_GAP,
        boxes=tuple(boxes),
        edges=tuple(edges.values()),
        caption=f"From root cause to {name}",
        omitted=len(reasons) - len(shown),
    )


def _hours(seconds: float | None) -> float:
    return (seconds or 0.0) / 3600.0


def charts(document: Mapping[str, Any]) -> dict[str, Any]:
    """Every picture of the HTML report, from the document alone."""
    kinds = {rc["node_id"]: rc["kind"] for rc in document["root_causes"]}
    affected = [e for e in document["exposures"] if e.get("reasons")]
    lineages = {
        e["unique_id"]: picture
        for e in affected[:MAX_LINEAGE_PICTURES]
        if (picture := lineage(e, kinds)) is not None
    }
    found: dict[str, Any] = {"lineage": lineages, "held": {}}
    if document.get("operations"):
        found["operations"] = operations(document["operations"])
    patterns = document.get("patterns")
    if not patterns:
        return found
    found["causes"] = bar_chart(
        [
            (
                f"{c['culprit_type']} {c['culprit_name']}",
                float(c["incidents"]),
                f"{c['incidents']} incident{'s' if c['incidents'] != 1 else ''}",
                "blocked" if c["open_incidents"] else "bar",
            )
            for c in patterns["root_causes"]
        ],
        "Incidents per root cause",
    )
    recoveries = (
        ("recovery_exposure", "recovery_by_exposure"),
        ("recovery_owner", "recovery_by_owner"),
    )
    for key, field in recoveries:
        found[key] = bar_chart(
            [
                (
                    r["label"],
                    _hours(r["mean_seconds"] or r["open_longest_seconds"]),
                    r["mean"] if r["recovered"] else f"open {r['open_longest']}",
                    "bar" if r["recovered"] else "stale",
                )
                for r in patterns[field]
            ],
            "Mean time to recovery (open incidents: how long open so far)",
        )
    since = date.fromisoformat(str(patterns["since"])[:10])
    until = date.fromisoformat(str(patterns["until"])[:10])
    if until <= since:
        until = since + timedelta(days=1)
    found["held"] = {
        h["model_unique_id"]: sparkline(h["days"], since, until) for h in patterns["held_rows"]
    }
    return found
