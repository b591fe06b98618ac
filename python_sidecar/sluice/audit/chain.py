"""The audit trail's rules, as pure functions over typed, frozen data.

A *chain* is the sealed history of one audited table for one model (``chain_name``,
``model_unique_id``), or for one exposure (the incidents tables, which ``sluice report`` writes
and seals: their chains' ``model_unique_id`` is the exposure's unique id), or for the whole
project (the report's status tables: their chains' ``model_unique_id`` is :data:`REPORT_SCOPE`,
the same for every row). Each build (or report)
seals the rows it wrote in one *seal*: the records it covers (key
and content hash each, in ``sluice_audit_records``) and one row of ``sluice_audit_chain`` whose
``chain_hash`` is ``md5(previous_hash || content_hash || the seal's own fields)``. The package
computes all of it in SQL (``macros/audit/_sluice_seal.sql``), the report with the same SQL
(:mod:`sluice.audit.sql`); this module checks it.

What is checked, per chain:

* the seals are numbered 1, 2, ... without gap or repeat, each one's ``previous_hash`` is the
  chain hash of the one before (the first one's is :data:`GENESIS`), and each one's
  ``chain_hash`` is recomputed here from its fields (:func:`chain_hash`);
* each seal's sealed records (count and hash of their hashes, :class:`BatchDigest`) match the
  ``record_count`` and ``content_hash`` it sealed;
* each sealed record is still in its table with the content it was sealed with, once
  (:class:`RecordDiff`), and no row of the table is outside every seal (:class:`UnsealedRecord`),
  except decisions a reviewer wrote since the model's last build, which its next build seals.
  In a chain whose table is rewritten per key (:attr:`ChainSpec.superseded_per_key`: the
  report's status tables, which a report of the same dbt invocation again replaces), only the
  records of a key's latest seal are expected in the table.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

GENESIS: Final = "0" * 32
"""The ``previous_hash`` of a chain's first seal."""

REPORT_SCOPE: Final = "sluice_report"
"""The chain id (``model_unique_id``) of the report's status tables: one chain per table for the
whole project, since the three tables share no column naming an exposure."""

BUILD_SCOPE: Final = "sluice_build"
"""The chain id of ``sluice build``'s attempts and alerts: one chain per table for the project."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class ChainSpec:
    """An audited table: the chain's name, the table's default name and the ``sluice_*`` var
    that renames it, and the column identifying a record within a model."""

    name: str
    table_var: str | None
    """None when the table's name is fixed."""
    default_table: str
    key: str
    sealed_per_invocation: bool
    """True when a build seals only the rows it wrote; False for rows written between builds
    (decisions), which the model's next build seals."""
    scope: str = "model_unique_id"
    """The table's column naming the chain a row belongs to (stored as the chain's
    ``model_unique_id``): the model for the package's tables, the exposure for incidents."""
    scope_value: str | None = None
    """A fixed chain id for every row, for a table with no column naming its chain (then
    ``scope`` is not read): the verifier pairs each of its rows with the one chain of that id."""
    superseded_per_key: bool = False
    """True when sluice itself rewrites a key's rows and seals them again (the report replaces
    the rows of an invocation it reports again): a key's latest seal is the one checked."""
    sealed_by_sidecar: bool = False
    """True when the sidecar seals the table (``sluice report``, ``sluice build``: only on the
    engines of :data:`sluice.audit.sql.DIALECTS`), False when the package's builds do."""
    paired_by_key: bool = False
    """True when a record's key is unique in the table whatever model a row names (decision
    ids): a record is paired with its row by key alone. A decision is sealed in the chain of
    the model that applied or refused it, which need not be the model the row names."""
    sealed_later_without: str | None = None
    """A column whose NULL marks a row the sidecar wrote between builds (an erasure's events,
    ``invocation_id``): the model's next build seals it, and until then it waits for its seal
    as a decision does (``sealed_later`` of the package's ``_sluice_audit_chains``)."""
    evidence: tuple[str, ...] = ()
    """The columns that may be redacted, sealed by their digest (``evidence`` of the package's
    ``_sluice_audit_chains``): redaction replaces a value by its marker and keeps the seal."""


