"""One ``sluice build`` per target folder at a time, and what a killed build left running.

Owns ``target/sluice/build.lock``: an advisory lock (``fcntl.flock``) held for the whole build,
the file naming its holder (pid, start time, invocation). The kernel releases it when the
holder exits, however it exits (``kill -9`` included), so a lock is never left stale. A build
that finds the lock taken waits up to ``wait`` seconds, then refuses (:class:`BuildBusy`,
exit code 4) naming the holder.

Once the lock is taken, the previous run's ``build.json`` is read: a record left ``running``
by a sluice process that no longer exists is said so, and the dbt it had started (its pid is
in that record), if still running as an orphan, is waited for like a holder of the lock, then
refused: a new dbt never runs beside it on the same target folder and warehouse relations.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sluice.build.layout import sluice_dir
from sluice.build.result import BuildBusy

LOCK_NAME = "build.lock"
_POLL = 0.2
"""Seconds between two looks at the lock (or at an orphan dbt) while waiting."""


@dataclass(slots=True)
class BuildLock:
    """The lock of one target folder, held until :meth:`release`."""

    path: Path
    handle: IO[str] | None

    def release(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.handle, fcntl.LOCK_UN)
            with contextlib.suppress(OSError):
                self.handle.close()
            self.handle = None


def _when(started_at: Any) -> str:
    try:
        return datetime.fromtimestamp(float(started_at), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return "at an unknown time"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def alive(pid: Any) -> bool:
    """Whether a process with this pid exists (a zombie counts as gone)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
    return True


def _orphan_dbt(record: dict[str, Any]) -> int | None:
    """The dbt a dead sluice build left running: its pid, when that process still leads the
    session sluice started it in (a pid reused by an unrelated process does not)."""
    pid = record.get("dbt_pid")
    if record.get("status") != "running" or not alive(pid) or alive(record.get("pid")):
        return None
    assert isinstance(pid, int)
    try:
        return pid if os.getsid(pid) == pid else None
    except OSError:
        return None


def _holder(path: Path) -> str:
    holder = _read_json(path)
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return "another sluice build (its pid is not recorded yet)"
    return f"another sluice build, pid {pid}, started {_when(holder.get('started_at'))}"


def _try_lock(path: Path) -> IO[str] | None:
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    except BaseException:
        handle.close()
        raise
    return handle


def _wait_hint(wait: float) -> str:
    if wait > 0:
        return f"it was still running after waiting {wait:g} s"
    return "wait for it with --wait-for-lock SECONDS, or run this build with another --target-path"


def acquire(
    target_dir: Path,
    *,
    wait: float,
    invocation_id: str,
    started_at: float,
    notify: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    sleeper: Callable[[float], None] = time.sleep,
) -> BuildLock:
    """Take the target folder's lock, waiting up to ``wait`` seconds for another build (or the
    orphan dbt of a killed one) to end; :class:`BuildBusy` when it does not. ``notify`` is told,
    once, what a killed build left behind."""
    folder = sluice_dir(target_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    deadline = clock() + max(0.0, wait)
    told: set[str] = set()

    def tell(message: str) -> None:
        if message not in told:
            told.add(message)
            notify(message)

    while True:
        handle = _try_lock(path)
        if handle is None:
            if clock() >= deadline:
                raise BuildBusy(f"{_holder(path)} holds {path}: {_wait_hint(wait)}")
            tell(f"waiting up to {wait:g} s for {_holder(path)} ({path})")
        else:
            lock = BuildLock(path, handle)
            try:
                orphan = _after_killed_build(folder, tell)
            except BaseException:
                lock.release()
                raise
            if orphan is None:
                _write_holder(handle, invocation_id, started_at)
                return lock
            lock.release()
            if clock() >= deadline:
                raise BuildBusy(
                    f"dbt (pid {orphan}) started by a sluice build that was killed is still "
                    f"running on {target_dir}: {_wait_hint(wait)}, or stop it "
                    f"(kill -INT -{orphan}: dbt cancels its queries)"
                )
            tell(f"waiting up to {wait:g} s for dbt (pid {orphan}) of a killed sluice build")
        sleeper(_POLL)


def _after_killed_build(folder: Path, tell: Callable[[str], None]) -> int | None:
    """What the previous run's record says was left behind: said through ``tell`` when that
    run was killed; the pid of its dbt if that is still running."""
    record = _read_json(folder / "build.json")
    if record.get("status") != "running" or alive(record.get("pid")):
        return None
    tell(
        f"the previous sluice build (pid {record.get('pid')}, started "
        f"{_when(record.get('started_at'))}) ended without finishing its record: it was "
        "killed or its machine stopped; its record is replaced by this run's"
    )
    return _orphan_dbt(record)


def _write_holder(handle: IO[str], invocation_id: str, started_at: float) -> None:
    """Name the holder in the lock file (best effort: a full disk must not stop the build)."""
    with contextlib.suppress(OSError):
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {"pid": os.getpid(), "started_at": started_at, "invocation_id": invocation_id}
            )
        )
        handle.flush()
