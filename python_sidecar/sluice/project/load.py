"""The dbt project a sluice command works on: its files, flags, vars, profile and target path.

:func:`load_project` reads ``dbt_project.yml`` once, rendered as dbt renders it; the profile is
read from ``profiles.yml`` only when something needs it (the warehouse, or a project value that
names ``target``). Every sluice command (build, report, review, summary) and the Python API go
through here, so they all agree on where the artifacts are, which warehouse is meant and what the
``sluice_*`` vars say.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import yaml  # type: ignore[import-untyped]

from sluice.errors import InputError
from sluice.project.flags import (
    ProjectFlags,
    env_flag,
    parse_cli_vars,
    resolve_profiles_dir,
    resolve_project_dir,
)
from sluice.project.render import (
    Context,
    RenderError,
    render_profile,
    render_project,
    render_text,
)

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PROJECT_FILE: Final = "dbt_project.yml"
PROFILES_FILE: Final = "profiles.yml"
_SECRET_KEYS: Final = ("password", "pass", "token", "secret", "private_key", "passphrase")


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from None
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (C when built)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None


@dataclass(frozen=True)
class Target:
    """The profile's target a command connects to, rendered as dbt renders it."""

    profile_name: str
    target_name: str
    profiles_path: Path
    credentials: Mapping[str, Any] = field(repr=False)
    """The target's keys as written in profiles.yml, rendered (``type`` included)."""

    @property
    def adapter_type(self) -> str:
        return str(self.credentials.get("type") or "")

    @property
    def schema(self) -> str | None:
        value = self.credentials.get("schema") or self.credentials.get("dataset")
        if value:
            return str(value)
        return "main" if self.adapter_type == "duckdb" else None

    @property
    def database(self) -> str | None:
        for key in ("database", "dbname", "project", "catalog"):
            value = self.credentials.get(key)
            if value:
                return str(value)
        if self.adapter_type == "duckdb":
            path = str(self.credentials.get("path") or ":memory:")
            return "memory" if path == ":memory:" else Path(path).stem
        return None

    @property
    def where(self) -> str:
        return f"{self.profiles_path} ({self.profile_name}.{self.target_name})"

    def context(self) -> dict[str, Any]:
        """The ``target`` Jinja variable: every key but secrets, plus dbt's own."""
        values = {
            key: value
            for key, value in self.credentials.items()
            if not any(secret in str(key).lower() for secret in _SECRET_KEYS)
        }
        values.update(
            name=self.target_name,
            target_name=self.target_name,
            profile_name=self.profile_name,
            type=self.adapter_type,
            schema=self.schema,
            database=self.database,
            threads=self.credentials.get("threads", 1),
        )
        return values


@dataclass(frozen=True)
class SluiceSettings:
    """The ``sluice_*`` vars the sidecar reads, with the package's defaults."""

    schema: str | None
    """``sluice_schema``: where the package's tables live; None means the target schema."""
    runs_table: str = "sluice_runs"
    events_table: str = "sluice_exception_events"
    decisions_table: str = "sluice_decisions"
    quarantine_suffix: str = "__quarantine"
    report_horizon: timedelta = timedelta(days=7)
    """``sluice_report_horizon``: a node's last result older than this counts as unknown."""


_NOT_SET: Final = object()