CHAINS: Final = (
    ChainSpec(
        "exception_events",
        "sluice_events_table",
        "sluice_exception_events",
        "event_id",
        sealed_per_invocation=True,
        sealed_later_without="invocation_id",
        evidence=("record_key", "reason"),
    ),
    ChainSpec(
        "runs", "sluice_runs_table", "sluice_runs", "invocation_id", sealed_per_invocation=True
    ),
    ChainSpec(
        "decisions",
        "sluice_decisions_table",
        "sluice_decisions",
        "decision_id",
        sealed_per_invocation=False,
        paired_by_key=True,
        evidence=("reason",),
    ),
    # approvals and withdrawals of decisions (sluice review approve|withdraw), sealed by the
    # next build of the decision's model
    ChainSpec(
        "decision_approvals",
        "sluice_approvals_table",
        "sluice_decision_approvals",
        "approval_id",
        sealed_per_invocation=False,
        evidence=("reason",),
    ),
    # Sealed by `sluice report` (sluice.warehouse.seal), one chain per exposure.
    ChainSpec(
        "incidents",
        "sluice_incidents_table",
        "sluice_incidents",
        "change_id",
        sealed_per_invocation=True,
        scope="exposure_unique_id",
        sealed_by_sidecar=True,
    ),
    ChainSpec(
        "incident_causes",
        "sluice_incident_causes_table",
        "sluice_incident_causes",
        "change_id",
        sealed_per_invocation=True,
        scope="exposure_unique_id",
        sealed_by_sidecar=True,
    ),
    # The report's status tables (sluice.report.tables, sealed by sluice.warehouse.seal): one
    # chain per table for the project, records keyed by the dbt invocation reported.
    *(
        ChainSpec(
            name,
            None,
            table,
            "invocation_id",
            sealed_per_invocation=True,
            scope_value=REPORT_SCOPE,
            superseded_per_key=True,
            sealed_by_sidecar=True,
        )
        for name, table in (
            ("exposure_status", "sluice_exposure_status"),
            ("node_status", "sluice_node_status"),
            ("source_freshness", "sluice_source_freshness"),
        )
    ),
    # `sluice build`'s attempts and alerts (sluice.warehouse.build_record): one chain per table
    # for the project, records keyed by the `sluice build` run.
    *(
        ChainSpec(
            name,
            None,
            table,
            "build_id",
            sealed_per_invocation=True,
            scope_value=BUILD_SCOPE,
            sealed_by_sidecar=True,
        )
        for name, table in (
            ("build_attempts", "sluice_build_attempts"),
            ("build_alerts", "sluice_build_alerts"),
        )
    ),
)


@dataclass(frozen=True, slots=True)
class HashedColumn:
    name: str
    timestamp: bool = False
    digest: bool = False
    """An evidence column, sealed by the digest of its value (:func:`evidence_digest`)."""


@dataclass(frozen=True, slots=True)
class Seal:
    """One row of ``sluice_audit_chain``."""

    chain_name: str
    model_unique_id: str
    sequence_number: int
    invocation_id: str | None
    record_count: int | None
    hashed_columns: str | None
    content_hash: str | None
    previous_hash: str | None
    chain_hash: str | None
    sealed_at: datetime | None
    sealed_at_text: str | None = None
    """``sealed_at`` as the warehouse writes it for the hash (``sluice.timestamp_text``), when
    read from the warehouse: the seal's own text, not a re-formatting of the decoded time."""


@dataclass(frozen=True, slots=True)
class BatchDigest:
    """What ``sluice_audit_records`` holds for one seal: how many records, and the hash of their
    hashes in order (computed by the warehouse the way the seal computed it)."""

    model_unique_id: str
    sequence_number: int
    record_count: int
    content_hash: str | None


@dataclass(frozen=True, slots=True)
class RecordDiff:
    """A (model, key, content hash) whose number of sealed records differs from the number of
    rows the table holds with that content. ``sequence_number`` is the seal of the sealed side
    (None when only the table has it)."""

    model_unique_id: str
    record_key: str
    record_hash: str | None
    sequence_number: int | None
    sealed: int
    present: int


