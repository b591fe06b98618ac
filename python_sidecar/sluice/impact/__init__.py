"""Which exposures a run's problems reach, why, since when, and who owns them."""

from sluice.escalate.priority import exposure_criticality
from sluice.impact.analyze import (
    analyze,
    exposure_owners,
    quarantine_counts,
    quarantine_from_run_results,
)
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
)
from sluice.warehouse.records import RuleCount

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
