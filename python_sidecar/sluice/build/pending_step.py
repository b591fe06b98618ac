"""The decisions step after dbt: which reviewers' decisions still wait, per model, with the
approvals each needs and who may give them (the approval policy, var
``sluice_approval_policy``), read over the connection the steps after dbt share. They go into
``build.json`` (``pending_decisions``) and the run's summary. A failure is a note; it never
changes the build's outcome.
"""

from __future__ import annotations

from sluice.build.report_step import WarehouseAfterDbt
from sluice.review.policy import Waiting
from sluice.warehouse.connection import describe_error


def pending_decisions(shared: WarehouseAfterDbt) -> tuple[tuple[Waiting, ...], str | None]:
    """The decisions not applied after this build and not withdrawn, ordered by model and
    time; or a note saying why they could not be read."""
    from sluice.review import policy
    from sluice.review.store import ReviewStore

    try:
        entries = policy.parse_policy(shared.project().var(policy.VAR, None))
        store = ReviewStore(shared.connection())
        waiting = policy.waiting(entries, store.requests(), store.find, store.model_rules)
    except Exception as exc:  # the build's outcome stands whatever happens here
        shared.recover()
        return (), f"pending decisions not read: {describe_error(exc)}"
    return tuple(sorted(waiting, key=lambda w: w.model_name)), None