@dataclass(frozen=True, slots=True)
class UnsealedRecord:
    """A row of an audited table that no seal covers."""

    model_unique_id: str | None
    record_key: str | None
    later: bool = False
    """Written between builds, for the model's next build to seal
    (:attr:`ChainSpec.sealed_later_without`)."""


class FindingKind(StrEnum):
    EDITED = "edited"
    REMOVED = "removed"
    INSERTED = "inserted"
    SEAL_EDITED = "seal edited"
    SEAL_REMOVED = "seal removed"
    SEAL_INSERTED = "seal inserted"
    REWRITTEN = "rewritten"


@dataclass(frozen=True, slots=True)
class Finding:
    """Something the chain shows was changed outside sluice."""

    kind: FindingKind
    chain_name: str
    table: str
    model_unique_id: str | None
    sequence_number: int | None
    record_key: str | None
    key_column: str
    detail: str

    def describe(self) -> str:
        where = [self.model_unique_id or "no model"]
        if self.sequence_number is not None:
            where.append(f"seal {self.sequence_number}")
        subject = (
            f"{self.table} {self.key_column} {self.record_key}"
            if self.record_key is not None
            else f"{self.table} chain"
        )
        return f"{subject} ({', '.join(where)}): {self.kind.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class TrailHead:
    """The trail's head: one digest over the last seal of every chain. Kept elsewhere, it lets
    a later check (or ``sluice audit verify --against``) catch a complete rewrite."""

    digest: str
    chains: int
    seals: int
    records: int
    last_sealed_at: datetime | None
    tips: tuple[Seal, ...]


# ---------------------------------------------------------------------------------------------
# hashing, as the package's SQL does it


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def audit_text(value: str | None) -> str:
    """A value as unambiguous text: NULL is ``~``, anything else ``<length>:<text>``."""
    return "~" if value is None else f"{len(value)}:{value}"


def timestamp_text(value: datetime | None) -> str | None:
    """The text the package hashes for a timestamp (``sluice.timestamp_text``)."""
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def chain_hash(seal: Seal) -> str | None:
    """The chain hash the seal's own fields imply; None when a field it needs is missing."""
    if seal.previous_hash is None or seal.content_hash is None:
        return None
    sealed_at = seal.sealed_at_text
    if sealed_at is None:
        sealed_at = timestamp_text(seal.sealed_at)
    return md5_hex(
        seal.previous_hash
        + seal.content_hash
        + audit_text(seal.chain_name)
        + audit_text(seal.model_unique_id)
        + audit_text(str(seal.sequence_number))
        + audit_text(seal.invocation_id)
        + audit_text(None if seal.record_count is None else str(seal.record_count))
        + audit_text(seal.hashed_columns)
        + audit_text(sealed_at)
    )


def parse_hashed_columns(text: str | None) -> tuple[HashedColumn, ...] | None:
    """The columns a seal hashed (``name``, ``name:timestamp`` or ``name:digest``,
    comma-separated); None when the text is not such a list. Seals made before evidence was
    sealed by its digest have no ``:digest``: each seal is checked with its own list."""
    if not text:
        return None
    columns = []
    for item in text.split(","):
        name, _, kind = item.partition(":")
        if not _NAME.fullmatch(name) or kind not in ("", "timestamp", "digest"):
            return None
        columns.append(HashedColumn(name, timestamp=kind == "timestamp", digest=kind == "digest"))
    return tuple(columns)


REDACTED_PREFIX: Final = "sluice:redacted:"
"""The text that starts a redacted evidence value; the digest of the value it replaced follows
(``sluice._sluice_redaction_prefix``)."""


def evidence_digest(value: str | None) -> str | None:
    """What the trail seals of an evidence value (``sluice._sluice_audit_evidence_digest``):
    None stays None, a redaction marker gives the digest it keeps, any other value its md5."""
    if value is None:
        return None
    if value[: len(REDACTED_PREFIX)] == REDACTED_PREFIX:
        return value[len(REDACTED_PREFIX) : len(REDACTED_PREFIX) + 32]
    return md5_hex(value)


def redaction_marker(value: str | None) -> str | None:
    """The marker that replaces a redacted evidence value: it keeps the value's digest, so the
    row's sealed hash still holds, and says nothing else of the value. A marker is kept as is."""
    digest = evidence_digest(value)
    return None if digest is None else REDACTED_PREFIX + digest


