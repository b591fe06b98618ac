"""``sluice report``: what dbt's latest known results mean for the project's exposures.

:func:`generate_report` reads the project (:mod:`sluice.project`) and the artifacts of the last
invocation, merges them into the state of earlier invocations (:mod:`sluice.artifacts.history`),
enriches them with the package's ``sluice_runs`` counts when the warehouse is used, computes the
impact, and writes impact.json, report.html, summary.md, the state file and the BI tables. Every
input is read, every output rendered and every destination checked before anything is written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from sluice.artifacts import RUN_RESULTS_FILE, Artifacts, load_artifacts
from sluice.artifacts.history import (
    STATE_FILE,
    Known,
    encode_state,
    is_build,
    is_empty_run,
    known_results,
    load_state,
    merge,
    not_counted_because,
    state_lock,
)
from sluice.destinations import check_writable
from sluice.errors import FileNotWritten, InputError
from sluice.freshness.sources import as_utc
from sluice.impact import ExposureImpact, ExposureStatus, Impact, ModelQuarantine, analyze
from sluice.incidents import IncidentChange, assemble, patterns, track
from sluice.privacy.files import remember
from sluice.project import Project, ProjectFlags, load_project, parse_duration
from sluice.report.document import SCHEMA_VERSION, build_document
from sluice.report.history import History
from sluice.report.render import FILE_NAMES, FORMATS, preload, render_all

if TYPE_CHECKING:
    from sluice.warehouse import Warehouse

__all__ = [
    "FORMATS",
    "SCHEMA_VERSION",
    "ReportResult",
    "generate_report",
    "parse_formats",
    "preload",
    "state_path_of",
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
    state_path: Path | None = None
    """The state file holding each node's latest known result."""
    incident_changes: tuple[IncidentChange, ...] = ()
    """The incident changes this report recorded (empty without the warehouse)."""
    head_note: str | None = None
    """Why the audit trail's head could not be recorded outside the warehouse (None: recorded,
    or nothing to record)."""

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


DEFAULT_PATTERN_WINDOW: Final = timedelta(days=30)


def pattern_window(project: Project) -> timedelta:
    """Var ``sluice_pattern_window`` (default ``30d``): how far back the report's patterns look."""
    value = project.var("sluice_pattern_window", None)
    if value is None:
        return DEFAULT_PATTERN_WINDOW
    return parse_duration(value, "var sluice_pattern_window")


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


def state_path_of(project: Project) -> Path:
    """The state file of the project: ``<target-path>/sluice/state.json``."""
    return project.target_path / "sluice" / STATE_FILE


def _stage(files: Mapping[Path, str | bytes]) -> list[tuple[Path, Path]]:
    """Write every file to a temporary name beside it (nothing replaced yet): (temporary, final)
    pairs. On failure no temporary file is left and the error names the file."""
    staged: list[tuple[Path, Path]] = []
    final = Path()
    try:
        for final, content in files.items():
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, staging_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.")
            staged.append((Path(staging_name), final))
            data = content.encode("utf-8") if isinstance(content, str) else content
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            Path(staging_name).chmod(0o644)  # mkstemp's 0600 would hide the report from others
    except OSError as exc:
        _discard(staged)
        named = OSError(exc.errno, exc.strerror or str(exc), str(final))
        raise FileNotWritten(f"cannot write the report: {exc}", named) from None
    except BaseException:
        _discard(staged)
        raise
    return staged


def _discard(staged: Iterable[tuple[Path, Path]]) -> None:
    for temporary, _ in staged:
        temporary.unlink(missing_ok=True)


