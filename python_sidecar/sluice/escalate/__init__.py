"""Escalation of failures: owners, priorities, webhook alerts and Prometheus metrics.

:mod:`sluice.escalate.owners` and :mod:`sluice.escalate.priority` hold the one rule deciding
owners and criticality, shared with the impact report; they import nothing of ``sluice build``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Escalation", "escalate"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sluice.escalate import core

        return getattr(core, name)
    raise AttributeError(f"module 'sluice.escalate' has no attribute {name!r}")
