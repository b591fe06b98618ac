"""`sluice build` against real dbt and DuckDB, with real faults.

The transient fault is DuckDB's own file lock: a helper process holds `lock.duckdb` and the
model `locked_orders` attaches it. The injected sleeper releases the lock (and waits for the
holder to exit) when the build asks to wait before a given retry, so nothing here sleeps or races.
The structural fault is a dropped column (`BUILD_FAULTS_DROP_EMAIL=1`).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from sluice.build import BuildResult, build
from sluice.classify import FailureClass
from sluice.cli import main

PROJECT = Path(__file__).parent / "projects" / "build_faults"
LOCKED = "model.build_faults.locked_orders"
DOWNSTREAM = "model.build_faults.order_totals"
EMAILS = "model.build_faults.customer_emails"


@dataclass
class Env:
    project: Path
    data: Path
    sleeps: list[float] = field(default_factory=list)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    project = tmp_path / "build_faults"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("BUILD_FAULTS_DIR", str(data))
    monkeypatch.delenv("BUILD_FAULTS_DROP_EMAIL", raising=False)
    monkeypatch.delenv("BUILD_FAULTS_NULL_ID", raising=False)
    for name in (
        "SLUICE_MAX_ATTEMPTS",
        "SLUICE_BASE_DELAY",
        "SLUICE_MAX_DELAY",
        "SLUICE_BUDGET",
        "SLUICE_WEBHOOK_URL",
        "SLUICE_ALERT_MIN_PRIORITY",
    ):
        monkeypatch.delenv(name, raising=False)
    return Env(project, data)


class LockHolder:
    """Another process holding DuckDB's lock on a database file until released."""

    def __init__(self, database: Path) -> None:
        self.marker = database.with_suffix(".release")
        self.process = subprocess.Popen(
            [sys.executable, str(PROJECT / "hold_lock.py"), str(database), str(self.marker)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.marker.touch()
        self.process.wait(timeout=60)


@pytest.fixture
def lock(env: Env) -> Iterator[LockHolder]:
    holder = LockHolder(env.data / "lock.duckdb")
    yield holder
    holder.release()


def sleeper_releasing(env: Env, lock: LockHolder | None, on_wait: int | None):
    """A sleeper that records the delays and releases the lock on the `on_wait`-th wait."""

    def sleep(seconds: float) -> None:
        env.sleeps.append(seconds)
        if lock is not None and len(env.sleeps) == on_wait:
            lock.release()

    return sleep


def run(env: Env, sleep, **kwargs) -> BuildResult:
    kwargs.setdefault("report", False)
    kwargs.setdefault("uniform", lambda: 0.5)
    return build(
        env.project,
        ["--profiles-dir", str(env.project)],
        sleeper=sleep,
        log_dbt_output=True,
        **kwargs,
    )


def statuses(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text())
    return {r["unique_id"]: r["status"] for r in data["results"]}


def test_transient_lock_clears_after_three_attempts_and_exits_0(env: Env, lock: LockHolder):
    result = run(
        env,
        sleeper_releasing(env, lock, on_wait=2),
        max_attempts=4,
        base_delay=2,
        max_delay=3,
        report=True,
        repeat_limit=3,  # the same holder's lock fails twice alike: allow a third attempt
    )

    assert result.exit_code == 0, result.notes
    assert [a.kind for a in result.attempts] == ["build", "retry", "retry"]
    first = {f.unique_id: f for f in result.attempts[0].failures}
    assert first[LOCKED].failure_class is FailureClass.TRANSIENT
    assert first[DOWNSTREAM].failure_class is FailureClass.DEPENDENCY_FAILED
    assert first[DOWNSTREAM].root_causes == (LOCKED,)
    # full jitter with the injected uniform 0.5: half of min(cap, base * 2**(n-1))
    assert env.sleeps == [1.0, 1.5]
    assert result.failures == ()
    sluice_dir = env.project / "target" / "sluice"
    for n in (1, 2, 3):
        assert (sluice_dir / "attempts" / str(n) / "run_results.json").exists()
    # only the failed and skipped nodes were rerun
    assert set(statuses(sluice_dir / "attempts" / "2" / "run_results.json")) <= {
        LOCKED,
        DOWNSTREAM,
        "exposure.build_faults.finance_dashboard",
    }
    merged = statuses(sluice_dir / "final" / "run_results.json")
    assert merged[LOCKED] == "success" and merged[DOWNSTREAM] == "success"
    assert merged["model.build_faults.customers"] == "success"
    prom = (sluice_dir / "sluice.prom").read_text()
    assert "sluice_build_retries 2" in prom
    assert 'sluice_build_failures_seen{class="transient"} 2' in prom
    assert "sluice_build_exit_code 0" in prom
    assert result.report.generated or result.report.note  # produced, or skipped with a note


def test_structural_failure_is_not_retried_and_is_escalated_to_its_owner(env: Env, monkeypatch):
    monkeypatch.setenv("BUILD_FAULTS_DROP_EMAIL", "1")
    received: list[dict] = []
    with webhook_server(received) as url:
        monkeypatch.setenv("SLUICE_WEBHOOK_URL", url)
        result = run(env, sleeper_releasing(env, None, None), max_attempts=3)

    assert result.exit_code == 1
    assert len(result.attempts) == 1 and env.sleeps == []
    assert result.stopped_because == "nothing_to_retry"
    [root] = result.root_failures
    assert root.unique_id == EMAILS
    assert root.failure_class is FailureClass.SCHEMA_CHANGE
    [escalation] = result.escalations
    assert escalation.owner == "marketing-data@example.com"
    assert escalation.alert and escalation.priority == "P3"
    assert result.alert_delivery.delivered
    [payload] = received
    assert set(payload) == {"text", "blocks"}
    assert "customer_emails" in json.dumps(payload["blocks"])
    assert "marketing-data@example.com" in json.dumps(payload["blocks"])
    assert url not in (env.project / "target" / "sluice" / "build.json").read_text()


def test_failed_data_test_holds_downstream_and_is_not_retried(env: Env, monkeypatch):
    monkeypatch.setenv("BUILD_FAULTS_NULL_ID", "1")
    result = run(env, sleeper_releasing(env, None, None), max_attempts=3)

    assert result.exit_code == 1 and len(result.attempts) == 1
    [root] = result.root_failures
    assert root.unique_id.startswith("test.build_faults.not_null_customers_id")
    assert root.failure_class is FailureClass.DATA_QUALITY and root.status == "fail"
    skipped = {f.unique_id: f for f in result.failures if not f.is_root}
    assert skipped[EMAILS].root_causes == (root.unique_id,)
    [escalation] = result.escalations
    assert escalation.owner == "crm-team@example.com"  # the tested model's meta.sluice.owner
    assert escalation.exposures == ("exposure.build_faults.newsletter",)
    assert escalation.action == "hold_and_escalate"
    assert result.exposure_statuses["exposure.build_faults.newsletter"] == "blocked"


GATED = """
models:
  - name: payments
    config:
      materialized: sluice
      meta:
        sluice:
          key: payment_id
          owner: payments-team@example.com
          gate: {critical: 0}
    columns:
      - name: customer_id
        data_tests:
          - sluice.sluice_not_null:
              name: payments_customer_required
              arguments: {sluice_severity: critical}
exposures:
  - name: cash_report
    type: dashboard
    owner: {email: treasury@example.com}
    config: {meta: {criticality: high}}
    depends_on: [ref('payments_daily')]
"""


def test_gate_hold_of_a_sluice_model_is_data_quality(env: Env):
    repo = Path(__file__).resolve().parents[1]
    (env.project / "packages.yml").write_text(f"packages:\n  - local: {repo}\n")
    (env.project / "seeds" / "raw_payments.csv").write_text(
        "payment_id,customer_id,amount\n1,1,10\n2,,20\n3,2,30\n"
    )
    (env.project / "models" / "payments.sql").write_text("select * from {{ ref('raw_payments') }}")
    (env.project / "models" / "payments_daily.sql").write_text(
        "select sum(amount) as amount from {{ ref('payments') }}"
    )
    (env.project / "models" / "_gated.yml").write_text(GATED)
    deps = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "deps",
            "--project-dir",
            str(env.project),
            "--profiles-dir",
            str(env.project),
        ],
        capture_output=True,
        text=True,
    )
    assert deps.returncode == 0, deps.stdout

    result = run(env, sleeper_releasing(env, None, None), max_attempts=3)

    assert result.exit_code == 1 and len(result.attempts) == 1
    [root] = result.root_failures
    assert root.unique_id == "model.build_faults.payments"
    assert root.failure_class is FailureClass.DATA_QUALITY and root.gate_held
    [escalation] = result.escalations
    assert escalation.owner == "payments-team@example.com"
    assert escalation.severity == "critical" and escalation.criticality == "high"
    assert escalation.priority == "P1"
    assert escalation.exposures == ("exposure.build_faults.cash_report",)
    assert result.exposure_statuses["exposure.build_faults.cash_report"] == "stale"
    prom = (env.project / "target" / "sluice" / "sluice.prom").read_text()
    assert "sluice_gates_held 1" in prom
    assert 'sluice_rows_quarantined{class="missing_required_field",severity="critical"} 1' in prom


