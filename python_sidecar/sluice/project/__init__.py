"""The dbt project, read as dbt reads it: flags, ``dbt_project.yml``, ``profiles.yml``, vars.

Every command and the Python API start here::

    project = load_project(ProjectFlags(project_dir=Path("analytics"), target="prod"))
    project.target_path        # where dbt writes its artifacts
    project.settings.schema    # var sluice_schema
    project.target.adapter_type
"""

from sluice.project.flags import ProjectFlags, parse_cli_vars
from sluice.project.load import (
    PROFILES_FILE,
    PROJECT_FILE,
    Project,
    SluiceSettings,
    Target,
    load_project,
    parse_duration,
)

__all__ = [
    "PROFILES_FILE",
    "PROJECT_FILE",
    "Project",
    "ProjectFlags",
    "SluiceSettings",
    "Target",
    "load_project",
    "parse_cli_vars",
    "parse_duration",
]
