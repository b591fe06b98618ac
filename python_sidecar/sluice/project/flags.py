"""dbt's flags for finding a project, its profile and its artifacts, with dbt's precedence.

Each flag resolves as dbt resolves it: the command-line value, else the environment variable
(``DBT_ENGINE_*`` first, as dbt 1.11 reads it, then ``DBT_*``), else the project file, else dbt's
default. Nothing here reads the process: the environment and the working directory are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from sluice.errors import InputError


@dataclass(frozen=True, slots=True)
class ProjectFlags:
    """The dbt flags a sluice command accepts; None means "not given on the command line"."""

    project_dir: Path | None = None
    profiles_dir: Path | None = None
    target: str | None = None
    profile: str | None = None
    target_path: Path | None = None
    vars: str | Mapping[str, Any] | None = None
    """``--vars``: a YAML mapping as text (as dbt takes it) or an already parsed mapping."""

    @classmethod
    def from_dbt_args(cls, args: Sequence[str], **given: Any) -> ProjectFlags:
        """The flags among a ``dbt`` command line (``--flag value`` and ``--flag=value``);
        keyword arguments win over what the command line says."""
        found: dict[str, Any] = {}
        names = {
            "--project-dir": "project_dir",
            "--profiles-dir": "profiles_dir",
            "--target": "target",
            "-t": "target",
            "--profile": "profile",
            "--target-path": "target_path",
            "--vars": "vars",
        }
        for index, arg in enumerate(args):
            for flag, attribute in names.items():
                if arg == flag and index + 1 < len(args):
                    found[attribute] = args[index + 1]
                elif flag.startswith("--") and arg.startswith(flag + "="):
                    found[attribute] = arg.split("=", 1)[1]
        for attribute in ("project_dir", "profiles_dir", "target_path"):
            if attribute in found:
                found[attribute] = Path(found[attribute])
        found.update({k: v for k, v in given.items() if v is not None})
        return cls(**found)


def env_flag(environ: Mapping[str, str], name: str) -> str | None:
    """``DBT_ENGINE_<NAME>``, else ``DBT_<NAME>`` (empty values count as unset)."""
    for key in (f"DBT_ENGINE_{name}", f"DBT_{name}"):
        value = environ.get(key, "")
        if value.strip():
            return value
    return None


def resolve_project_dir(flags: ProjectFlags, environ: Mapping[str, str], cwd: Path) -> Path:
    """``--project-dir``, ``DBT_PROJECT_DIR``, else the working directory or the nearest parent
    holding a dbt_project.yml (dbt's default)."""
    given = flags.project_dir
    if given is None:
        from_env = env_flag(environ, "PROJECT_DIR")
        given = Path(from_env) if from_env else None
    if given is not None:
        path = given if given.is_absolute() else cwd / given
        return Path(path)
    for candidate in (cwd, *cwd.parents):
        if (candidate / "dbt_project.yml").exists():
            return candidate
    return cwd


def resolve_profiles_dir(flags: ProjectFlags, environ: Mapping[str, str], cwd: Path) -> Path:
    """``--profiles-dir``, ``DBT_PROFILES_DIR``, else the working directory when it holds a
    profiles.yml, else ``~/.dbt`` (dbt's default)."""
    given = flags.profiles_dir
    if given is None:
        from_env = env_flag(environ, "PROFILES_DIR")
        given = Path(from_env) if from_env else None
    if given is not None:
        return Path(given if given.is_absolute() else cwd / given)
    if (cwd / "profiles.yml").exists():
        return cwd
    home = environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".dbt"


def parse_cli_vars(raw: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """``--vars``: a YAML (or JSON) mapping."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    if not raw.strip():
        return {}
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise InputError(f"--vars: not a YAML mapping: {exc}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"--vars: expected a YAML mapping like '{{name: value}}', got {raw!r}")
    return value
