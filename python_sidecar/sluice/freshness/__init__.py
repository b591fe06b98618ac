"""Source freshness, per source, from dbt's sources.json."""

from sluice.freshness.sources import (
    FreshnessStatus,
    SourceFreshness,
    format_threshold,
    source_freshness,
)

__all__ = ["FreshnessStatus", "SourceFreshness", "format_threshold", "source_freshness"]
