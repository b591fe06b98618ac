"""Each node's latest known result across dbt invocations, kept by the sidecar.

dbt's ``run_results.json`` holds only the last invocation: after ``dbt run`` then ``dbt test``
the models' results are gone. The report keeps a small state file (``<target-path>/sluice/
state.json`` by default) with, per node, the latest result it has seen and the invocation it
came from; each report merges the new run results into it. So ``dbt run`` then ``dbt test`` (or
an hourly job and a daily one) give the same picture as one ``dbt build``.

Run results of commands that build nothing (``dbt compile``, ``docs generate``, ``show``,
``ls``, ``parse``, ``run-operation``) are never merged: the earlier state stands.

The file names its version and its project; a file without a version, or of another project,
is refused. Reports sharing one state file (jobs of an orchestrator on one volume) take turns:
each merges its results into the file as it is when it writes, under an exclusive lock on
``<state file>.lock``, and replaces it atomically, so no report loses another's invocation.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import msgspec

from sluice.artifacts.models import AdapterResponse, RunResult, RunResults, Timing
from sluice.errors import InputError

STATE_VERSION: Final = 1
STATE_FILE: Final = "state.json"

# `args.which` of run results written by commands that build or check nothing.
NOT_BUILDS: Final = frozenset(
    {
        "compile",
        "generate",
        "docs",
        "serve",
        "parse",
        "list",
        "ls",
        "show",
        "run-operation",
        "debug",
        "deps",
        "clean",
        # copies relations of another state into this target: nothing of this project is built
        "clone",
    }
)
COMMAND_NAMES: Final = {
    "generate": "dbt docs generate",
    "list": "dbt ls",
    "ls": "dbt ls",
}


def command_name(which: str | None) -> str:
    if not which:
        return "an unknown dbt command"
    return COMMAND_NAMES.get(which, f"dbt {which}")


def is_empty_run(args: Mapping[str, Any]) -> bool:
    """``dbt run --empty`` / ``dbt build --empty``: every model built with no rows (dbt writes
    its flags in ``args``)."""
    return args.get("empty") is True


def is_build(which: str | None, *, empty: bool = False) -> bool:
    """Whether run results of this command say anything about the nodes' data.

    Every run results schema (v1, dbt 0.19, to v6; sluice reads v4 onward) names the command in
    ``args.which``, for every command. Run results without it were not written as dbt writes
    them: what ran is unknown, so they never count as a build. Neither do those of an ``--empty``
    run: its models and tests ran on no rows, and its passes say nothing of the data."""
    return bool(which) and which not in NOT_BUILDS and not empty


def not_counted_because(which: str | None, *, empty: bool = False) -> str:
    """Why run results of this command are not counted, for messages."""
    if not which:
        return (
            "names no dbt command (no args.which, which every dbt command writes), so what ran is "
            "unknown"
        )
    if empty and which not in NOT_BUILDS:
        return f"was written by `{command_name(which)} --empty`, which builds no rows"
    if which == "clone":
        return "was written by `dbt clone`, which copies relations and builds nothing"
    return f"was written by `{command_name(which)}`, which builds nothing"


class NodeResult(msgspec.Struct, frozen=True, forbid_unknown_fields=False, gc=False):
    """A node's latest known result and where it came from (one per node of the project, so,
    like the artifact structs, not tracked by the garbage collector)."""

    status: str
    invocation_id: str
    command: str | None = None
    generated_at: datetime | None = None
    """When dbt wrote the run results holding this result."""
    completed_at: datetime | None = None
    message: str | None = None
    failures: int | None = None
    adapter_code: str | None = None
    rows_affected: int | None = None


class Invocation(msgspec.Struct, frozen=True, forbid_unknown_fields=False, gc=False):
    invocation_id: str
    command: str | None = None
    generated_at: datetime | None = None
    dbt_version: str | None = None
    counted: bool = True


class State(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    version: int
    """Required: a file without one was not written by sluice (or not by a version it knows)."""
    project: str | None = None
    """The dbt project whose results these are (``name`` in dbt_project.yml)."""
    nodes: dict[str, NodeResult] = {}
    invocations: list[Invocation] = []

    @property
    def latest_at(self) -> datetime | None:
        """When the newest counted invocation wrote its results."""
        times = [i.generated_at for i in self.invocations if i.counted and i.generated_at]
        return max(times) if times else None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _completed_at(result: RunResult) -> datetime | None:
    for timing in reversed(result.timing):
        if timing.completed_at is not None:
            return _utc(timing.completed_at)
    return None


def load_state(path: Path, project: str | None = None) -> State | None:
    """The state file, or None when there is none yet; one of another project than
    ``project`` (when given) is refused."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        state = msgspec.json.decode(data, type=State)
    except msgspec.DecodeError as exc:
        raise InputError(
            f"{path}: not a sluice state file ({exc}); delete it to start afresh"
        ) from None
    if state.version != STATE_VERSION:
        raise InputError(
            f"{path}: state version {state.version} is unknown to this sluice version "
            f"(reads {STATE_VERSION}); upgrade dbt-sluice or delete the file"
        )
    if project is not None and state.project is not None and state.project != project:
        raise InputError(
            f"{path}: the state of project {state.project!r}, not of {project!r}; give each "
            "project its own state file (--state-path)"
        )
    return state


