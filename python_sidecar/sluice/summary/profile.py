"""Find the DuckDB file of a dbt target: ``profiles.yml`` in the project directory, rendered
with a minimal ``env_var()`` (the only Jinja a DuckDB path in a profile usually needs)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml  # type: ignore[import-untyped]

from sluice.errors import InputError

# {{ env_var('NAME') }} or {{ env_var("NAME", "default") }}, with optional filters after it
# (`| int`, `| as_number`: the value's text is what ends up in YAML either way).
_ENV_VAR: Final = re.compile(
    r"""\{\{-?\s*env_var\(\s*(['"])(?P<name>[^'"]+)\1\s*(?:,\s*(['"])(?P<default>.*?)\3\s*)?\)"""
    r"""(?:\s*\|\s*[A-Za-z_]+)*\s*-?\}\}"""
)


def render_env_vars(text: str, environ: Mapping[str, str], where: str) -> str:
    """Replace every ``{{ env_var(...) }}`` in ``text``; any other Jinja is left as it is."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name in environ:
            return environ[name]
        default = match.group("default")
        if default is None:
            raise InputError(f"{where}: env_var('{name}') is not set and has no default")
        return default

    return _ENV_VAR.sub(replace, text)


def _load(path: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    try:
        data = yaml.safe_load(render_env_vars(text, environ, str(path)))
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping at the top level")
    return data


def duckdb_path(
    project_dir: Path, target: str = "demo", environ: Mapping[str, str] | None = None
) -> Path:
    """The DuckDB file of ``target`` of the project's profile, from ``profiles.yml`` in
    ``project_dir``. A relative path is taken from the project directory, where dbt is run."""
    env = os.environ if environ is None else environ
    project = _load(project_dir / "dbt_project.yml", env)
    profile_name = project.get("profile")
    if not isinstance(profile_name, str) or not profile_name:
        raise InputError(f"{project_dir / 'dbt_project.yml'}: no `profile:` is set")
    profiles_path = project_dir / "profiles.yml"
    profile = _load(profiles_path, env).get(profile_name)
    if not isinstance(profile, dict):
        raise InputError(f"{profiles_path}: no profile named {profile_name!r}")
    outputs = profile.get("outputs")
    output = outputs.get(target) if isinstance(outputs, dict) else None
    if not isinstance(output, dict):
        raise InputError(f"{profiles_path}: profile {profile_name!r} has no target {target!r}")
    where = f"{profiles_path} ({profile_name}.{target})"
    if output.get("type") != "duckdb":
        raise InputError(f"{where}: is a {output.get('type')!r} target; the summary reads DuckDB")
    raw = str(output.get("path") or "")
    if not raw or raw == ":memory:" or raw.startswith(("md:", "motherduck:")):
        raise InputError(f"{where}: DuckDB path {raw or ':memory:'!r} is not a local file")
    path = Path(raw).expanduser()
    return path if path.is_absolute() else project_dir / path
