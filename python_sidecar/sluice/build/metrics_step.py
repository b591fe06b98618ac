"""The metrics step after dbt: the operational metrics read from the package's history over the
connection the steps after dbt share, with the sources' freshness from the ``sources.json`` this
build decoded, written to ``target/sluice/sluice_metrics.prom`` beside the build's own
``sluice.prom``. A failure is a note; it never changes the build's outcome.
"""

from __future__ import annotations

from pathlib import Path

from sluice.artifacts import Manifest, SourcesResults
from sluice.build.layout import sluice_dir
from sluice.build.report_step import WarehouseAfterDbt
from sluice.escalate.metrics import (
    OperationalMetrics,
    render_operational,
    source_lags,
    source_systems,
)
from sluice.escalate.prometheus import write_text_atomic
from sluice.warehouse.connection import describe_error

METRICS_FILE = "sluice_metrics.prom"


def write_operational_metrics(
    shared: WarehouseAfterDbt,
    manifest: Manifest,
    target_dir: Path,
    sources: SourcesResults | None = None,
) -> tuple[OperationalMetrics | None, str | None]:
    """Write the textfile; returns the metrics read (for the trend alerts), or a note when they
    could not be read or written."""
    from sluice.warehouse.metrics import read_operational_metrics

    try:
        metrics = read_operational_metrics(shared.connection(), source_systems(manifest))
        text = render_operational(metrics, source_lags(manifest, sources))
        write_text_atomic(sluice_dir(target_dir) / METRICS_FILE, text)
    except Exception as exc:  # the build's outcome stands whatever happens here
        shared.recover()
        return None, f"operational metrics not written: {describe_error(exc)}"
    return metrics, None
