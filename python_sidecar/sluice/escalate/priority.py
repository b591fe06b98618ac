"""How critical an exposure is and how urgent a problem is: one rule for the report and alerts.

An exposure's criticality is its ``meta.sluice.criticality`` or ``meta.criticality`` (also read
from ``config.meta``) when valid, else it follows ``maturity``: high -> critical, medium -> high,
low -> medium; an exposure with neither is low.

A problem's priority: ``score = rank(severity) + rank(criticality)`` with ranks critical 3,
high 2, medium 1, low 0 (no exposure reached counts as low). P1 from 5, P2 from 3, P3 from 1,
P4 below. Problems at or above the alert threshold (``alert_min_priority``, P3 by default) are
sent to the webhook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from sluice.artifacts.models import Exposure, Manifest

SEVERITIES: Final = ("critical", "high", "medium", "low")
CRITICALITIES: Final = SEVERITIES
RANK: Final = {"critical": 3, "high": 2, "medium": 1, "low": 0}
PRIORITIES: Final = ("P1", "P2", "P3", "P4")
MATURITY_CRITICALITY: Final = {"high": "critical", "medium": "high", "low": "medium"}
DEFAULT_CRITICALITY: Final = "low"


def _sluice_meta(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    value = meta.get("sluice")
    return value if isinstance(value, Mapping) else {}


def exposure_criticality(exposure: Exposure) -> str:
    """The exposure's criticality (see the module's docstring)."""
    for meta in (exposure.config.meta, exposure.meta):
        for candidate in (_sluice_meta(meta).get("criticality"), meta.get("criticality")):
            if isinstance(candidate, str) and candidate.strip().lower() in RANK:
                return candidate.strip().lower()
    return MATURITY_CRITICALITY.get((exposure.maturity or "").strip().lower(), DEFAULT_CRITICALITY)


def highest_criticality(manifest: Manifest, exposures: Iterable[str]) -> str | None:
    """The most critical of the exposures, or None when there is none."""
    best: str | None = None
    for uid in exposures:
        exposure = manifest.exposures.get(uid)
        if exposure is None:
            continue
        level = exposure_criticality(exposure)
        if best is None or RANK[level] > RANK[best]:
            best = level
    return best


def severity_of(value: Any) -> str | None:
    """A valid severity, normalised, or None."""
    if isinstance(value, str) and value.strip().lower() in RANK:
        return value.strip().lower()
    return None


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
