"""Nothing of an earlier run can be read as this run's, and what a build says is what happened:
an interrupted (or `--no-report`) build removes the previous run's report files; "dbt was
stopped" is said only when dbt was running; the webhook payload of a failure that repeated says
how many times."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest
import sluice.build.run as build_run
from sluice.build import Interrupted
from sluice.cli import main
from sluice.destinations import REPORT_FILES
from sluice.escalate.core import Escalation
from sluice.escalate.webhook import build_payload

PROJECT = Path(__file__).parent / "projects" / "build_faults"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "build_faults"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("BUILD_FAULTS_DIR", str(data))
    for name in ("BUILD_FAULTS_DROP_EMAIL", "BUILD_FAULTS_NULL_ID", "SLUICE_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    return project


def previous_report(project: Path) -> list[Path]:
    folder = project / "target" / "sluice"
    folder.mkdir(parents=True)
    files = [folder / name for name in REPORT_FILES.values()]
    for path in files:
        path.write_text("the previous run's report")
    return files


def sluice_build(project: Path, *more: str) -> int:
    return main(
        [
            "build",
            "--project-dir",
            str(project),
            "--no-warehouse",
            "--dbt-log",
            "--profiles-dir",
            str(project),
            "--max-attempts",
            "1",
            *more,
        ]
    )


def interrupting_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt is "running" when SIGTERM arrives."""

    def runner(executable: str, **kwargs: object):
        def run(args: object, log_path: Path) -> int:
            raise Interrupted(signal.SIGTERM)

        return run

    monkeypatch.setattr(build_run, "subprocess_runner", runner)


@pytest.mark.parametrize("more", [(), ("--no-report",)], ids=["report", "no-report"])
def test_an_interrupted_build_removes_the_previous_runs_report(
    project: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], more
):
    files = previous_report(project)
    interrupting_runner(monkeypatch)

    assert sluice_build(project, *more) == 143
    record = json.loads((project / "target" / "sluice" / "build.json").read_text())
    assert record["status"] == "interrupted" and not record["report"]["generated"]
    assert [path for path in files if path.exists()] == []
    assert "dbt was stopped" in capfd.readouterr().err


def test_dbt_was_stopped_is_said_only_when_dbt_was_running(
    project: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
):
    def finish(*args: object, **kwargs: object):
        raise Interrupted(signal.SIGTERM)  # after dbt ended: while the alerts go out

    monkeypatch.setattr(build_run, "finish", finish)
    assert sluice_build(project, "--no-report") == 143
    err = capfd.readouterr().err
    assert "interrupted by SIGTERM" in err
    assert "dbt was stopped" not in err


def escalation(repeated: int) -> Escalation:
    return Escalation(
        unique_id="model.p.orders",
        name="orders",
        failure_class="transient",
        status="error",
        reason="statement timeout",
        message="canceling statement due to statement timeout",
        owner="data-eng",
        owner_basis="meta.owner",
        severity="high",
        criticality=None,
        priority="P2",
        alert=True,
        exposures=(),
        blocked=(),
        action="escalate_repeated",
        rule="repeated",
        repeated=repeated,
    )


def test_the_payload_of_a_repeated_failure_says_how_many_times():
    payload = build_payload([escalation(3)], project="p", exit_code=3, attempts=3)
    assert "3 consecutive attempts" in payload["text"]
    assert "failed the same way on 3 consecutive attempts" in json.dumps(payload)
    once = build_payload([escalation(0)], project="p", exit_code=1, attempts=1)
    assert "consecutive" not in json.dumps(once)


def test_a_dangling_sources_json_link_is_refused_not_read_as_absent(project: Path):
    target = project / "target"
    target.mkdir()
    (target / "sources.json").symlink_to(project / "gone" / "sources.json")

    code = sluice_build(project)

    record = json.loads((target / "sluice" / "build.json").read_text())
    assert code == 0, record["notes"]
    refused = [n for n in record["notes"] if n.startswith("report refused")]
    assert refused and "a symbolic link to" in refused[0], record["notes"]
    assert "gone/sources.json" in refused[0]
    assert not (target / "sluice" / "report.html").exists()