def _commit(staged: Iterable[tuple[Path, Path]]) -> None:
    """Rename staged files into place (a rename within a folder needs no space)."""
    for temporary, final in staged:
        temporary.replace(final)


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report is computed from, read once (``sluice build`` reads it while it
    escalates, then hands it to :func:`generate_report`)."""

    project: Project
    artifacts: Artifacts
    known: Known
    state: Any
    state_path: Path
    warnings: tuple[str, ...]
    quarantine: Mapping[str, ModelQuarantine] = field(default_factory=dict)
    quarantine_source: str = "run_results"
    history: History | None = None
    """Incidents recorded so far, held rows over time, held records (with the warehouse)."""
    pattern_window: timedelta = DEFAULT_PATTERN_WINDOW


def _escalation_settings(project: Project) -> tuple[Mapping[str, str], str]:
    """``source_owners`` and ``default_owner`` of ``[tool.sluice.escalate]``, as alerts use."""
    from sluice.retry.config import ConfigError, read_pyproject

    try:
        table = read_pyproject(project.root).get("escalate", {})
    except ConfigError as exc:
        raise InputError(str(exc)) from None
    owners = table.get("source_owners", {}) if isinstance(table, dict) else {}
    default = table.get("default_owner", "unowned") if isinstance(table, dict) else "unowned"
    clean = {str(k): str(v) for k, v in owners.items()} if isinstance(owners, dict) else {}
    return clean, str(default or "unowned")


def read_inputs(
    project: Project,
    *,
    artifacts: Artifacts | None = None,
    warehouse: bool = True,
    state_path: Path | None = None,
    horizon: timedelta | None = None,
    connection: Warehouse | None = None,
) -> ReportInputs:
    """Load the artifacts (unless given), merge them into the known state, and read the
    quarantine counts from ``sluice_runs`` (with ``warehouse``; through ``connection`` when
    given, else a connection of its own)."""
    if artifacts is None:
        artifacts = load_artifacts(project.target_path)
    run_results = artifacts.run_results
    which = run_results.args.get("which")
    command = str(which) if which else None
    path = state_path or state_path_of(project)
    previous = load_state(path, project.name)
    warnings: list[str] = []
    empty = is_empty_run(run_results.args)
    if not is_build(command, empty=empty):
        why = not_counted_because(command, empty=empty)
        if previous is None or not previous.nodes:
            raise InputError(
                f"{artifacts.target_path / RUN_RESULTS_FILE} (invocation "
                f"{run_results.metadata.invocation_id}) {why}, and no earlier result is known "
                f"({path} does not exist yet); run dbt build, run or test first"
            )
        warnings.append(
            f"{RUN_RESULTS_FILE} {why}: not counted; the statuses are those of earlier invocations"
        )
    state = merge(previous, run_results, project.name)
    graph_ids = [
        *artifacts.manifest.nodes,
        *artifacts.manifest.sources,
        *artifacts.manifest.unit_tests,
    ]
    limit = horizon if horizon is not None else project.settings.report_horizon
    known = known_results(state, run_results, horizon=limit, nodes=graph_ids)
    if known.expired:
        warnings.append(
            f"{len(known.expired)} node(s) have no result newer than the horizon ({limit} before "
            "the latest invocation): counted as unknown"
        )
    inputs = ReportInputs(
        project=project,
        artifacts=artifacts,
        known=known,
        state=state,
        state_path=path,
        warnings=tuple(warnings),
    )
    if not warehouse:
        return inputs
    from sluice.report.history import read_history

    window = pattern_window(project)
    latest_run = as_utc(run_results.metadata.generated_at) or datetime.now(UTC)
    with _warehouse(project, True, connection) as wh:
        assert wh is not None
        quarantine = read_quarantine(wh, known)
        history = read_history(
            wh,
            since=min(latest_run, datetime.now(UTC)) - window,
            invocation_id=run_results.metadata.invocation_id or "",
            quarantine=quarantine.values(),
            metrics=metrics_relation(artifacts),
        )
    return replace(
        inputs,
        quarantine=quarantine,
        quarantine_source="warehouse" if quarantine else "run_results",
        history=history,
        pattern_window=window,
    )


METRICS_MODEL: Final = "model.sluice.sluice_metrics"


def metrics_relation(artifacts: Artifacts) -> tuple[str, str] | None:
    """Where the package's ``sluice_metrics`` is built, as the manifest says (schema,
    identifier); None when the project does not have it (disabled, or an older package)."""
    node = artifacts.manifest.nodes.get(METRICS_MODEL)
    if node is None or not node.schema_:
        return None
    return node.schema_, node.alias or node.name


@contextmanager
def _warehouse(
    project: Project, warehouse: bool, connection: Warehouse | None
) -> Iterator[Warehouse | None]:
    """``connection`` when given, else (with ``warehouse``) one opened for the caller's block,
    else None."""
    if connection is not None or not warehouse:
        yield connection
        return
    from sluice.warehouse import connect

    with connect(project) as opened:
        yield opened


def read_quarantine(wh: Any, known: Known) -> dict[str, ModelQuarantine]:
    """Each sluice model's ``sluice_runs`` row from the invocation of its known result."""
    from sluice.warehouse import last_passed, read_runs

    wanted = {uid: origin.invocation_id for uid, origin in known.provenance.items()}
    runs = [
        run
        for run in read_runs(wh, invocations=set(wanted.values()))
        if wanted.get(run.model_unique_id) == run.invocation_id
    ]
    passed = last_passed(wh, [run.model_unique_id for run in runs])
    return {
        run.model_unique_id: ModelQuarantine(
            model_unique_id=run.model_unique_id,
            rows_in=run.rows_in,
            rows_published=run.rows_published,
            # held back from publication: held rows and set-aside duplicate copies, as the
            # model's run result states them
            rows_held=run.rows_held + run.rows_set_aside,
            rows_flagged=run.rows_flagged,
            gate_status=run.gate_status,
            gate_message=run.gate_message,
            rule_counts=run.rule_counts,
            last_passed_at=passed.get(run.model_unique_id),
            quarantine_relation=run.quarantine_relation,
            # a row written before sluice recorded it: every held row, set-aside copies apart
            rows_held_open=run.rows_held if run.rows_held_open is None else run.rows_held_open,
        )
        for run in runs
    }


