"""Where sluice writes files: the report's file names, and a destination checked before
anything is written anywhere.

``sluice report`` checks its output folder and its state file's folder, ``sluice build`` its
record's folder and the report's, before the warehouse or dbt is touched, so an unusable path is
a usage error (exit 2) naming it, never a traceback after half the work. Light on purpose:
``sluice build`` reads it before dbt starts, the report's modules load while dbt runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from sluice.errors import InputError

REPORT_FORMATS: Final = ("html", "json", "md")
REPORT_FILES: Final = {"html": "report.html", "json": "impact.json", "md": "summary.md"}
"""Report format -> the file it is written to."""


def check_writable(directory: Path, what: str) -> None:
    """Refuse (InputError) a destination folder that cannot be created or written."""
    probe = directory
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise InputError(f"{directory}: cannot write the {what} there: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{directory}: cannot write the {what} there: {probe} is not writable")