def test_mixed_failures_rerun_only_the_transient_part(env: Env, lock: LockHolder, monkeypatch):
    monkeypatch.setenv("BUILD_FAULTS_DROP_EMAIL", "1")
    result = run(env, sleeper_releasing(env, lock, on_wait=1), max_attempts=3)

    assert [a.kind for a in result.attempts] == ["build", "rerun_selected"]
    second = result.attempts[1]
    assert set(second.rerun) == {LOCKED, DOWNSTREAM, "exposure.build_faults.finance_dashboard"}
    select = list(second.dbt_args[second.dbt_args.index("--select") + 1 :])
    assert select == [
        "exposure:finance_dashboard",
        "fqn:build_faults.locked_orders",
        "fqn:build_faults.order_totals",
    ]
    rerun = statuses(env.project / "target" / "sluice" / "attempts" / "2" / "run_results.json")
    assert EMAILS not in rerun
    assert rerun[LOCKED] == "success" and rerun[DOWNSTREAM] == "success"
    # the structural failure remains, so publication is held: exit 1, no further retries
    assert result.exit_code == 1
    assert [f.unique_id for f in result.root_failures] == [EMAILS]
    # the merged view: what the rerun fixed is no longer failed, exposures included
    assert {f.unique_id for f in result.failures} == {EMAILS, "exposure.build_faults.newsletter"}
    assert result.exposure_statuses["exposure.build_faults.finance_dashboard"] == "healthy"
    assert result.stopped_because == "nothing_to_retry"


