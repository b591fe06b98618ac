"""Retrying transient failures: settings, backoff, planning and the attempts' artifacts."""

from sluice.retry.backoff import backoff_ceiling, full_jitter_delay
from sluice.retry.config import BuildSettings, ConfigError, RetryPolicy, resolve_settings
from sluice.retry.plan import NextStep, Plan, plan_next

__all__ = [
    "BuildSettings",
    "ConfigError",
    "NextStep",
    "Plan",
    "RetryPolicy",
    "backoff_ceiling",
    "full_jitter_delay",
    "plan_next",
    "resolve_settings",
]
