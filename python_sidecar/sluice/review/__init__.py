"""Manual review of quarantined records: list open exceptions, record decisions."""

from sluice.review.core import ACTIONS, Decision, ExceptionRow, validate_decision
from sluice.review.store import ReviewStore, open_store

__all__ = ["ACTIONS", "Decision", "ExceptionRow", "ReviewStore", "open_store", "validate_decision"]