# ---------------------------------------------------------------------------------------------
# checks


def check_links(
    spec: ChainSpec,
    table: str,
    model_unique_id: str,
    seals: Sequence[Seal],
    digests: Mapping[int, BatchDigest],
) -> list[Finding]:
    """The seals of one chain (one table, one model), and the sealed records of each."""

    def finding(kind: FindingKind, seq: int | None, detail: str) -> Finding:
        return Finding(kind, spec.name, table, model_unique_id, seq, None, spec.key, detail)

    found: list[Finding] = []
    previous: Seal | None = None
    expected = 1
    for seal in sorted(seals, key=lambda s: (s.sequence_number, s.chain_hash or "")):
        seq = seal.sequence_number
        if previous is not None and seq == previous.sequence_number:
            found.append(finding(FindingKind.SEAL_INSERTED, seq, f"a second seal numbered {seq}"))
            continue
        linked = True
        if seq != expected:
            gap = str(expected) if seq == expected + 1 else f"{expected} to {seq - 1}"
            found.append(finding(FindingKind.SEAL_REMOVED, expected, f"seal {gap} is missing"))
            linked = False
        if chain_hash(seal) != seal.chain_hash:
            found.append(
                finding(
                    FindingKind.SEAL_EDITED,
                    seq,
                    "the seal's fields no longer give its chain hash",
                )
            )
        elif linked and seal.previous_hash != (
            GENESIS if previous is None else previous.chain_hash
        ):
            found.append(
                finding(
                    FindingKind.SEAL_EDITED,
                    seq,
                    "its previous hash is not the chain hash of the seal before it",
                )
            )
        digest = digests.get(seq)
        if digest is None:
            found.append(
                finding(
                    FindingKind.REMOVED,
                    seq,
                    f"the {seal.record_count} records it sealed are gone from the trail",
                )
            )
        elif digest.record_count != seal.record_count or digest.content_hash != seal.content_hash:
            found.append(
                finding(
                    FindingKind.EDITED,
                    seq,
                    f"the trail's list of the records it sealed was changed "
                    f"({digest.record_count} records, {seal.record_count} sealed)",
                )
            )
        previous = seal
        expected = seq + 1
    sealed = {s.sequence_number for s in seals}
    for seq in sorted(set(digests) - sealed):
        found.append(
            finding(
                FindingKind.SEAL_REMOVED,
                seq,
                f"{digests[seq].record_count} sealed records have no seal numbered {seq}",
            )
        )
    return found


def check_records(
    spec: ChainSpec,
    table: str,
    diffs: Iterable[RecordDiff],
    unsealed: Iterable[UnsealedRecord],
    sealed_models: frozenset[str],
) -> tuple[list[Finding], list[UnsealedRecord]]:
    """Sealed records against the table's rows. Returns the findings, and the rows waiting for
    their seal (decisions written since their model's last build)."""
    by_record: dict[tuple[str | None, str], list[RecordDiff]] = defaultdict(list)
    for diff in diffs:  # a record paired by key alone: its row may name another model
        by_record[(None if spec.paired_by_key else diff.model_unique_id, diff.record_key)].append(
            diff
        )
    found: list[Finding] = []
    for (_, key), group in by_record.items():
        sealed_side = [d for d in group if d.sequence_number is not None]
        model = (sealed_side or group)[0].model_unique_id
        missing = sum(max(0, d.sealed - d.present) for d in group)
        extra = sum(max(0, d.present - d.sealed) for d in group)
        seqs = [d.sequence_number for d in group if d.sequence_number is not None]
        seq = min(seqs) if seqs else None
        if missing and extra:
            kind, detail = FindingKind.EDITED, "its content is not what was sealed"
        elif missing:
            kind, detail = FindingKind.REMOVED, "a sealed record is gone from the table"
        else:
            kind, detail = FindingKind.INSERTED, "a copy of a sealed record was added"
        found.append(Finding(kind, spec.name, table, model, seq, key, spec.key, detail))
    pending: list[UnsealedRecord] = []
    for row in unsealed:
        if (not spec.sealed_per_invocation or row.later) and row.model_unique_id is not None:
            pending.append(row)
            continue
        detail = (
            "no seal covers it"
            if row.model_unique_id in sealed_models
            else "no seal covers it (the model's chain has no seal: a history from before the "
            "trail that the model's next build seals, or an insertion)"
        )
        found.append(
            Finding(
                FindingKind.INSERTED,
                spec.name,
                table,
                row.model_unique_id,
                None,
                row.record_key,
                spec.key,
                detail,
            )
        )
    return found, pending