def parse_duration(value: Any, where: str) -> timedelta:
    """``7d``, ``36h``, ``90m``, ``3600s`` or a number of hours."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a duration like '7d' or '36h', got {value!r}")
    if isinstance(value, int | float):
        hours = float(value)
    else:
        text = str(value).strip().lower()
        units = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
        try:
            if text and text[-1] in units:
                seconds = float(text[:-1]) * units[text[-1]]
                hours = seconds / 3600.0
            else:
                hours = float(text)
        except ValueError:
            raise InputError(
                f"{where}: expected a duration like '7d' or '36h', got {value!r}"
            ) from None
    if hours <= 0 or hours != hours:
        raise InputError(f"{where}: the duration must be positive, got {value!r}")
    return timedelta(hours=hours)


@dataclass(frozen=True)
class Project:
    """A dbt project as dbt would load it for one command line and environment."""

    root: Path
    flags: ProjectFlags
    environ: Mapping[str, str] = field(repr=False)
    cwd: Path
    cli_vars: Mapping[str, Any]
    data: Mapping[str, Any] = field(repr=False)
    """dbt_project.yml, rendered (hooks, vars and query-comment are left as written)."""
    exists: bool = True
    """False when the folder has no dbt_project.yml (artifacts only)."""

    @property
    def file(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def name(self) -> str | None:
        value = self.data.get("name")
        return str(value) if value else None

    @property
    def profile_name(self) -> str | None:
        override = self.flags.profile or env_flag(self.environ, "PROFILE")
        if override:
            return override
        value = self.data.get("profile")
        return str(value) if value else None

    @property
    def target_path(self) -> Path:
        """``--target-path``, ``DBT_TARGET_PATH``, the project's ``target-path``, ``target``;
        relative to the project."""
        given: Path | str | None = self.flags.target_path or env_flag(self.environ, "TARGET_PATH")
        if not given:
            given = self.data.get("target-path") or "target"
        path = Path(str(given))
        return path if path.is_absolute() else self.root / path

    @property
    def packages_install_path(self) -> Path:
        path = Path(str(self.data.get("packages-install-path") or "dbt_packages"))
        return path if path.is_absolute() else self.root / path

    @cached_property
    def profiles_dir(self) -> Path:
        return resolve_profiles_dir(self.flags, self.environ, self.cwd)

    @cached_property
    def target(self) -> Target:
        """The profile's target (read on first use); InputError naming the file otherwise."""
        return load_target(self)

    # -- vars ----------------------------------------------------------------------------------

    @cached_property
    def _vars(self) -> dict[str, Any]:
        """What ``var()`` sees in a model of this project: ``--vars`` over the project's
        ``vars: {<project>: ...}`` over its top-level ``vars``."""
        raw = self.data.get("vars") or {}
        if not isinstance(raw, Mapping):
            raise InputError(f"{self.file}: `vars` must be a mapping")
        merged: dict[str, Any] = dict(raw)
        scoped = raw.get(self.name or "") if self.name else None
        if isinstance(scoped, Mapping):
            merged.update(scoped)
        merged.update(self.cli_vars)
        return merged

    def _context(self, vars_view: Mapping[str, Any]) -> Context:
        return Context(self.environ, vars_view, target=lambda: self.target.context())

    def var(self, name: str, default: Any = _NOT_SET) -> Any:
        """A var as a model of this project sees it, rendered (``env_var``, ``var``,
        ``target``)."""
        if name not in self._vars:
            if default is _NOT_SET:
                raise InputError(f"{self.file}: required var '{name}' not found in config")
            return default
        value = self._vars[name]
        if not isinstance(value, str):
            return value
        try:
            return render_text(value, self._context(self._vars))
        except RenderError as exc:
            raise InputError(f"{self.file}: cannot render var '{name}': {exc}") from None

    def name_var(self, name: str, default: str | None) -> str | None:
        """A var naming a table or schema (``sluice_runs_table``, ``sluice_audit_chain_table``,
        ...): its text, stripped, else ``default`` when unset or blank; InputError when it is
        not text. Every table name the sidecar reads from a var comes through here."""
        value = self.var(name, None)
        if value is None:
            return default
        if not isinstance(value, str):
            raise InputError(f"{self.file}: var {name} must be text, got {value!r}")
        return value.strip() or default

    def table_name(self, var: str | None, default: str) -> str:
        """The table a ``sluice_*_table`` var names (``default`` when unset, or ``var`` is
        None for a table whose name is fixed)."""
        return (self.name_var(var, default) if var else None) or default

    @cached_property
    def settings(self) -> SluiceSettings:
        """The ``sluice_*`` vars (``sluice_schema``, ``sluice_runs_table``, ...)."""
        values: dict[str, Any] = {}
        for key in ("schema", "runs_table", "events_table", "decisions_table"):
            value = self.name_var(f"sluice_{key}", None)
            if value is not None:
                values[key] = value
        suffix = self.var("sluice_quarantine_suffix", None)
        if suffix is not None:
            values["quarantine_suffix"] = str(suffix)
        horizon = self.var("sluice_report_horizon", None)
        if horizon is not None:
            values["report_horizon"] = parse_duration(horizon, "var sluice_report_horizon")
        return SluiceSettings(**{"schema": None, **values})

    def sluice_schema(self) -> str:
        """The schema of the package's tables: ``sluice_schema``, else the target's schema."""
        schema = self.settings.schema or self.target.schema
        if not schema:
            raise InputError(f"{self.target.where}: the target has no schema")
        return schema


