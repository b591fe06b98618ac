"""Escalation of failures: owners, priorities, webhook alerts and Prometheus metrics."""

from sluice.escalate.core import Escalation, escalate

__all__ = ["Escalation", "escalate"]