def _copy_detail(kept: Seal, current: Seal | None, longest: int) -> str:
    if current is None:
        return "the seal kept in the copy is gone"
    return "the seal differs from the copy kept elsewhere: the chain was rewritten"


def compare_with_copy(
    seals: Iterable[Seal],
    copy: Iterable[Seal],
    table_of: Mapping[str, str],
    detail: Callable[[Seal, Seal | None, int], str] = _copy_detail,
) -> list[Finding]:
    """Every seal of a copy kept elsewhere (an earlier export, a recorded head) must still be in
    the trail, unchanged: what catches a complete rewrite of a table and its chain. ``detail``
    says what was found for a kept seal: the trail's seal of that number (None when it is gone)
    and how many seals its chain has now."""
    now = {(s.chain_name, s.model_unique_id, s.sequence_number): s for s in seals}
    longest: dict[tuple[str, str], int] = defaultdict(int)
    for seal in now.values():
        key = (seal.chain_name, seal.model_unique_id)
        longest[key] = max(longest[key], seal.sequence_number)
    found: list[Finding] = []
    for kept in copy:
        current = now.get((kept.chain_name, kept.model_unique_id, kept.sequence_number))
        if current is not None and current.chain_hash == kept.chain_hash:
            continue
        spec = next((c for c in CHAINS if c.name == kept.chain_name), None)
        found.append(
            Finding(
                FindingKind.REWRITTEN,
                kept.chain_name,
                table_of.get(kept.chain_name, kept.chain_name),
                kept.model_unique_id,
                kept.sequence_number,
                None,
                spec.key if spec else "key",
                detail(kept, current, longest[(kept.chain_name, kept.model_unique_id)]),
            )
        )
    return found


def kept_seal(item: Mapping[str, Any]) -> Seal:
    """A seal as a copy kept elsewhere holds it (an export's ``seal`` line, a head's tip): its
    place in the chain and its chain hash."""
    return Seal(
        chain_name=str(item["chain_name"]),
        model_unique_id=str(item["model_unique_id"]),
        sequence_number=int(item["sequence_number"]),
        invocation_id=None,
        record_count=None,
        hashed_columns=None,
        content_hash=None,
        previous_hash=None,
        chain_hash=str(item["chain_hash"]),
        sealed_at=None,
    )


def first_order(chain_names: Sequence[str]) -> dict[str, int]:
    return {name: i for i, name in enumerate(chain_names)}


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in trail order: by chain, model, seal, then record key."""
    order = first_order([c.name for c in CHAINS])
    return sorted(
        findings,
        key=lambda f: (
            order.get(f.chain_name, len(order)),
            f.chain_name,
            f.model_unique_id or "",
            f.sequence_number is None,
            f.sequence_number or 0,
            f.record_key or "",
            f.kind.value,
        ),
    )


def trail_head(seals: Iterable[Seal]) -> TrailHead | None:
    """The head of the trail (None when nothing is sealed yet)."""
    tips: dict[tuple[str, str], Seal] = {}
    count = 0
    records = 0
    last: datetime | None = None
    for seal in seals:
        count += 1
        records += seal.record_count or 0
        if seal.sealed_at is not None and (last is None or seal.sealed_at > last):
            last = seal.sealed_at
        key = (seal.chain_name, seal.model_unique_id)
        if key not in tips or seal.sequence_number > tips[key].sequence_number:
            tips[key] = seal
    if not tips:
        return None
    ordered = tuple(tips[k] for k in sorted(tips))
    digest = md5_hex(
        "".join(
            f"{s.chain_name}\t{s.model_unique_id}\t{s.sequence_number}\t{s.chain_hash}\n"
            for s in ordered
        )
    )
    return TrailHead(digest, len(ordered), count, records, last, ordered)