def generate_report(
    project_dir: Path | str | None = None,
    *,
    target_path: Path | None = None,
    output_dir: Path | None = None,
    formats: Iterable[str] = FORMATS,
    warehouse: bool = True,
    profiles_dir: Path | None = None,
    target: str | None = None,
    vars: str | Mapping[str, Any] | None = None,
    project: Project | None = None,
    inputs: ReportInputs | None = None,
    state_path: Path | None = None,
    horizon: timedelta | None = None,
    now: datetime | None = None,
    connection: Warehouse | None = None,
) -> ReportResult:
    """Build the impact report of the latest known results of the project in ``project_dir``.

    Flags follow dbt (``--target-path``, ``--profiles-dir``, ``--target``, ``--vars`` and
    their ``DBT_*`` variables). ``inputs`` (from :func:`read_inputs`) skips reading again.
    With ``warehouse``, one connection reads the inputs and writes the tables: ``connection``
    when given (``sluice build`` shares its own), else one opened here. Raises
    :class:`~sluice.errors.InputError` (nothing written) for unusable artifacts, an unknown
    format, an unwritable destination, or, with ``warehouse=True``, a profile or database that
    cannot be used.
    """
    chosen = parse_formats(formats)
    if inputs is not None:
        project = inputs.project
    elif project is None:
        flags = ProjectFlags(
            project_dir=Path(project_dir) if project_dir is not None else None,
            profiles_dir=Path(profiles_dir) if profiles_dir is not None else None,
            target=target,
            target_path=Path(target_path) if target_path is not None else None,
            vars=vars,
        )
        project = load_project(flags, require=warehouse)
    out_dir = Path(output_dir) if output_dir is not None else project.target_path / "sluice"
    check_writable(out_dir, "report")
    check_writable((state_path or state_path_of(project)).parent, "state file")
    with _warehouse(project, warehouse, connection) as wh:
        if inputs is None:
            inputs = read_inputs(
                project, warehouse=warehouse, state_path=state_path, horizon=horizon, connection=wh
            )
        check_writable(inputs.state_path.parent, "state file")
        return _write_report(project, inputs, chosen, out_dir, wh, now or datetime.now(UTC))


def _write_report(
    project: Project,
    inputs: ReportInputs,
    chosen: tuple[str, ...],
    out_dir: Path,
    wh: Warehouse | None,
    generated_at: datetime,
) -> ReportResult:
    """Compute the impact, render it, write the tables (through ``wh``) and then the files."""
    artifacts = inputs.artifacts
    source_owners, default_owner = _escalation_settings(project)
    invocations = tuple(
        (i.invocation_id, i.command, i.generated_at) for i in inputs.state.invocations if i.counted
    )
    impact = analyze(
        artifacts.manifest,
        inputs.known.results,
        generated_at=generated_at,
        sources=artifacts.sources,
        quarantine=inputs.quarantine,
        provenance=inputs.known.provenance,
        warnings=inputs.warnings,
        invocations=invocations,
        source_owners=source_owners,
        default_owner=default_owner,
    )
    history = inputs.history
    changes: tuple[IncidentChange, ...] = ()
    if history is not None:
        changes = track(history.incidents, impact)
        incidents = assemble([*history.incidents, *changes])
        document = build_document(
            impact,
            quarantine_source=inputs.quarantine_source,
            incidents=incidents,
            incident_changes=changes,
            patterns=patterns(
                incidents,
                history.held_runs,
                until=generated_at,
                window=inputs.pattern_window,
                conflicts=history.conflicts,
            ),
            held_records=history.held_records,
            reviews=history.reviews,
            operations=history.operations,
        )
    else:
        document = build_document(impact, quarantine_source=inputs.quarantine_source)
    rendered = render_all(document, chosen)
    files: dict[Path, str | bytes] = {
        out_dir / FILE_NAMES[fmt]: text for fmt, text in rendered.items()
    }
    tables: tuple[str, ...] = ()
    # One report at a time per state file: this invocation is merged into the file as it is now
    # (another report may have added one since it was read). Every file is written to its
    # temporary name before the warehouse is touched, so a full or read-only disk stops the
    # report before any table, incident or seal is written; the renames come last.
    with state_lock(inputs.state_path):
        current = load_state(inputs.state_path, project.name)
        files[inputs.state_path] = encode_state(merge(current, artifacts.run_results, project.name))
        staged = _stage(files)
        try:
            if wh is not None:
                from sluice.report.tables import write_tables

                tables = write_tables(wh, project.sluice_schema(), impact, incident_changes=changes)
        except BaseException:
            _discard(staged)
            raise
        _commit(staged)
    remember(project.target_path, [out_dir / FILE_NAMES[fmt] for fmt in chosen])
    head_note = None
    if wh is not None:
        from sluice.audit.heads import keep_head

        head_note = keep_head(wh, by="sluice report", invocation_id=artifacts.invocation_id)
    by_format = {fmt: out_dir / FILE_NAMES[fmt] for fmt in chosen}
    return ReportResult(
        invocation_id=artifacts.invocation_id,
        impact=impact,
        outputs=MappingProxyType(by_format),
        warehouse_tables=tables,
        quarantine_source=inputs.quarantine_source,
        state_path=inputs.state_path,
        incident_changes=changes,
        head_note=head_note,
    )
