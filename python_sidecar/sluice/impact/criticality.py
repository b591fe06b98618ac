"""How critical an exposure is, and the severity scale: one rule for the report and the alerts.

An exposure's criticality is its ``meta.sluice.criticality`` or ``meta.criticality`` (also read
from ``config.meta``) when valid, else it follows ``maturity``: high -> critical, medium -> high,
low -> medium; an exposure with neither is low.

Owns the scale (critical, high, medium, low) and its ranks; reads only the manifest's
exposures. How urgent an alert is (P1..P4) belongs to :mod:`sluice.escalate.priority`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from sluice.artifacts.models import Exposure, Manifest

SEVERITIES: Final = ("critical", "high", "medium", "low")
CRITICALITIES: Final = SEVERITIES
RANK: Final = {"critical": 3, "high": 2, "medium": 1, "low": 0}
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


# the load states a build records (macros/load_state), in the package's words
LOAD_STATES: Final = (
    "complete",
    "exception_filtered",
    "upstream_held",
    "recovered",
    "held",
    "overridden",
)


def exposure_accepts(exposure: Exposure) -> tuple[str, ...] | None:
    """The load states of its inputs an exposure accepts (``meta.sluice.accepts``, also read
    from ``config.meta``; a state name or a list), unknown names left out; None when it does
    not say (it accepts any)."""
    for meta in (exposure.config.meta, exposure.meta):
        value = _sluice_meta(meta).get("accepts")
        if value is None:
            continue
        names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        return tuple(n for n in (str(v).strip() for v in names) if n in LOAD_STATES)
    return None


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
