"""Verify and export the audit trail: read it through a :class:`~sluice.audit.store.Trail`, check
it with the pure rules of :mod:`sluice.audit.chain`."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from sluice.audit.chain import (
    CHAINS,
    Finding,
    FindingKind,
    Seal,
    TrailHead,
    UnsealedRecord,
    check_links,
    check_records,
    compare_with_copy,
    kept_seal,
    redaction_marker,
    sort_findings,
    trail_head,
)
from sluice.audit.heads import RecordedHead, check_recorded, head_json
from sluice.audit.store import Trail, open_trail
from sluice.errors import InputError
from sluice.project import ProjectFlags, load_project


@dataclass(frozen=True, slots=True)
class PendingRecord:
    """A row waiting for its seal: a decision written since its model's last build."""

    table: str
    record: UnsealedRecord


@dataclass(frozen=True, slots=True)
class Verification:
    description: str
    findings: tuple[Finding, ...]
    """In trail order; the first one is the first record changed."""
    unnamed: int
    """Rows outside every seal beyond those named in ``findings`` (each one an insertion)."""
    pending: tuple[PendingRecord, ...]
    unnamed_pending: int
    """Rows waiting for their seal beyond those named in ``pending``."""
    head: TrailHead | None
    unchecked: tuple[str, ...] = ()
    """Tables this engine's sluice writes unsealed (the report's and ``sluice build``'s, where
    the sidecar does not seal: :data:`sluice.audit.sql.DIALECTS`), with no seal to check."""

    @property
    def intact(self) -> bool:
        return not self.findings and not self.unnamed


def verify_trail(
    trail: Trail, copy: Sequence[Seal] = (), recorded: RecordedHead | None = None
) -> Verification:
    """Walk every chain: its seals and links, the records each seal covers, the rows no seal
    covers; then, when a copy of earlier seals is given, that none of them changed, and when a
    head recorded outside the warehouse is given (:mod:`sluice.audit.heads`), that no chain is
    shorter than it or rewritten since."""
    seals = trail.seals()
    digests = trail.digests()
    known = {c.name for c in CHAINS}
    findings: list[Finding] = [
        Finding(
            FindingKind.SEAL_INSERTED,
            chain,
            chain,
            model,
            None,
            None,
            "key",
            "a chain this sluice does not know (inserted, or written by a newer sluice)",
        )
        for chain, model in sorted(
            {(s.chain_name, s.model_unique_id) for s in seals if s.chain_name not in known}
            | {(c, m) for c, m in digests if c not in known}
        )
    ]
    if (
        not seals
        and not digests
        and not any(trail.exists(t) for t in trail.tables.audited.values())
    ):
        raise InputError(
            f"{trail.description}: no sluice tables in schema {trail.tables.schema!r}: "
            "run dbt build first"
        )
    by_chain: dict[tuple[str, str], list[Seal]] = defaultdict(list)
    for seal in seals:
        by_chain[(seal.chain_name, seal.model_unique_id)].append(seal)
    pending: list[PendingRecord] = []
    unnamed = unnamed_pending = 0
    sealed_here = {c.name for c in trail.chains}
    unchecked: list[str] = []
    for spec in CHAINS:
        table = trail.tables.audited[spec.name]
        if spec.name not in sealed_here and not any(
            c == spec.name for c, _ in (*by_chain, *digests)
        ):
            # written unsealed on this engine, and no seal of it: nothing to check
            if trail.exists(table):
                unchecked.append(table)
            continue
        models = {m for c, m in by_chain if c == spec.name} | {
            m for c, m in digests if c == spec.name
        }
        for model in sorted(models):
            findings += check_links(
                spec,
                table,
                model,
                by_chain.get((spec.name, model), []),
                digests.get((spec.name, model), {}),
            )
        column_lists = sorted(
            {s.hashed_columns for s in seals if s.chain_name == spec.name and s.hashed_columns}
        )
        diffs = [d for columns in column_lists for d in trail.record_diffs(spec, columns)]
        total, unsealed = trail.unsealed(spec)
        sealed_models = frozenset(m for c, m in by_chain if c == spec.name)
        found, waiting = check_records(spec, table, diffs, unsealed, sealed_models)
        findings += found
        pending += [PendingRecord(table, r) for r in waiting]
        if spec.sealed_per_invocation:
            unnamed += total - len(unsealed)
        else:
            unnamed_pending += total - len(unsealed)
    table_of = {c.name: trail.tables.audited[c.name] for c in CHAINS}
    findings += compare_with_copy(seals, copy, table_of)
    if recorded is not None:
        findings += check_recorded(seals, recorded, table_of)
    description = trail.description
    if unchecked:
        description += (
            f"; {trail.dialect} tables written unsealed, not checked: {', '.join(unchecked)}"
        )
    return Verification(
        description=description,
        findings=tuple(sort_findings(findings)),
        unnamed=unnamed,
        pending=tuple(pending),
        unnamed_pending=unnamed_pending,
        head=trail_head(seals),
        unchecked=tuple(unchecked),
    )


