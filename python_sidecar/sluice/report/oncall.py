"""What an on-call engineer reads first: how old things are, in words, and the next step for
each kind of root cause."""

from __future__ import annotations

from typing import Final

from sluice.impact import ProblemKind, RootCause


def age_text(seconds: float | None) -> str | None:
    """``8 h ago``, ``25 min ago``, ``3 d ago``, ``just now``; None when unknown."""
    if seconds is None:
        return None
    if seconds < 60:
        return "just now"
    return f"{duration_text(seconds, coarse=True)} ago"


def duration_text(seconds: float | None, *, coarse: bool = False) -> str | None:
    """``45 min``, ``3 h 20 min``, ``2 d 4 h`` (``coarse``: the largest unit only)."""
    if seconds is None:
        return None
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" if coarse or not rest else f"{hours} h {rest} min"
    days, hours = divmod(hours, 24)
    return f"{days} d" if coarse or not hours else f"{days} d {hours} h"


_STEPS: Final = {
    ProblemKind.ROWS_HELD: (
        "Look at the held records (sluice review show ID, or sluice review list --status "
        "open,dead_letter --model {name}); fix them at the source, or release or reject them: "
        "they are checked again at the next build."
    ),
    ProblemKind.GATE_HELD: (
        "Nothing new of {name} is published until its breaching rows are fixed at the source "
        "(or released or rejected in review); the last good data stays. Then rebuild."
    ),
    ProblemKind.INPUT_WAITING: (
        "{name} waits for complete input: its last good data stays. Fix the held rows of the "
        "sluice models it reads (sluice load-state), or accept their loads once (sluice review "
        "accept-load MODEL --by NAME --reason TEXT), then rebuild."
    ),
    ProblemKind.ERROR: (
        "Read the error of {name} in dbt's log, fix it, then rebuild (sluice build retries "
        "transient failures on its own)."
    ),
    ProblemKind.SKIPPED: (
        "{name} was skipped with nothing failing upstream (--fail-fast, a failed hook): rebuild it."
    ),
    ProblemKind.TEST_FAIL: (
        "Query the failing rows (dbt test --select {name} --store-failures), fix the data or "
        "the model, then rebuild."
    ),
    ProblemKind.TEST_ERROR: (
        "The test {name} could not run: fix its SQL or arguments, then rebuild."
    ),
    ProblemKind.TEST_WARN: (
        "Published with a warning: look at the failing rows of {name} when convenient."
    ),
    ProblemKind.PARTIAL: "Some batches of {name} failed: run dbt retry.",
    ProblemKind.SOURCE_LATE: (
        "{name} is late: ask its loader's owner; the exposures show the last data loaded."
    ),
    ProblemKind.SOURCE_ERROR: (
        "The freshness of {name} could not be measured: check its loaded_at_field and access, "
        "then run dbt source freshness again."
    ),
    ProblemKind.NO_RESULT: "{name} has no recent result: build it (dbt build --select {name}).",
    ProblemKind.UNKNOWN_STATUS: (
        "dbt reported a status this sluice version does not know for {name}: read the run "
        "results, and upgrade sluice."
    ),
}


def next_step(root: RootCause) -> str:
    """One sentence saying what to do about a root cause."""
    return _STEPS[root.kind].format(name=root.node_name)
