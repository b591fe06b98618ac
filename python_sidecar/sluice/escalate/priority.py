"""How urgent a problem is: its alert priority, from the severity and the criticality.

A problem's priority: ``score = rank(severity) + rank(criticality)`` with ranks critical 3,
high 2, medium 1, low 0 (no exposure reached counts as low). P1 from 5, P2 from 3, P3 from 1,
P4 below. Problems at or above the alert threshold (``alert_min_priority``, P3 by default) are
sent to the webhook. The severity scale and an exposure's criticality are the domain's
(:mod:`sluice.impact.criticality`), re-exported here for the alerts.
"""

from __future__ import annotations

from typing import Final

from sluice.impact.criticality import (
    CRITICALITIES,
    DEFAULT_CRITICALITY,
    MATURITY_CRITICALITY,
    RANK,
    SEVERITIES,
    exposure_criticality,
    highest_criticality,
    severity_of,
)

__all__ = [
    "CRITICALITIES",
    "DEFAULT_CRITICALITY",
    "MATURITY_CRITICALITY",
    "PRIORITIES",
    "RANK",
    "SEVERITIES",
    "exposure_criticality",
    "highest_criticality",
    "is_alert",
    "priority",
    "severity_of",
]

PRIORITIES: Final = ("P1", "P2", "P3", "P4")


def priority(severity: str, criticality: str | None) -> str:
    score = RANK.get(severity, 1) + RANK.get(criticality or "low", 0)
    if score >= 5:
        return "P1"
    if score >= 3:
        return "P2"
    if score >= 1:
        return "P3"
    return "P4"


def is_alert(priority_value: str, min_priority: str) -> bool:
    """True when the priority is at least as urgent as the threshold (P1 is the most urgent)."""
    return PRIORITIES.index(priority_value) <= PRIORITIES.index(min_priority)
