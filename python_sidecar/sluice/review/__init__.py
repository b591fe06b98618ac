"""Review of quarantined records: list and show exceptions, record reviewers' decisions."""

from sluice.review.core import (
    ACTIONS,
    ROUTES,
    STATUSES,
    Decision,
    Event,
    ExceptionDetail,
    ExceptionRow,
    PendingDecision,
    Selection,
    check_request,
    make_selection,
    plan_decisions,
)
from sluice.review.store import ReviewStore, open_store

__all__ = [
    "ACTIONS",
    "ROUTES",
    "STATUSES",
    "Decision",
    "Event",
    "ExceptionDetail",
    "ExceptionRow",
    "PendingDecision",
    "ReviewStore",
    "Selection",
    "check_request",
    "make_selection",
    "open_store",
    "plan_decisions",
]
