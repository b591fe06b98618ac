"""`sluice build` when the disk under target/ is full: dbt's log, the copy of dbt's artifacts
into attempts/<n>/, alerts.json, and the record itself, each failing with a real or injected
ENOSPC. Every way ends with exit code 5, one line on stderr and no traceback, this run's record
where it can still be written (else a line saying none could be), and no temporary file left;
dbt's output is read to its end however the log fails, so dbt never blocks on a full pipe."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sluice.build.dbt_process import subprocess_runner
from sluice.cli import main

PROJECT = Path(__file__).parent / "projects" / "build_faults"

# A stand-in for a chatty dbt: 8 MiB of output (far more than a pipe holds), then a marker.
CHATTY = """
import signal, sys
signal.alarm(120)  # never outlive the test, whatever happens
line = b"x" * 1023 + b"\\n"
for _ in range(8192):
    sys.stdout.buffer.write(line)
sys.stdout.flush()
open(sys.argv[-1], "w").write("done")
"""


def no_space(path: object = None) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path) if path else None)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "build_faults"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("BUILD_FAULTS_DIR", str(data))
    for name in ("BUILD_FAULTS_DROP_EMAIL", "BUILD_FAULTS_NULL_ID", "SLUICE_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("SLUICE_MAX_ATTEMPTS", "SLUICE_ALERT_MIN_PRIORITY", "SLUICE_BUDGET"):
        monkeypatch.delenv(name, raising=False)
    return project


def sluice_build(project: Path) -> int:
    return main(
        [
            "build",
            "--project-dir",
            str(project),
            "--no-report",
            "--no-warehouse",
            "--dbt-log",
            "--profiles-dir",
            str(project),
            "--max-attempts",
            "1",
        ]
    )


def one_line_no_traceback(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert "No space left on device" in lines[0]
    return lines[0]


def no_temporary_files(project: Path) -> None:
    left = [p for p in (project / "target").rglob("*.tmp")]
    assert left == []


def test_a_log_that_cannot_be_written_never_stops_draining_dbt(tmp_path: Path):
    # /dev/full: every write fails with ENOSPC, as a full disk does
    log = tmp_path / "attempts" / "1" / "dbt.log"
    log.parent.mkdir(parents=True)
    log.symlink_to("/dev/full")
    marker = tmp_path / "done"
    script = tmp_path / "chatty.py"
    script.write_text(CHATTY)
    run = subprocess_runner(sys.executable, echo=False, stop_timeout=5)
    outcome: list[BaseException | int] = []

    def call() -> None:
        try:
            outcome.append(run([str(script), str(marker)], log))
        except BaseException as exc:  # the result under test
            outcome.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(90)
    assert not thread.is_alive(), "dbt blocked on its output: the log's failure stopped the pump"
    assert marker.read_text() == "done"  # dbt wrote all its output and ended
    [raised] = outcome
    assert isinstance(raised, OSError) and raised.errno == errno.ENOSPC


def test_copying_dbts_artifacts_fails_exit_5_with_this_runs_record(
    project: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
):
    import sluice.build.artifacts as artifacts

    def full(source: object, destination: object) -> None:
        raise no_space(destination)

    monkeypatch.setattr(artifacts.shutil, "copyfile", full)
    code = sluice_build(project)
    _, err = capfd.readouterr()

    assert code == 5
    line = one_line_no_traceback(err)
    assert "this run's record was written to" in line
    record = json.loads((project / "target" / "sluice" / "build.json").read_text())
    assert record["exit_code"] == 5 and record["outcome"] == "write_failed"
    assert record["status"] != "running"
    assert "No space left on device" in record["notes"][-1]
    no_temporary_files(project)


def test_alerts_json_cannot_be_written_exit_5_with_this_runs_record(
    project: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
):
    import sluice.build.alerts as alerts

    monkeypatch.setenv("BUILD_FAULTS_DROP_EMAIL", "1")  # a failure to alert on

    def full(path: Path, data: object) -> None:
        raise no_space(path)

    monkeypatch.setattr(alerts, "write_json", full)
    code = sluice_build(project)
    _, err = capfd.readouterr()

    assert code == 5
    one_line_no_traceback(err)
    record = json.loads((project / "target" / "sluice" / "build.json").read_text())
    assert record["exit_code"] == 5 and record["status"] != "running"
    no_temporary_files(project)


def test_nothing_can_be_written_exit_5_one_line_and_no_temporary_file(
    project: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
):
    sluice_dir = project / "target" / "sluice"
    write_text = Path.write_text

    def full(self: Path, data: str, *args: object, **kwargs: object) -> int:
        if sluice_dir in self.parents:
            self.touch()  # the file is created, its content does not fit
            raise no_space(self)
        return write_text(self, data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full)
    code = sluice_build(project)
    _, err = capfd.readouterr()

    assert code == 5
    line = one_line_no_traceback(err)
    assert "no record of this run could be written" in line
    no_temporary_files(project)
    assert not (sluice_dir / "build.json").exists()


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs (as root, where mount is permitted), else the test is skipped."""
    mount = tmp_path / "full"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip("a tmpfs cannot be mounted here (not root): the injected ENOSPC tests stand")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize("free_kib", [200, 600])
