"""Retry policy: settings, backoff, the plan for the next attempt, and dbt's arguments for it.

Pure policy over failures and arguments: running dbt, keeping its artifacts and the attempt
loop itself are :mod:`sluice.build`'s.
"""

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
