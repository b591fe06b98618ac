"""Which exposures a run's problems reach, why, since when, and who owns them.

The domain: pure functions over the decoded artifacts and the counts handed in. It imports
nothing from the warehouse, the alerts, the report or the incidents (``make lint`` checks it).
"""

from sluice.impact.analyze import (
    analyze,
    exposure_owners,
    quarantine_counts,
    quarantine_from_run_results,
)
from sluice.impact.criticality import exposure_criticality
from sluice.impact.model import (
    CRITICALITIES,
    MATURITY_CRITICALITY,
    ExposureImpact,
    ExposureStatus,
    Impact,
    ModelQuarantine,
    NodeStatus,
    Owner,
    ProblemKind,
    Reason,
    RootCause,
    RuleCount,
)

__all__ = [
    "CRITICALITIES",
    "MATURITY_CRITICALITY",
    "ExposureImpact",
    "ExposureStatus",
    "Impact",
    "ModelQuarantine",
    "NodeStatus",
    "Owner",
    "ProblemKind",
    "Reason",
    "RootCause",
    "RuleCount",
    "analyze",
    "exposure_criticality",
    "exposure_owners",
    "quarantine_counts",
    "quarantine_from_run_results",
]