def test_a_real_full_target_folder_ends_with_exit_5_and_leaves_no_temporary_file(
    project: Path, small_tmpfs: Path, free_kib: int, capfd: pytest.CaptureFixture[str]
):
    (small_tmpfs / "filler").write_bytes(b"\0" * (1024 - free_kib) * 1024)
    code = main(
        [
            "build",
            "--project-dir",
            str(project),
            "--no-report",
            "--no-warehouse",
            "--dbt-log",
            "--profiles-dir",
            str(project),
            "--max-attempts",
            "1",
            "--target-path",
            str(small_tmpfs),
        ]
    )
    _, err = capfd.readouterr()

    assert code == 5, err
    one_line_no_traceback(err)
    assert list(small_tmpfs.rglob("*.tmp")) == []
    record = small_tmpfs / "sluice" / "build.json"
    if record.exists():  # where it fits, it is this run's, finished
        assert json.loads(record.read_text())["exit_code"] == 5


def warehouse_rows(project: Path, sql: str) -> list[tuple[object, ...]]:
    import duckdb

    data = Path(os.environ["BUILD_FAULTS_DIR"]) / "build_faults.duckdb"
    con = duckdb.connect(str(data), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def build_with_warehouse(project: Path, *more: str) -> int:
    return main(
        [
            "build",
            "--project-dir",
            str(project),
            "--dbt-log",
            "--profiles-dir",
            str(project),
            "--max-attempts",
            "1",
            *more,
        ]
    )


def test_a_full_target_folder_still_writes_the_build_record_to_the_warehouse(
    project: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
):
    import sluice.build.artifacts as artifacts

    def full(source: object, destination: object) -> None:
        raise no_space(destination)

    monkeypatch.setattr(artifacts.shutil, "copyfile", full)
    code = build_with_warehouse(project, "--no-report")
    _, err = capfd.readouterr()

    assert code == 5
    one_line_no_traceback(err)
    record = json.loads((project / "target" / "sluice" / "build.json").read_text())
    attempts = warehouse_rows(
        project,
        "select build_id, attempt_number, failure_count from main.sluice_build_attempts",
    )
    assert attempts == [(record["invocation_id"], 1, 0)], record["notes"]


def full_report_folder_ends_the_build_with_exit_5(
    project: Path, report_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code = build_with_warehouse(project, "--report-dir", str(report_dir))
    _, err = capfd.readouterr()

    assert code == 5, err
    line = one_line_no_traceback(err)
    assert "this run's record was written to" in line
    record = json.loads((project / "target" / "sluice" / "build.json").read_text())
    assert record["exit_code"] == 5 and record["outcome"] == "write_failed"
    assert [p.name for p in report_dir.iterdir() if p.name != "filler"] == []  # no temp file
    attempts = warehouse_rows(project, "select build_id from main.sluice_build_attempts")
    assert attempts == [(record["invocation_id"],)]
    # the report wrote nothing to the warehouse: its files come first
    tables = warehouse_rows(
        project,
        "select table_name from information_schema.tables "
        "where table_name in ('sluice_exposure_status', 'sluice_node_status')",
    )
    assert tables == []


def test_a_report_folder_that_cannot_be_written_ends_the_build_with_exit_5(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
):
    real_fdopen = os.fdopen

    class Full:
        """A file whose writes fail as on a full disk."""

        def __init__(self, fd: int, mode: str) -> None:
            self.handle = real_fdopen(fd, mode)

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            raise no_space()

    monkeypatch.setattr("sluice.report.os.fdopen", Full)
    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    full_report_folder_ends_the_build_with_exit_5(project, report_dir, capfd)


def test_a_real_full_report_folder_ends_the_build_with_exit_5(
    project: Path, small_tmpfs: Path, capfd: pytest.CaptureFixture[str]
):
    (small_tmpfs / "filler").write_bytes(b"\0" * (1024 - 8) * 1024)
    full_report_folder_ends_the_build_with_exit_5(project, small_tmpfs, capfd)
