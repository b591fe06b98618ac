"""How urgent a failure is: its severity and the criticality of the exposures it reaches.

``score = rank(severity) + rank(criticality)`` with ranks critical 3, high 2, medium 1, low 0
(no exposure, or one without ``meta.criticality``, counts as low). P1 from 5, P2 from 3, P3 from
1, P4 below. Failures at or above the alert threshold (``alert_min_priority``, P3 by default)
are sent to the webhook.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sluice.classify.artifacts import Manifest
from sluice.classify.model import Failure, FailureClass

SEVERITIES = ("critical", "high", "medium", "low")
_RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0}
PRIORITIES = ("P1", "P2", "P3", "P4")

# The severity of a failure by class, when nothing more specific is known.
CLASS_SEVERITY: dict[FailureClass, str] = {
    FailureClass.TRANSIENT: "high",
    FailureClass.SOURCE_UNAVAILABLE: "high",
    FailureClass.SCHEMA_CHANGE: "high",
    FailureClass.AUTHORIZATION: "high",
    FailureClass.DATA_QUALITY: "medium",
    FailureClass.PARTIAL_LOAD: "high",
    FailureClass.DEPENDENCY_FAILED: "low",
    FailureClass.UNKNOWN: "medium",
}

_GATE_SEVERITY = re.compile(r"\b(critical|high|medium|low): \d+ rows \(")


def _sluice_meta(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    value = meta.get("sluice")
    return value if isinstance(value, Mapping) else {}


def failure_severity(failure: Failure, manifest: Manifest) -> str:
    """The gate's highest breached severity for a held gate; for a failed test, the sluice
    rule's ``sluice_severity`` argument, ``meta.sluice.severity`` or ``meta.severity``; otherwise
    the class's severity."""
    if failure.gate_held:
        found = _GATE_SEVERITY.findall(failure.message)
        if found:
            return str(max(found, key=lambda s: _RANK[s]))
    node = manifest.nodes.get(failure.unique_id)
    if node is not None and failure.failure_class is FailureClass.DATA_QUALITY:
        if node.test_metadata is not None:
            value = node.test_metadata.kwargs.get("sluice_severity")  # a sluice rule's severity
            if isinstance(value, str) and value.lower() in _RANK:
                return value.lower()
        for meta in (node.config.meta, node.meta):
            for value in (_sluice_meta(meta).get("severity"), meta.get("severity")):
                if isinstance(value, str) and value.lower() in _RANK:
                    return value.lower()
    return CLASS_SEVERITY[failure.failure_class]


def exposure_criticality(manifest: Manifest, exposures: Iterable[str]) -> str | None:
    """The highest ``meta.criticality`` among the exposures (also read from
    ``config.meta`` and ``meta.sluice``), or None."""
    best: str | None = None
    for uid in exposures:
        exposure = manifest.exposures.get(uid)
        if exposure is None:
            continue
        for meta in (exposure.config.meta, exposure.meta):
            for value in (meta.get("criticality"), _sluice_meta(meta).get("criticality")):
                if isinstance(value, str) and value.lower() in _RANK:
                    level = value.lower()
                    if best is None or _RANK[level] > _RANK[best]:
                        best = level
    return best


def priority(severity: str, criticality: str | None) -> str:
    score = _RANK.get(severity, 1) + _RANK.get(criticality or "low", 0)
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
