"""Settings of ``sluice build``: retry policy, alerting and extra classification patterns.

Each setting is resolved with this precedence: command-line flag > environment variable >
``[tool.sluice]`` in the dbt project's ``pyproject.toml`` > built-in default.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sluice.classify.patterns import Pattern, PatternError, parse_patterns

PRIORITIES = ("P1", "P2", "P3", "P4")


class ConfigError(ValueError):
    """A setting is invalid; the message names where it came from."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient failures are retried.

    ``max_attempts`` counts the first run: 3 means the build plus at most two retries.
    Delays are in seconds; ``budget`` caps the whole build's wall time spent before a retry
    starts (0 means no retry at all).
    """

    max_attempts: int = 3
    base_delay: float = 10.0
    max_delay: float = 300.0
    budget: float = 1800.0
    repeat_limit: int = 2
    """Stop retrying once every transient failure left has failed with the same message on
    this many consecutive attempts (0: never stop early)."""


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    webhook_url: str | None = field(default=None, repr=False)
    alert_min_priority: str = "P3"
    default_owner: str = "unowned"
    source_owners: Mapping[str, str] = field(default_factory=dict)
    webhook_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class BuildSettings:
    retry: RetryPolicy = RetryPolicy()
    escalation: EscalationSettings = EscalationSettings()
    patterns: tuple[Pattern, ...] = ()
    """Users' extra patterns, tried before the built-in table."""
    stop_timeout: float = 20.0
    """Seconds dbt gets to cancel its queries and exit after an interruption, before it is
    killed."""


# setting -> (environment variable, type)
_RETRY_KEYS: dict[str, tuple[str, type]] = {
    "max_attempts": ("SLUICE_MAX_ATTEMPTS", int),
    "base_delay": ("SLUICE_BASE_DELAY", float),
    "max_delay": ("SLUICE_MAX_DELAY", float),
    "budget": ("SLUICE_BUDGET", float),
    "repeat_limit": ("SLUICE_REPEAT_LIMIT", int),
}
_PROCESS_KEYS: dict[str, tuple[str, type]] = {
    "stop_timeout": ("SLUICE_STOP_TIMEOUT", float),
}
_ESCALATE_KEYS = {
    "webhook_url",
    "alert_min_priority",
    "default_owner",
    "source_owners",
    "webhook_timeout",
}


def read_pyproject(project_dir: Path) -> dict[str, Any]:
    """The ``[tool.sluice]`` table of the project's pyproject.toml, or an empty table."""
    path = project_dir / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as TOML: {exc}") from None
    table = data.get("tool", {}).get("sluice", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.sluice] must be a table")
    return table


def _number(value: Any, kind: type, where: str) -> float | int:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        number: float | int = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}: expected {'a whole number' if kind is int else 'a number'}, got {value!r}"
        ) from None
    if kind is int and isinstance(value, float) and value != int(value):
        raise ConfigError(f"{where}: expected a whole number, got {value!r}")
    if isinstance(number, float) and not math.isfinite(number):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    if number < 0:
        raise ConfigError(f"{where}: must not be negative, got {value!r}")
    return number


def resolve_settings(
    project_dir: Path,
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
) -> BuildSettings:
    """Resolve every setting from flags (None when not given), environment and pyproject.toml."""
    file_table = read_pyproject(project_dir)
    origin = f"{project_dir / 'pyproject.toml'} [tool.sluice]"

    def numbers(keys: Mapping[str, tuple[str, type]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, (env_name, kind) in keys.items():
            if flags.get(key) is not None:
                values[key] = _number(flags[key], kind, f"--{key.replace('_', '-')}")
            elif environ.get(env_name, "").strip():
                values[key] = _number(environ[env_name].strip(), kind, env_name)
            elif key in file_table:
                values[key] = _number(file_table[key], kind, f"{origin} {key}")
        return values

    retry = RetryPolicy(**numbers(_RETRY_KEYS))
    if retry.max_attempts < 1:
        raise ConfigError("max_attempts must be at least 1 (the build itself)")
    if retry.repeat_limit == 1:
        raise ConfigError(
            "repeat_limit must be 0 (never stop early) or at least 2 (attempts that failed "
            "the same way before retries stop)"
        )
    process = numbers(_PROCESS_KEYS)

    escalate_table = file_table.get("escalate", {})
    if not isinstance(escalate_table, dict):
        raise ConfigError(f"{origin}: escalate must be a table")
    unknown = set(escalate_table) - _ESCALATE_KEYS
    if unknown:
        raise ConfigError(f"{origin}.escalate: unknown key(s) {', '.join(sorted(unknown))}")
    webhook = environ.get("SLUICE_WEBHOOK_URL", "").strip() or escalate_table.get("webhook_url")
    if webhook is not None and (
        not isinstance(webhook, str) or not webhook.startswith(("http://", "https://"))
    ):
        raise ConfigError("the webhook URL must start with http:// or https://")
    priority = (
        flags.get("alert_min_priority")
        or environ.get("SLUICE_ALERT_MIN_PRIORITY", "").strip()
        or escalate_table.get("alert_min_priority", "P3")
    )
    if str(priority).upper() not in PRIORITIES:
        raise ConfigError(f"alert_min_priority must be one of {', '.join(PRIORITIES)}")
    source_owners = escalate_table.get("source_owners", {})
    if not isinstance(source_owners, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in source_owners.items()
    ):
        raise ConfigError(f'{origin}.escalate.source_owners: expected source system = "owner"')
    default_owner = escalate_table.get("default_owner", "unowned")
    if not isinstance(default_owner, str) or not default_owner:
        raise ConfigError(f"{origin}.escalate.default_owner: expected text")
    timeout = _number(
        escalate_table.get("webhook_timeout", 10.0), float, f"{origin}.escalate.webhook_timeout"
    )
    escalation = EscalationSettings(
        webhook_url=webhook,
        alert_min_priority=str(priority).upper(),
        default_owner=default_owner,
        source_owners=dict(source_owners),
        webhook_timeout=float(timeout) or 10.0,
    )

    classify_table = file_table.get("classify", {})
    if not isinstance(classify_table, dict) or set(classify_table) - {"patterns"}:
        raise ConfigError(
            f"{origin}.classify: expected only 'patterns' ([[tool.sluice.classify."
            "patterns]] rows with adapter, class, regex, description)"
        )
    rows = classify_table.get("patterns", [])
    if not isinstance(rows, list):
        raise ConfigError(f"{origin}.classify.patterns: expected a list of tables")
    try:
        patterns = parse_patterns(rows, f"{origin}.classify")
    except PatternError as exc:
        raise ConfigError(str(exc)) from None
    return BuildSettings(retry=retry, escalation=escalation, patterns=patterns, **process)
