"""The summary of one dbt invocation, built from plain rows (no database here), and its text."""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ClassCount:
    """Rows of one model that failed rules of one error class in the run, and where they went."""

    error_class: str
    rows: int
    routes: tuple[str, ...]
    severities: tuple[str, ...]


@dataclass(frozen=True)
class QuarantineCount:
    """Exceptions of one model and error class in its quarantine table, by status."""

    model_name: str
    error_class: str
    open_rows: int
    """Still held (or recorded, for the `flag` route): status `open`."""
    this_run: int
    """Recorded or seen again by the summarized invocation."""


@dataclass(frozen=True)
class ModelRun:
    """One row of ``sluice_runs``: a sluice model built by the summarized invocation."""

    model_name: str
    relation_name: str
    quarantine_relation: str
    mode: str
    rows_in: int
    rows_published: int
    rows_held: int
    rows_flagged: int
    gate_status: str
    gate_message: str | None
    classes: tuple[ClassCount, ...] = ()

    @property
    def held(self) -> bool:
        return self.gate_status == "held"


@dataclass(frozen=True)
class Summary:
    warehouse: str
    """The target the rows were read from (adapter, profiles.yml, profile and target)."""
    invocation_id: str
    finished_at: datetime | None
    models: tuple[ModelRun, ...]
    quarantine: tuple[QuarantineCount, ...] = field(default=())

    @property
    def held(self) -> tuple[ModelRun, ...]:
        return tuple(m for m in self.models if m.held)

    def total(self, attribute: str) -> int:
        return sum(int(getattr(m, attribute)) for m in self.models)


def build_summary(
    warehouse: str,
    invocation_id: str,
    finished_at: datetime | None,
    runs: Iterable[ModelRun],
    quarantine: Iterable[QuarantineCount] = (),
) -> Summary:
    return Summary(
        warehouse=warehouse,
        invocation_id=invocation_id,
        finished_at=finished_at,
        models=tuple(sorted(runs, key=lambda m: m.model_name)),
        quarantine=tuple(sorted(quarantine, key=lambda q: (q.model_name, q.error_class))),
    )


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Container[int]
) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def render_text(summary: Summary) -> str:
    """A short plain-text summary: per model, per error class, gates held, the file."""
    when = f", finished {summary.finished_at:%Y-%m-%d %H:%M:%S}" if summary.finished_at else ""
    lines = [f"sluice summary: invocation {summary.invocation_id}{when}", ""]
    if not summary.models:
        lines.append("  no sluice model ran in this invocation")
    else:
        rows = [
            [
                m.model_name,
                "HELD" if m.held else m.gate_status,
                m.mode,
                str(m.rows_in),
                str(m.rows_published),
                str(m.rows_held),
                str(m.rows_flagged),
            ]
            for m in summary.models
        ]
        rows.append(
            [
                "total",
                "",
                "",
                str(summary.total("rows_in")),
                str(summary.total("rows_published")),
                str(summary.total("rows_held")),
                str(summary.total("rows_flagged")),
            ]
        )
        header = ["model", "gate", "mode", "rows in", "published", "held back", "flagged"]
        lines += _table(header, rows, numeric={3, 4, 5, 6})

    by_model = {(q.model_name, q.error_class): q for q in summary.quarantine}
    class_rows = []
    for m in summary.models:
        for c in m.classes:
            q = by_model.get((m.model_name, c.error_class))
            class_rows.append(
                [
                    m.model_name,
                    c.error_class,
                    str(c.rows),
                    "/".join(c.routes),
                    "/".join(c.severities),
                    str(q.open_rows) if q else "0",
                ]
            )
    lines += ["", "Rows failing rules in this build, per model and error class:"]
    if class_rows:
        header = ["model", "error class", "rows", "route", "severity", "open in quarantine"]
        lines += _table(header, class_rows, numeric={2, 5})
    else:
        lines.append("  none: every row passed every rule")

    lines += ["", f"Gates held: {len(summary.held)}"]
    for m in summary.held:
        lines.append(f"  {m.model_name}: {m.gate_message or 'held (no message recorded)'}")
    quarantines = [m for m in summary.models if m.rows_held or m.rows_flagged]
    if quarantines:
        lines += ["", "Quarantine tables:"]
        lines += [f"  {m.model_name}: {m.quarantine_relation}" for m in quarantines]
    lines += ["", f"Warehouse: {summary.warehouse}"]
    return "\n".join(lines) + "\n"
