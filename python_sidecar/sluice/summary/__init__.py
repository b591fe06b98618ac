"""``sluice summary``: what the latest build published, held back and why, from the warehouse.

The pieces are separate so each can be tested alone:

* :mod:`sluice.summary.profile` finds the DuckDB file of a dbt target in ``profiles.yml``;
* :mod:`sluice.summary.reader` reads ``sluice_runs`` and the quarantine tables from it;
* :mod:`sluice.summary.core` turns those rows into a :class:`Summary` and renders it as text.

Nothing here prints; the command line (``sluice.cli.summary``) does.
"""

from __future__ import annotations

from sluice.summary.core import (
    ClassCount,
    ModelRun,
    QuarantineCount,
    Summary,
    build_summary,
    parse_rule_counts,
    render_text,
)
from sluice.summary.profile import duckdb_path
from sluice.summary.reader import read_summary

__all__ = [
    "ClassCount",
    "ModelRun",
    "QuarantineCount",
    "Summary",
    "build_summary",
    "duckdb_path",
    "parse_rule_counts",
    "read_summary",
    "render_text",
]
