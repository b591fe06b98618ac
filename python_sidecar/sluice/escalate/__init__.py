"""Escalation of failures: owners, priorities, webhook alerts and Prometheus metrics.

The one rule deciding owners and criticality is the domain's (:mod:`sluice.impact.owners`,
:mod:`sluice.impact.criticality`), shared with the impact report; alert priority is here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Escalation", "escalate"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sluice.escalate import core

        return getattr(core, name)
    raise AttributeError(f"module 'sluice.escalate' has no attribute {name!r}")
