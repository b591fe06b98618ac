"""The audit trail around a build: checked before dbt runs, its head kept after.

Owns the build's refusal to seal over lost history: before dbt starts (and before anything of
this run is written), the warehouse's chains are compared with the latest head recorded in
``target/sluice/audit_heads.jsonl`` and searched for a chain deleted under rows it sealed
(:mod:`sluice.audit.heads`); either stops the build with :class:`TrailChanged` (exit 6).
After the build sealed, the new head is appended to that file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from sluice.build.report_step import WarehouseAfterDbt
from sluice.build.result import TrailChanged
from sluice.errors import InputError

SHOWN = 3
"""Findings named in the refusal (all are counted)."""


def check_before_build(
    project: Path, dbt_args: Sequence[str], environ: Mapping[str, str], target_dir: Path
) -> str | None:
    """Raise :class:`TrailChanged` when the trail lost sealed history; a note when the trail
    could not be read (the build goes on: the warehouse may come back while dbt retries)."""
    from sluice.audit.chain import CHAINS
    from sluice.audit.heads import (
        chains_started_afresh,
        check_recorded,
        heads_path,
        latest_head,
        warehouse_trail,
    )

    path = heads_path(target_dir)
    try:
        recorded = latest_head(path)
    except InputError as exc:
        raise TrailChanged(f"{exc}; nothing was run") from None
    try:
        with WarehouseAfterDbt(project, dbt_args, environ) as shared:
            if not _has_warehouse_file(shared):
                return None
            trail = warehouse_trail(shared.connection())
            table_of = {c.name: trail.tables.audited[c.name] for c in CHAINS}
            findings = check_recorded(trail.seals(), recorded, table_of) if recorded else []
            findings += chains_started_afresh(trail)
    except InputError as exc:
        return f"the audit trail was not checked before the build: {exc}"
    if not findings:
        return None
    named = "; ".join(f.describe() for f in findings[:SHOWN])
    more = f" (and {len(findings) - SHOWN} more)" if len(findings) > SHOWN else ""
    raise TrailChanged(
        f"the audit trail lost sealed history, a build would seal over it: {named}{more}. "
        "Nothing was run. Investigate with `sluice audit verify` (and `--against` an export "
        "kept elsewhere), restore the chain from a backup; see docs/build.md, 'The audit trail "
        "before a build'"
    )


def _has_warehouse_file(shared: WarehouseAfterDbt) -> bool:
    """False for a DuckDB file not created yet (a first build: nothing to check)."""
    target = shared.project().target
    if target.adapter_type != "duckdb":
        return True
    path = str(target.credentials.get("path") or ":memory:")
    if path == ":memory:" or ":" in path.split("/")[0]:
        return True
    file = Path(path) if Path(path).is_absolute() else shared.project().cwd / path
    return file.exists()


def keep_head_after_build(shared: WarehouseAfterDbt, invocation_id: str) -> str | None:
    """Append the trail's head to the heads file once the build's seals are written; a note
    when that fails."""
    from sluice.audit.heads import keep_head

    try:
        return keep_head(shared.connection(), by="sluice build", invocation_id=invocation_id)
    except Exception as exc:  # the build's outcome does not depend on it
        shared.recover()
        return f"the audit trail's head was not recorded: {type(exc).__name__}: {exc}"
