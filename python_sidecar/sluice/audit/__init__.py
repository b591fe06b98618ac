"""The tamper-evident audit trail: verify the hash chains the package seals, export them.

``verify_trail`` walks every chain and names the first record edited, removed or inserted;
``export_trail`` writes the trail as JSON lines; ``read_head`` / ``trail_head`` give the head to
keep elsewhere (what catches a complete rewrite of a table and its chain).
"""

from sluice.audit.chain import (
    CHAINS,
    GENESIS,
    BatchDigest,
    ChainSpec,
    Finding,
    FindingKind,
    RecordDiff,
    Seal,
    TrailHead,
    UnsealedRecord,
    chain_hash,
    check_links,
    check_records,
    compare_with_copy,
    trail_head,
)
from sluice.audit.core import (
    ExportSummary,
    PendingRecord,
    Verification,
    export_trail,
    read_copy,
    read_head,
    verify_trail,
)
from sluice.audit.store import Trail, open_trail

__all__ = [
    "CHAINS",
    "GENESIS",
    "BatchDigest",
    "ChainSpec",
    "ExportSummary",
    "Finding",
    "FindingKind",
    "PendingRecord",
    "RecordDiff",
    "Seal",
    "Trail",
    "TrailHead",
    "UnsealedRecord",
    "Verification",
    "chain_hash",
    "check_links",
    "check_records",
    "compare_with_copy",
    "export_trail",
    "open_trail",
    "read_copy",
    "read_head",
    "trail_head",
    "verify_trail",
]
