"""``sluice report``: what a dbt invocation's problems mean for its exposures.

:func:`generate_report` reads the artifacts of the last invocation, enriches them with the
package's ``sluice_runs`` counts when the warehouse is reachable, computes the impact, and
writes impact.json, report.html, summary.md and the BI tables. Every input is read and every
output rendered before anything is written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from sluice.artifacts import load_artifacts
from sluice.errors import InputError
from sluice.impact import ExposureImpact, ExposureStatus, Impact, ModelQuarantine, analyze
from sluice.report.document import SCHEMA_VERSION, build_document
from sluice.report.render import FILE_NAMES, FORMATS, preload, render_all
from sluice.report.warehouse import connect, read_project, resolve_target

__all__ = [
    "FORMATS",
    "SCHEMA_VERSION",
    "ReportResult",
    "generate_report",
    "parse_formats",
    "preload",
    "resolve_target_path",
]


@dataclass(frozen=True, slots=True)
class ReportResult:
    invocation_id: str
    impact: Impact
    outputs: Mapping[str, Path]
    """Format (``html``, ``json``, ``md``) -> file written."""
    warehouse_tables: tuple[str, ...]
    """``schema.table`` of each table written; empty with ``warehouse=False``."""
    quarantine_source: str

    @property
    def exposures(self) -> tuple[ExposureImpact, ...]:
        return self.impact.exposures

    @property
    def exposure_statuses(self) -> Mapping[str, ExposureStatus]:
        return MappingProxyType({e.unique_id: e.status for e in self.impact.exposures})

    @property
    def all_healthy(self) -> bool:
        return not self.impact.has_problems

    @property
    def has_problems(self) -> bool:
        return self.impact.has_problems


def parse_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """Validate and de-duplicate output formats (``html``, ``json``, ``md``)."""
    chosen: list[str] = []
    for raw in formats:
        for fmt in (part.strip().lower() for part in raw.split(",")):
            if not fmt:
                continue
            if fmt not in FORMATS:
                raise InputError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}")
            if fmt not in chosen:
                chosen.append(fmt)
    if not chosen:
        raise InputError(f"no report format given; choose from {', '.join(FORMATS)}")
    return tuple(chosen)


def resolve_target_path(project_dir: Path, target_path: Path | None) -> Path:
    """``--target-path``, else ``DBT_TARGET_PATH``, else dbt_project.yml's ``target-path``."""
    if target_path is not None:
        return target_path if target_path.is_absolute() else project_dir / target_path
    configured = os.environ.get("DBT_TARGET_PATH") or read_project(project_dir).get(
        "target-path", "target"
    )
    path = Path(str(configured))
    return path if path.is_absolute() else project_dir / path


def _write_atomically(directory: Path, files: Mapping[str, str]) -> dict[str, Path]:
    """Write every file to a temporary name first, then rename them all into place."""
    directory.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in files.items():
            fd, staging_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            Path(staging_name).chmod(0o644)  # mkstemp's 0600 would hide the report from others
            staged.append((Path(staging_name), directory / name))
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    written: dict[str, Path] = {}
    for temporary, final in staged:
        temporary.replace(final)
        written[final.name] = final
    return written


def generate_report(
    project_dir: Path,
    *,
    target_path: Path | None = None,
    output_dir: Path | None = None,
    formats: Iterable[str] = FORMATS,
    warehouse: bool = True,
    profiles_dir: Path | None = None,
    target: str | None = None,
    now: datetime | None = None,
) -> ReportResult:
    """Build the impact report of the last dbt invocation in ``project_dir``.

    Raises :class:`~sluice.errors.InputError` (nothing written) for unusable artifacts, an
    unknown format, or, with ``warehouse=True``, a profile or database that cannot be used.
    """
    project_dir = Path(project_dir)
    chosen = parse_formats(formats)
    targets = resolve_target_path(project_dir, target_path)
    artifacts = load_artifacts(targets)
    generated_at = now or datetime.now(UTC)
    out_dir = output_dir if output_dir is not None else targets / "sluice"

    def build(
        quarantine: Mapping[str, ModelQuarantine] | None, source: str
    ) -> tuple[Impact, dict[str, str]]:
        impact = analyze(
            artifacts.manifest,
            artifacts.run_results,
            generated_at=generated_at,
            sources=artifacts.sources,
            quarantine=quarantine,
        )
        document = build_document(impact, quarantine_source=source)
        rendered = render_all(document, chosen)
        return impact, {FILE_NAMES[fmt]: text for fmt, text in rendered.items()}

    tables: tuple[str, ...] = ()
    if warehouse:
        wh_target = resolve_target(project_dir, profiles_dir=profiles_dir, target=target)
        with connect(wh_target) as conn:
            quarantine = conn.read_quarantine(artifacts.invocation_id)
            source = "warehouse" if quarantine else "run_results"
            impact, files = build(quarantine, source)
            tables = conn.write_tables(impact)
    else:
        source = "run_results"
        impact, files = build(None, source)

    written = _write_atomically(out_dir, files)
    by_format = {fmt: written[FILE_NAMES[fmt]] for fmt in chosen}
    return ReportResult(
        invocation_id=artifacts.invocation_id,
        impact=impact,
        outputs=MappingProxyType(by_format),
        warehouse_tables=tables,
        quarantine_source=source,
    )
