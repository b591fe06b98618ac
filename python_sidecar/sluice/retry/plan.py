"""Deciding the next attempt from an attempt's classified failures (a pure function)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sluice.artifacts.models import Manifest
from sluice.classify.model import Failure, FailureClass
from sluice.classify.startup import INVOCATION_TYPE


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


def _same_text(message: str) -> str:
    return " ".join(message.split())


def repeated_failures(history: Sequence[Sequence[Failure]], limit: int) -> dict[str, int]:
    """The transient root failures of the last attempt that failed with the same message on at
    least ``limit`` consecutive attempts, with the count (``limit`` 0: none).

    ``history`` is every attempt's failures, oldest first. An attempt that ran no node (dbt
    failed to start) is passed over: the node did not run, so it did not fail again.
    """

    def started(attempt: Sequence[Failure]) -> bool:
        return not any(f.resource_type == INVOCATION_TYPE for f in attempt)

    if limit < 2 or not history or not started(history[-1]):
        return {}
    ran = [attempt for attempt in history if started(attempt)]
    found: dict[str, int] = {}
    for failure in ran[-1]:
        if not failure.is_root or failure.failure_class is not FailureClass.TRANSIENT:
            continue
        text = _same_text(failure.message)
        count = 1
        for earlier in reversed(ran[:-1]):
            same = next((e for e in earlier if e.unique_id == failure.unique_id), None)
            if same is None or _same_text(same.message) != text:
                break
            count += 1
        if count >= limit:
            found[failure.unique_id] = count
    return found


def stop_repeating(failures: Sequence[Failure], repeated: Mapping[str, int]) -> bool:
    """Whether every transient root failure of the attempt repeated (and there is one)."""
    transient = [f for f in failures if f.is_root and f.failure_class is FailureClass.TRANSIENT]
    return bool(transient) and all(f.unique_id in repeated for f in transient)
