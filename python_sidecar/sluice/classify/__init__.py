"""Run-level failure classification: which failed dbt nodes are transient, which structural."""

from sluice.classify.core import classify, classify_message, effective_class
from sluice.classify.model import RESPONSES, Action, Failure, FailureClass, Response
from sluice.classify.patterns import Pattern, PatternError, builtin_patterns, parse_patterns

__all__ = [
    "RESPONSES",
    "Action",
    "Failure",
    "FailureClass",
    "Pattern",
    "PatternError",
    "Response",
    "builtin_patterns",
    "classify",
    "classify_message",
    "effective_class",
    "parse_patterns",
]
