"""One `sluice build` per target folder, and what a `kill -9` of sluice leaves behind. Real
processes (the `sluice` command, dbt under it) and the real PostgreSQL test server, with the
slow model of tests/test_build_signals.py (a 10-minute query).

- A second build on the same target folder is refused (exit 4) naming the holder's pid and
  start time, and the holder's record is untouched; with `--wait-for-lock` it waits, and runs
  once the holder has ended.
- After `kill -9` of sluice, its dbt runs on as an orphan: the next build says the previous one
  was killed, and refuses (exit 4, naming dbt's pid) or waits for that dbt, never running a dbt
  beside it; once the orphan has ended, the next build runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from tests.test_build_signals import DEADLINE, Build, pg_execute, project, shared_pg

__all__ = ["project", "shared_pg"]

pytestmark = pytest.mark.postgres


def ended(build: Build) -> tuple[int, str]:
    assert build.process is not None
    code = build.process.wait(timeout=DEADLINE)
    return code, build.stderr()


def stop(build: Build) -> None:
    """SIGTERM to a running build; it stops its dbt and exits 143."""
    assert build.process is not None
    build.process.send_signal(signal.SIGTERM)
    code, err = ended(build)
    assert code == 143, err


def kill_orphan(dbt_pid: int, schema: str) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(dbt_pid, signal.SIGKILL)
    pg_execute(
        "select pg_terminate_backend(pid) from pg_stat_activity "
        f"where pid <> pg_backend_pid() and query like '%{schema}%'"
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def test_second_build_on_one_target_is_refused_naming_the_holder(project: Build):
    project.start("--max-attempts", "1")
    project.wait_for(lambda: project.running_queries() == 1, "the slow query running")
    holder = project.record()
    second = Build(project.root, project.schema)
    try:
        second.start("--max-attempts", "1")
        code, err = ended(second)

        assert code == 4, err
        assert project.process is not None
        assert f"pid {project.process.pid}" in err and "started" in err
        assert "--wait-for-lock" in err and "Traceback" not in err
        # the holder's record and its dbt are untouched; no second dbt ran
        assert project.record()["invocation_id"] == holder["invocation_id"]
        assert project.record()["status"] == "running"
        assert project.running_queries() == 1
    finally:
        stop(project)


def test_second_build_waits_for_the_lock_then_runs(project: Build):
    project.start("--max-attempts", "1")
    project.wait_for(lambda: project.running_queries() == 1, "the slow query running")
    first = project.record()["invocation_id"]
    second = Build(project.root, project.schema)
    second.start("--max-attempts", "1", "--wait-for-lock", str(DEADLINE))
    try:
        time.sleep(1.0)  # the second build is waiting, not running dbt
        assert second.process is not None and second.process.poll() is None
        assert project.running_queries() == 1
        assert project.record()["invocation_id"] == first
        stop(project)
        second.wait_for(lambda: second.running_queries() == 1, "the second build's query")
        assert second.record()["invocation_id"] != first
    finally:
        stop(second)
    assert "waiting up to" in second.stderr()


def test_after_kill_9_the_orphan_dbt_is_refused_then_the_next_build_runs(project: Build):
    project.start("--max-attempts", "1")
    project.wait_for(lambda: project.running_queries() == 1, "the slow query running")
    assert project.process is not None
    killed_pid = project.process.pid
    project.wait_for(lambda: project.record().get("dbt_pid") is not None, "dbt's pid recorded")
    dbt_pid = project.record()["dbt_pid"]
    project.process.kill()  # kill -9 of sluice alone: its dbt runs on in its own session
    project.process.wait()
    try:
        assert alive(dbt_pid)
        second = Build(project.root, project.schema)
        second.start("--max-attempts", "1")
        code, err = ended(second)

        assert code == 4, err
        assert f"pid {killed_pid}" in err and "killed" in err
        assert f"dbt (pid {dbt_pid})" in err and "Traceback" not in err
        assert project.running_queries() == 1  # the orphan alone: no second dbt collided
        assert project.record()["status"] == "running"  # left as the killed build wrote it

        # waiting: the orphan ends while the next build waits for it, which then runs
        third = Build(project.root, project.schema)
        third.start("--max-attempts", "1", "--wait-for-lock", str(DEADLINE))
        third.wait_for(lambda: third.process is not None, "the third build")
        time.sleep(1.0)
        assert third.process is not None and third.process.poll() is None
        kill_orphan(dbt_pid, project.schema)
        third.wait_for(
            lambda: (
                third.record().get("status") == "running"
                and third.record().get("pid") == third.process.pid
            ),  # type: ignore[union-attr]
            "the third build running",
        )
        stop(third)
        err = third.stderr()
        assert f"previous sluice build (pid {killed_pid}" in err
        assert f"waiting up to {DEADLINE:g} s for dbt (pid {dbt_pid})" in err
        notes = third.record()["notes"]
        assert any(f"previous sluice build (pid {killed_pid}" in note for note in notes)
    finally:
        kill_orphan(dbt_pid, project.schema)
