"""``sluice summary``: what the latest build published, held back and why, from the warehouse.

The pieces are separate so each can be tested alone:

* :mod:`sluice.summary.reader` reads ``sluice_runs`` and the quarantine tables through the
  project's dbt adapter (:mod:`sluice.warehouse`), so any warehouse dbt supports works;
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
    render_text,
)
from sluice.summary.reader import classes, read_summary

__all__ = [
    "ClassCount",
    "ModelRun",
    "QuarantineCount",
    "Summary",
    "build_summary",
    "classes",
    "read_summary",
    "render_text",
]
