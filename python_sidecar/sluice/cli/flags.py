"""The dbt flags every sluice command accepts, with dbt's names and environment variables."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sluice.project import ProjectFlags


def add_project_flags(parser: argparse.ArgumentParser, *, target_path: bool = False) -> None:
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="the dbt project (default: DBT_PROJECT_DIR, else the working directory or the "
        "nearest parent with a dbt_project.yml)",
    )
    parser.add_argument(
        "--profiles-dir",
        type=Path,
        default=None,
        help="where profiles.yml is (default: DBT_PROFILES_DIR, else the working directory if it "
        "has one, else ~/.dbt)",
    )
    parser.add_argument(
        "--target",
        "-t",
        default=None,
        help="profile target (default: DBT_TARGET, else the profile's)",
    )
    parser.add_argument(
        "--vars", default=None, help="YAML mapping of vars, as given to dbt (e.g. '{a: 1}')"
    )
    if target_path:
        parser.add_argument(
            "--target-path",
            type=Path,
            default=None,
            help="dbt's artifacts (default: DBT_TARGET_PATH, else the project's target-path, "
            "else target)",
        )


def project_flags(args: argparse.Namespace) -> ProjectFlags:
    from sluice.project import ProjectFlags

    return ProjectFlags(
        project_dir=args.project_dir,
        profiles_dir=args.profiles_dir,
        target=args.target,
        vars=args.vars,
        target_path=getattr(args, "target_path", None),
    )