@contextmanager
def state_lock(path: Path) -> Iterator[None]:
    """Hold the exclusive lock of the state file at ``path`` (``<path>.lock``) for a block."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        why = exc.strerror or exc
        raise InputError(f"{lock_path}: cannot lock the state file: {why}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def encode_state(state: State) -> bytes:
    return msgspec.json.encode(state)


def merge(previous: State | None, run_results: RunResults, project: str | None) -> State:
    """The previous state with this invocation's results on top (if it built anything).

    A result replaces the node's known one unless that one is newer (a report run again on
    older artifacts never rewinds the state).
    """
    metadata = run_results.metadata
    which = run_results.args.get("which") if isinstance(run_results.args, Mapping) else None
    command = str(which) if which else None
    args = run_results.args if isinstance(run_results.args, Mapping) else {}
    counted = is_build(command, empty=is_empty_run(args))
    invocation_id = metadata.invocation_id or ""
    generated_at = _utc(metadata.generated_at)
    nodes = dict(previous.nodes) if previous is not None else {}
    if counted:
        for result in run_results.results:
            known = nodes.get(result.unique_id)
            if (
                known is not None
                and known.invocation_id != invocation_id
                and known.generated_at is not None
                and generated_at is not None
                and known.generated_at > generated_at
            ):
                continue
            nodes[result.unique_id] = NodeResult(
                status=result.status,
                invocation_id=invocation_id,
                command=command,
                generated_at=generated_at,
                completed_at=_completed_at(result),
                message=result.message,
                failures=result.failures,
                adapter_code=result.adapter_response.code,
                rows_affected=result.adapter_response.rows_affected,
            )
    invocations = [
        i for i in (previous.invocations if previous else []) if i.invocation_id != invocation_id
    ]
    invocations.append(
        Invocation(
            invocation_id=invocation_id,
            command=command,
            generated_at=generated_at,
            dbt_version=metadata.dbt_version,
            counted=counted,
        )
    )
    invocations.sort(key=lambda i: i.generated_at or datetime.min.replace(tzinfo=UTC))
    return State(version=STATE_VERSION, project=project, nodes=nodes, invocations=invocations[-50:])


@dataclass(frozen=True, slots=True)
class Known:
    """The results a report works from: one per node, and where each came from."""

    results: RunResults
    """A run results view holding each node's latest result within the horizon."""
    provenance: Mapping[str, NodeResult]
    expired: tuple[str, ...]
    """Nodes whose last result is older than the horizon (they count as unknown)."""


def known_results(
    state: State,
    template: RunResults,
    *,
    horizon: timedelta,
    nodes: Iterable[str] | None = None,
) -> Known:
    """Each node's latest result no older than ``horizon`` before the newest invocation.

    ``template`` gives the metadata of the view (the invocation being reported); ``nodes``
    limits it to the nodes of the current manifest.
    """
    newest = state.latest_at
    cutoff = newest - horizon if newest is not None else None
    wanted = set(nodes) if nodes is not None else None
    results: list[RunResult] = []
    provenance: dict[str, NodeResult] = {}
    expired: list[str] = []
    for unique_id, known in sorted(state.nodes.items()):
        if wanted is not None and unique_id not in wanted:
            continue
        at = known.generated_at or known.completed_at
        if cutoff is not None and at is not None and at < cutoff:
            expired.append(unique_id)
            continue
        provenance[unique_id] = known
        timing = (Timing(name="execute", completed_at=known.completed_at),)
        results.append(
            RunResult(
                unique_id=unique_id,
                status=known.status,
                message=known.message,
                failures=known.failures,
                timing=timing if known.completed_at else (),
                adapter_response=AdapterResponse(
                    code=known.adapter_code, rows_affected=known.rows_affected
                ),
            )
        )
    view = RunResults(
        metadata=template.metadata,
        results=results,
        elapsed_time=template.elapsed_time,
        args=template.args,
    )
    return Known(view, provenance, tuple(expired))


def state_document(state: State) -> dict[str, Any]:
    return msgspec.to_builtins(state)  # type: ignore[no-any-return]
