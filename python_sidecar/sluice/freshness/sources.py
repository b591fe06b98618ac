"""Per-source freshness: status, newest loaded row, age and thresholds.

Every source of the manifest gets an entry; one that ``dbt source freshness`` did not measure
(no ``loaded_at_field`` or freshness config, or no sources.json) is ``not_checked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sluice.artifacts.models import Manifest, Period, SourcesResults


class FreshnessStatus(StrEnum):
    PASS = "pass"  # noqa: S105 - a freshness status, not a secret
    WARN = "warn"
    ERROR = "error"
    RUNTIME_ERROR = "runtime error"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    unique_id: str
    source_name: str
    name: str
    relation_name: str | None
    status: FreshnessStatus
    max_loaded_at: datetime | None
    snapshotted_at: datetime | None
    age_seconds: float | None
    warn_after: str | None
    error_after: str | None
    message: str | None

    @property
    def is_late(self) -> bool:
        return self.status in (FreshnessStatus.WARN, FreshnessStatus.ERROR)

    @property
    def is_problem(self) -> bool:
        return self.is_late or self.status is FreshnessStatus.RUNTIME_ERROR


def as_utc(value: datetime | None) -> datetime | None:
    """dbt writes UTC; a naive timestamp is taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def format_threshold(period: Period | None) -> str | None:
    """``Period(count=12, period="hour")`` -> ``"12 hour"``; unset -> None."""
    if period is None or period.count is None or period.period is None:
        return None
    return f"{period.count} {period.period}"


def _status(raw: str) -> FreshnessStatus:
    try:
        return FreshnessStatus(raw)
    except ValueError:
        return FreshnessStatus.RUNTIME_ERROR


def source_freshness(
    manifest: Manifest, sources: SourcesResults | None
) -> tuple[SourceFreshness, ...]:
    measured = {result.unique_id: result for result in sources.results} if sources else {}
    entries: list[SourceFreshness] = []
    for unique_id, source in sorted(manifest.sources.items()):
        result = measured.get(unique_id)
        if result is None:
            entries.append(
                SourceFreshness(
                    unique_id=unique_id,
                    source_name=source.source_name,
                    name=source.name,
                    relation_name=source.relation_name,
                    status=FreshnessStatus.NOT_CHECKED,
                    max_loaded_at=None,
                    snapshotted_at=None,
                    age_seconds=None,
                    warn_after=None,
                    error_after=None,
                    message=None,
                )
            )
            continue
        criteria = result.criteria
        entries.append(
            SourceFreshness(
                unique_id=unique_id,
                source_name=source.source_name,
                name=source.name,
                relation_name=source.relation_name,
                status=_status(result.status),
                max_loaded_at=as_utc(result.max_loaded_at),
                snapshotted_at=as_utc(result.snapshotted_at),
                age_seconds=result.max_loaded_at_time_ago_in_s,
                warn_after=format_threshold(criteria.warn_after) if criteria else None,
                error_after=format_threshold(criteria.error_after) if criteria else None,
                message=None if result.error is None else str(result.error),
            )
        )
    return tuple(entries)