def load_target(project: Project) -> Target:
    """Read the project's profile from profiles.yml as dbt does: only the chosen target of the
    chosen profile is rendered, with ``env_var``, ``var`` (the ``--vars``) and the filters."""
    profile_name = project.profile_name
    if not profile_name:
        raise InputError(
            f"{project.file}: no `profile:` (and no --profile or DBT_PROFILE) to find the warehouse"
        )
    path = project.profiles_dir / PROFILES_FILE
    if not path.exists():
        raise InputError(
            f"{path}: file not found (profiles.yml is looked for in --profiles-dir, "
            "DBT_PROFILES_DIR, the working directory, then ~/.dbt)"
        )
    raw = _read_yaml(path)
    if not isinstance(raw, Mapping):
        raise InputError(f"{path}: expected a mapping of profiles")
    profile = raw.get(profile_name)
    if not isinstance(profile, Mapping):
        raise InputError(f"{path}: no profile named {profile_name!r}")
    context = Context(project.environ, project.cli_vars, secrets=True)
    target_name: Any = project.flags.target or env_flag(project.environ, "TARGET")
    if not target_name:
        raw_target = profile.get("target")
        if raw_target is None:
            target_name = "default"
        else:
            try:
                target_name = (
                    render_text(raw_target, context) if isinstance(raw_target, str) else raw_target
                )
            except RenderError as exc:
                raise InputError(f"{path}: cannot render `{profile_name}.target`: {exc}") from None
    target_name = str(target_name)
    outputs = profile.get("outputs")
    output = outputs.get(target_name) if isinstance(outputs, Mapping) else None
    if not isinstance(output, Mapping):
        known = ", ".join(sorted(map(str, outputs))) if isinstance(outputs, Mapping) else "none"
        raise InputError(
            f"{path}: profile {profile_name!r} has no target {target_name!r} (targets: {known})"
        )
    credentials = render_profile(output, context, f"{path} ({profile_name}.{target_name})")
    if not credentials.get("type"):
        raise InputError(f"{path} ({profile_name}.{target_name}): no `type:`")
    return Target(
        profile_name=profile_name,
        target_name=target_name,
        profiles_path=path,
        credentials=credentials,
    )


def load_project(
    flags: ProjectFlags | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    require: bool = True,
) -> Project:
    """The dbt project named by ``flags`` (dbt's precedence for every flag).

    With ``require=False`` a folder without dbt_project.yml is accepted (a folder of artifacts):
    the target path is then ``target`` under it, and there are no vars.
    """
    flags = flags or ProjectFlags()
    env = dict(os.environ) if environ is None else dict(environ)
    here = Path.cwd() if cwd is None else cwd
    root = resolve_project_dir(flags, env, here).resolve()
    cli_vars = parse_cli_vars(flags.vars)
    path = root / PROJECT_FILE
    if not path.exists():
        if root.exists() and not root.is_dir():
            raise InputError(f"{root}: not a directory")
        if require:
            raise InputError(
                f"{path}: file not found; run from a dbt project or pass --project-dir"
            )
        return Project(root, flags, env, here, cli_vars, {}, exists=False)
    raw = _read_yaml(path)
    if not isinstance(raw, Mapping):
        raise InputError(f"{path}: expected a mapping at the top level")

    holder: list[Project] = []

    def target_context() -> Mapping[str, Any]:
        return holder[0].target.context()

    # dbt renders the profile name first (without `target`), reads the profile, then renders
    # the rest with `target`. Here the profile is read only if a value actually uses `target`.
    first = dict(raw)
    if isinstance(raw.get("profile"), str):
        first["profile"] = render_project(
            {"profile": raw["profile"]}, Context(env, cli_vars), str(path)
        )["profile"]
    raw_project = Project(root, flags, env, here, cli_vars, first)
    holder.append(raw_project)
    context = Context(env, cli_vars, target=target_context, flags=_dbt_flags(flags))
    data = render_project(raw, context, str(path))
    project = Project(root, flags, env, here, cli_vars, data)
    if "target" in raw_project.__dict__:  # the profile was read while rendering: keep it
        project.__dict__["target"] = raw_project.__dict__["target"]
    return project


__all__ = [
    "PROFILES_FILE",
    "PROJECT_FILE",
    "Project",
    "SluiceSettings",
    "Target",
    "load_project",
    "load_target",
    "parse_duration",
]


def _dbt_flags(flags: ProjectFlags) -> dict[str, Any]:
    """The flags given, named as dbt's ``flags`` names them in templates."""
    given = {
        "PROJECT_DIR": flags.project_dir,
        "PROFILES_DIR": flags.profiles_dir,
        "TARGET": flags.target,
        "PROFILE": flags.profile,
        "TARGET_PATH": flags.target_path,
    }
    return {name: str(value) for name, value in given.items() if value is not None}
