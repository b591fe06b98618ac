"""A Prometheus textfile (for node_exporter's textfile collector) describing one build.

Every metric describes the last build, so every metric is a gauge: none is named ``*_total``
(a counter would promise a value that only grows, which a file rewritten per build cannot
keep). Row counts come from ``sluice_runs`` (structured), never from dbt's messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sluice.classify.model import FailureClass

EXPOSURE_STATUSES = ("healthy", "degraded", "stale", "blocked", "unknown")


@dataclass(frozen=True, slots=True)
class BuildMetrics:
    failures_by_class: Mapping[str, int]
    failures_seen_by_class: Mapping[str, int]
    attempts: int
    retries: int
    exit_code: int
    duration_seconds: float
    finished_at: float
    gates_held: int
    rows_quarantined: Mapping[tuple[str, str], int]
    rows_held_by_model: Mapping[str, int]
    exposures_by_status: Mapping[str, int]
    alerts_by_priority: Mapping[str, int]
    alert_delivery_failures: int
    extra: Mapping[str, float] = field(default_factory=dict)
    invocation_id: str = ""
    """The ``sluice build`` run these metrics describe (``build.json``'s ``invocation_id``)."""
    status: str = "finished"
    """``finished``, ``interrupted`` or ``usage_error``."""


def label(value: str) -> str:
    """A label value escaped as the text format wants it."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def family_header(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(metrics: BuildMetrics) -> str:
    lines: list[str] = []
    family_header(
        lines,
        "sluice_build_info",
        "gauge",
        "The build these metrics describe: its invocation id and how it ended (always 1).",
    )
    lines.append(
        f'sluice_build_info{{invocation_id="{label(metrics.invocation_id)}",'
        f'status="{label(metrics.status)}"}} 1'
    )
    family_header(
        lines,
        "sluice_build_failures",
        "gauge",
        "Failed or skipped nodes at the end of the build, by run-level failure class.",
    )
    for cls in FailureClass:
        lines.append(
            f'sluice_build_failures{{class="{cls.value}"}} '
            f"{metrics.failures_by_class.get(cls.value, 0)}"
        )
    family_header(
        lines,
        "sluice_build_failures_seen",
        "gauge",
        "Failed or skipped node results over every attempt of the last build, by class.",
    )
    for cls in FailureClass:
        lines.append(
            f'sluice_build_failures_seen{{class="{cls.value}"}} '
            f"{metrics.failures_seen_by_class.get(cls.value, 0)}"
        )
    family_header(lines, "sluice_build_retries", "gauge", "Retries run by the last build.")
    lines.append(f"sluice_build_retries {metrics.retries}")
    family_header(lines, "sluice_build_attempts", "gauge", "dbt invocations of the build.")
    lines.append(f"sluice_build_attempts {metrics.attempts}")
    family_header(
        lines,
        "sluice_build_exit_code",
        "gauge",
        "0 published, 1 held or structural failure, 2 usage error, 3 transient left, "
        "130/143 interrupted (SIGINT/SIGTERM).",
    )
    lines.append(f"sluice_build_exit_code {metrics.exit_code}")
    family_header(lines, "sluice_build_duration_seconds", "gauge", "Wall time of the build.")
    lines.append(f"sluice_build_duration_seconds {number(round(metrics.duration_seconds, 3))}")
    family_header(
        lines,
        "sluice_build_last_run_timestamp_seconds",
        "gauge",
        "When the build finished (Unix time).",
    )
    lines.append(f"sluice_build_last_run_timestamp_seconds {number(round(metrics.finished_at, 3))}")
    family_header(lines, "sluice_gates_held", "gauge", "sluice models whose gate held publication.")
    lines.append(f"sluice_gates_held {metrics.gates_held}")
    family_header(
        lines,
        "sluice_rows_quarantined",
        "gauge",
        "Rows held back by gates that held, by row-level error class and severity.",
    )
    for (error_class, severity), rows in sorted(metrics.rows_quarantined.items()):
        lines.append(
            f'sluice_rows_quarantined{{class="{label(error_class)}",'
            f'severity="{label(severity)}"}} {rows}'
        )
    family_header(
        lines,
        "sluice_rows_held",
        "gauge",
        "Rows held back (quarantined) by sluice models whose gate passed, by model.",
    )
    for model, rows in sorted(metrics.rows_held_by_model.items()):
        lines.append(f'sluice_rows_held{{model="{label(model)}"}} {rows}')
    family_header(lines, "sluice_exposures", "gauge", "Exposures by status after the build.")
    for status in EXPOSURE_STATUSES:
        lines.append(
            f'sluice_exposures{{status="{status}"}} {metrics.exposures_by_status.get(status, 0)}'
        )
    family_header(lines, "sluice_alerts", "gauge", "Escalations at or above the alert threshold.")
    for level, count in sorted(metrics.alerts_by_priority.items()):
        lines.append(f'sluice_alerts{{priority="{label(level)}"}} {count}')
    family_header(
        lines,
        "sluice_alert_delivery_failures",
        "gauge",
        "Webhook deliveries of the last build that failed (0 or 1).",
    )
    lines.append(f"sluice_alert_delivery_failures {metrics.alert_delivery_failures}")
    return "\n".join(lines) + "\n"


def write_textfile(path: Path, metrics: BuildMetrics) -> None:
    write_text_atomic(path, render(metrics))


def write_text_atomic(path: Path, text: str) -> None:
    """Write atomically, so the collector never reads half a file; a failed write (a full
    disk) leaves no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, "utf-8")
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def count_by(values: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