def read_head(
    project_dir: Path | str | None = None,
    *,
    profiles_dir: Path | str | None = None,
    target: str | None = None,
    vars: str | Mapping[str, Any] | None = None,
) -> TrailHead | None:
    """The head of the project's trail, for reports and metrics (None when nothing is sealed).

    The project, profile, target and vars resolve as for every command (dbt's flags and
    ``DBT_*`` variables, :mod:`sluice.project`)."""
    flags = ProjectFlags(
        project_dir=Path(project_dir) if project_dir is not None else None,
        profiles_dir=Path(profiles_dir) if profiles_dir is not None else None,
        target=target,
        vars=vars,
    )
    with open_trail(load_project(flags)) as trail:
        return trail_head(trail.seals())


# ---------------------------------------------------------------------------------------------
# export


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: Path
    seals: int
    records: int
    head: TrailHead | None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def seal_json(seal: Seal, table: str) -> dict[str, Any]:
    return {
        "kind": "seal",
        "chain_name": seal.chain_name,
        "table": table,
        "model_unique_id": seal.model_unique_id,
        "sequence_number": seal.sequence_number,
        "invocation_id": seal.invocation_id,
        "record_count": seal.record_count,
        "hashed_columns": seal.hashed_columns,
        "content_hash": seal.content_hash,
        "previous_hash": seal.previous_hash,
        "chain_hash": seal.chain_hash,
        "sealed_at": _json_value(seal.sealed_at),
    }


def export_trail(trail: Trail, output: Path) -> ExportSummary:
    """Write the trail as JSON lines: every seal (``kind: seal``), every sealed record once with
    the row of its table that holds the content it sealed (``kind: record``; ``row`` is null
    when no such row is left: removed, edited, or replaced by sluice under a later seal), and
    last the head (``kind: head``). Evidence columns (a chain's ``evidence``) are written as
    their redaction markers, the digests the seals hold: an export is never a copy of the
    evidence that erasure and retention would have to find. Written to a temporary file renamed
    at the end: a failed export leaves nothing behind. The summary's ``records`` counts the
    record lines: on an intact trail, the sealed records ``sluice audit verify`` counts."""
    seals = trail.seals()
    table_of = {c.name: trail.tables.audited[c.name] for c in CHAINS}
    head = trail_head(seals)
    partial = output.with_name(output.name + ".partial")
    records = 0
    try:
        with partial.open("w", encoding="utf-8") as out:
            for seal in seals:
                _line(out, seal_json(seal, table_of.get(seal.chain_name, seal.chain_name)))
            for spec in CHAINS:
                hashed = {s.hashed_columns for s in seals if s.chain_name == spec.name}
                column_lists = sorted(columns for columns in hashed if columns)
                for names, row in trail.export_records(spec, column_lists):
                    content = dict(zip(names[5:], row[5:], strict=True))
                    key_value = content.get(spec.key)
                    _line(
                        out,
                        {
                            "kind": "record",
                            "chain_name": row[0],
                            "table": table_of[spec.name],
                            "model_unique_id": row[1],
                            "sequence_number": _json_value(row[2]),
                            "record_key": row[3],
                            "record_hash": row[4],
                            "row": None
                            if key_value is None
                            else {
                                k: _json_value(v)
                                if k not in spec.evidence or v is None
                                else redaction_marker(str(v))
                                for k, v in content.items()
                            },
                        },
                    )
                    records += 1
            _line(out, head_json(head))
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"{output}: cannot write the export: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return ExportSummary(output, len(seals), records, head)


def _line(out: TextIO, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, sort_keys=False, ensure_ascii=False) + "\n")


def read_copy(path: Path) -> list[Seal]:
    """The seals of a copy kept elsewhere: an earlier export (its ``seal`` lines and its
    ``head`` line's tips), or just its last line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the copy: {exc}") from None
    seals: dict[tuple[str, str, int], Seal] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            kind = obj.get("kind")
            items = [obj] if kind == "seal" else obj.get("tips", []) if kind == "head" else []
            for item in items:
                seal = kept_seal(item)
                seals[(seal.chain_name, seal.model_unique_id, seal.sequence_number)] = seal
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"{path}, line {number}: not a line of `sluice audit export`: {exc}"
            ) from None
    if not seals:
        raise InputError(f"{path}: no seals in it: expected the output of `sluice audit export`")
    return list(seals.values())
