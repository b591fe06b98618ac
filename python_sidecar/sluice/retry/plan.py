"""Deciding the next attempt from an attempt's classified failures (a pure function)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sluice.artifacts.models import Manifest
from sluice.classify.model import Failure, FailureClass


class NextStep(StrEnum):
    DONE = "done"
    """Nothing failed."""
    STOP = "stop"
    """Failures remain, none of them transient: nothing to retry."""
    RETRY = "retry"
    """Every failure is transient: ``dbt retry`` reruns the failed and skipped nodes."""
    RERUN_SELECTED = "rerun_selected"
    """Transient and structural failures are mixed: rerun only the transient part."""


@dataclass(frozen=True, slots=True)
class Plan:
    step: NextStep
    nodes: tuple[str, ...] = ()
    """For RERUN_SELECTED: the transient nodes and the nodes skipped only because of them."""


def plan_next(failures: Sequence[Failure]) -> Plan:
    """What to do after an attempt.

    A node skipped because of both a transient and a structural failure is not rerun: it would
    be skipped again.
    """
    if not failures:
        return Plan(NextStep.DONE)
    transient = {
        f.unique_id for f in failures if f.is_root and f.failure_class is FailureClass.TRANSIENT
    }
    if not transient:
        return Plan(NextStep.STOP)
    structural = [
        f for f in failures if f.is_root and f.failure_class is not FailureClass.TRANSIENT
    ]
    if not structural:
        return Plan(NextStep.RETRY, tuple(sorted(transient)))
    skipped_behind = {
        f.unique_id
        for f in failures
        if not f.is_root and f.root_causes and set(f.root_causes) <= transient
    }
    return Plan(NextStep.RERUN_SELECTED, tuple(sorted(transient | skipped_behind)))


def selectors(nodes: Sequence[str], known: Mapping[str, str]) -> list[str]:
    """The ``dbt build --select`` selectors for the nodes, from ``known`` (see
    :func:`node_selectors`); nodes without one are left out."""
    return sorted({known[uid] for uid in nodes if uid in known})


def node_selectors(manifest: Manifest) -> dict[str, str]:
    """A selector per node: ``fqn:<fqn>`` for models, seeds, snapshots and tests,
    ``exposure:<name>`` for exposures (so they leave the skipped state too)."""
    known = {uid: "fqn:" + ".".join(node.fqn) for uid, node in manifest.nodes.items() if node.fqn}
    known.update({uid: f"exposure:{e.name}" for uid, e in manifest.exposures.items()})
    return known
