"""Loading dbt artifacts (manifest, run results, source freshness) into narrow typed structs."""

from sluice.artifacts.loader import (
    MANIFEST_FILE,
    RUN_RESULTS_FILE,
    SOURCES_FILE,
    Artifacts,
    SchemaVersion,
    check_same_invocation,
    detect_version,
    load_artifacts,
    load_manifest,
    load_run_results,
    load_sources,
    parse_schema_version,
)
from sluice.artifacts.models import (
    Exposure,
    FreshnessResult,
    Manifest,
    Node,
    RunResult,
    RunResults,
    Source,
    SourcesResults,
)

__all__ = [
    "MANIFEST_FILE",
    "RUN_RESULTS_FILE",
    "SOURCES_FILE",
    "Artifacts",
    "Exposure",
    "FreshnessResult",
    "Manifest",
    "Node",
    "RunResult",
    "RunResults",
    "SchemaVersion",
    "Source",
    "SourcesResults",
    "check_same_invocation",
    "detect_version",
    "load_artifacts",
    "load_manifest",
    "load_run_results",
    "load_sources",
    "parse_schema_version",
]