def test_failure_that_stays_transient_exits_3_when_the_budget_is_spent(env: Env, lock: LockHolder):
    now = [0.0]

    def sleep(seconds: float) -> None:  # a fake clock: only waiting takes time
        env.sleeps.append(seconds)
        now[0] += seconds

    result = run(
        env,
        sleep,
        clock=lambda: now[0],
        uniform=lambda: 1.0,
        max_attempts=10,
        base_delay=10,
        max_delay=1000,
        budget=25,
        repeat_limit=0,  # the lock stays with the same holder: only the budget stops it
    )

    # waits of 10 then 20 s: the second would end at 30 s, past the 25 s budget
    assert env.sleeps == [10.0]
    assert len(result.attempts) == 2
    assert result.stopped_because == "budget"
    assert result.exit_code == 3 and result.outcome == "transient"
    assert {f.effective_class for f in result.failures} == {FailureClass.TRANSIENT}
    assert (
        "sluice_build_exit_code 3"
        in (env.project / "target" / "sluice" / "sluice.prom").read_text()
    )


def test_webhook_down_does_not_change_the_result_and_is_recorded(
    env: Env, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("BUILD_FAULTS_DROP_EMAIL", "1")
    url = f"http://127.0.0.1:{refused_port()}/hooks/secret-token"
    monkeypatch.setenv("SLUICE_WEBHOOK_URL", url)

    code = main(
        [
            "build",
            "--project-dir",
            str(env.project),
            "--no-report",
            "--dbt-log",
            "--profiles-dir",
            str(env.project),
            "--max-attempts",
            "1",
        ]
    )

    assert code == 1  # the same exit code as with a working webhook
    sluice_dir = env.project / "target" / "sluice"
    alerts = json.loads((sluice_dir / "alerts.json").read_text())
    assert alerts["delivery"]["attempted"] and not alerts["delivery"]["delivered"]
    assert "refused" in alerts["delivery"]["error"].lower()
    build_json = json.loads((sluice_dir / "build.json").read_text())
    assert build_json["alert_delivery"]["delivered"] is False
    assert "sluice_alert_delivery_failures 1" in (sluice_dir / "sluice.prom").read_text()
    out, err = capfd.readouterr()
    assert "alert delivery failed" in err
    for text in (out, err, *(p.read_text() for p in sluice_dir.glob("*.*") if p.is_file())):
        assert "secret-token" not in text


def test_usage_error_exits_2(env: Env, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("SLUICE_MAX_ATTEMPTS", "many")
    assert main(["build", "--project-dir", str(env.project)]) == 2
    assert "SLUICE_MAX_ATTEMPTS" in capsys.readouterr().err
    assert main(["build", "--project-dir", str(env.project / "nowhere")]) == 2


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class webhook_server:
    """A local webhook on 127.0.0.1 that records the JSON it receives."""

    def __init__(self, received: list[dict], status: int = 200) -> None:
        outer = self
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                outer.received.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
