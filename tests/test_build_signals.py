"""SIGTERM and SIGINT to a running `sluice build`, each at every phase: starting (reading the
project), dbt connecting, dbt running a query, waiting between attempts, dbt running a retry,
finishing (sending the alerts). Real processes (the `sluice` command, dbt under it) and the real
PostgreSQL test server.

After every signal: `sluice build` exits 143 (SIGTERM) or 130 (SIGINT) with one line on stderr
and no traceback; no dbt process is left; no query of the build is left running on the server;
`target/sluice/` holds this run's build.json (status `interrupted`), alerts.json and metrics,
not the previous run's.

The tests wait for each phase by watching the server (pg_stat_activity), the build's own
`build.json` (its `phase` while it runs) or a listening socket; the waits are bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dbt_harness import PG_DBNAME, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER, postgres_available

DEADLINE = 180.0  # seconds: the longest a phase may take to come on this (shared, slow) machine

# The first jitter draw of a generator seeded with 0 is 0.84: with --base-delay 600 the build
# waits about 8 minutes before its first retry, long enough to be interrupted in that wait.
LAUNCHER = """
import sys
import sluice.retry.backoff as backoff
backoff._RANDOM.seed(0)
from sluice.cli import main
sys.exit(main(sys.argv[1:]))
"""

PROJECT = """
name: signals
version: "1.0"
config-version: 2
profile: signals
model-paths: ["models"]
test-paths: ["data_tests"]
"""

# `slow` runs a 10-minute query; with FAIL_FIRST its first execution hits a real statement
# timeout instead (a transient failure), so the build retries it.
SLOW_MODEL = """
{{ config(materialized='table') }}
{% set first = false %}
{% if execute and var('fail_first', false) %}
  {% set n = run_query("select nextval('" ~ target.schema ~ ".calls')").columns[0].values()[0] %}
  {% set first = n == 1 %}
  {% do run_query("set statement_timeout = " ~ (300 if first else 0)) %}
{% endif %}
select 1 as x, length(pg_sleep({{ 2 if first else 600 }})::text) as slept
"""


def pg_connect():
    import psycopg2

    conn = psycopg2.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_DBNAME
    )
    conn.autocommit = True
    return conn


def pg_execute(sql: str) -> list[tuple]:
    conn = pg_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@pytest.fixture
def shared_pg() -> None:
    reason = postgres_available()
    if reason is not None:
        pytest.fail(reason)


@dataclass
class Build:
    root: Path
    schema: str
    process: subprocess.Popen[bytes] | None = None
    err: str | None = None

    @property
    def sluice(self) -> Path:
        return self.root / "target" / "sluice"

    def write_profile(self, port: int = PG_PORT) -> None:
        (self.root / "profiles.yml").write_text(
            "signals:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n"
            f"      host: {PG_HOST}\n      port: {port}\n      user: {PG_USER}\n"
            f"      password: {PG_PASSWORD}\n      dbname: {PG_DBNAME}\n"
            f"      schema: {self.schema}\n      threads: 2\n      connect_timeout: 120\n"
        )

    def start(self, *args: str, port: int = PG_PORT, env: dict[str, str] | None = None) -> None:
        self.write_profile(port)
        environ = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
        for name in [n for n in environ if n.startswith("SLUICE_")]:
            del environ[name]
        environ.update(env or {})
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                LAUNCHER,
                "build",
                "--project-dir",
                str(self.root),
                "--no-report",
                "--dbt-log",
                "--profiles-dir",
                str(self.root),
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environ,
            start_new_session=True,  # its own group, as a scheduler or a terminal would start it
        )

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            assert self.process is not None and self.process.poll() is None, (
                f"sluice build ended before {what}: {self.stderr()}"
            )
            assert time.monotonic() < deadline, f"never saw {what}"
            time.sleep(0.05)  # polling for the condition, bounded by the deadline

    def stderr(self) -> str:
        assert self.process is not None and self.process.stderr is not None
        if self.process.poll() is None:
            return ""
        if self.err is None:
            self.err = self.process.stderr.read().decode(errors="replace")
        return self.err

    def record(self) -> dict:
        return json.loads((self.sluice / "build.json").read_text())

    def phase(self) -> str:
        try:
            data = self.record()
        except (OSError, ValueError):
            return ""
        return str(data.get("phase", "")) if data.get("status") == "running" else ""

    def running_queries(self) -> int:
        # active only: the backend of an earlier poll can linger, idle, showing this very query
        # (which names the schema and pg_sleep(600) too) until it exits
        rows = pg_execute(
            "select count(*) from pg_stat_activity where pid <> pg_backend_pid() "
            "and state = 'active' and query not like '%pg_stat_activity%' "
            f"and query like '%{self.schema}%' and query like '%pg_sleep(600)%'"
        )
        return int(rows[0][0])

    def dbt_processes(self) -> list[str]:
        """Processes whose command line names this project (dbt runs with --project-dir)."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(self.root) in cmdline:
                found.append(f"{proc.name}: {cmdline}")
        return found


def write_previous_run(root: Path) -> None:
    """A previous run's record, which this run must replace, never sit beside."""
    previous = root / "target" / "sluice"
    previous.mkdir(parents=True)
    (previous / "build.json").write_text(json.dumps({"invocation_id": "previous", "exit_code": 0}))
    (previous / "alerts.json").write_text(json.dumps({"invocation_id": "previous"}))
    (previous / "sluice.prom").write_text("sluice_build_exit_code 0\n")


@pytest.fixture
def project(tmp_path: Path, shared_pg: None) -> Iterator[Build]:
    root = tmp_path / "signals"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(PROJECT)
    (root / "models" / "quick.sql").write_text("select 1 as x\n")
    (root / "models" / "slow.sql").write_text(SLOW_MODEL)
    schema = "sig_" + uuid.uuid4().hex[:10]
    pg_execute(f"create schema {schema}; create sequence {schema}.calls")
    write_previous_run(root)
    build = Build(root, schema)
    yield build
    if build.process is not None and build.process.poll() is None:
        os.killpg(build.process.pid, signal.SIGKILL)
        build.process.wait()
    pg_execute(
        "select pg_terminate_backend(pid) from pg_stat_activity "
        f"where pid <> pg_backend_pid() and query like '%{schema}%'"
    )
    pg_execute(f"drop schema if exists {schema} cascade")


def signal_and_check(
    build: Build, signum: int, *, group: bool, already_sent: bool = False, warehouse: bool = True
) -> dict:
    """Send the signal (unless ``already_sent``), then check what every phase must leave
    behind (``warehouse``: on the server too); returns build.json."""
    assert build.process is not None
    if not already_sent:
        if group:
            os.killpg(build.process.pid, signum)
        else:
            build.process.send_signal(signum)
    code = build.process.wait(timeout=DEADLINE)
    stderr = build.stderr()
    assert code == 128 + signum, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted by" in lines[0], stderr
    assert "Traceback" not in stderr
    # sluice waited for dbt to exit: nothing of the build runs any more
    assert build.dbt_processes() == []
    deadline = time.monotonic() + 30  # the server ends a cancelled backend asynchronously
    while warehouse and build.running_queries() and time.monotonic() < deadline:
        time.sleep(0.05)
    if warehouse:
        assert build.running_queries() == 0, "a query of the build is still running"
    record = build.record()
    assert record["status"] == "interrupted" and record["outcome"] == "interrupted"
    assert record["exit_code"] == 128 + signum
    assert record["invocation_id"] != "previous"
    alerts = json.loads((build.sluice / "alerts.json").read_text())
    assert alerts["invocation_id"] == record["invocation_id"]
    prom = (build.sluice / "sluice.prom").read_text()
    assert f"sluice_build_exit_code {128 + signum}" in prom
    assert f'invocation_id="{record["invocation_id"]}",status="interrupted"' in prom
    return record


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_the_project_file_is_read(tmp_path: Path, signum: int):
    # Starting: sluice reads dbt_project.yml to find its target folder before anything else. A
    # FIFO stands in for a project file on a slow disk: reading it waits for a writer, the test.
    root = tmp_path / "signals"
    root.mkdir()
    os.mkfifo(root / "dbt_project.yml")
    write_previous_run(root)
    build = Build(root, "unused")
    build.start()
    writer: list[int] = []

    def reading() -> bool:
        try:  # opens only once sluice has the file open for reading
            writer.append(os.open(root / "dbt_project.yml", os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            return False
        return True

    try:
        build.wait_for(reading, "sluice reading dbt_project.yml")
        record = signal_and_check(build, signum, group=True, warehouse=False)
    finally:
        for fd in writer:
            os.close(fd)

    assert record["attempts"] == [] and "during starting" in record["notes"][-1]
    assert f"written to {root / 'target' / 'sluice'}" in build.stderr()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("signum", "group"),
    [
        (signal.SIGTERM, True),
        (signal.SIGINT, True),
        (signal.SIGTERM, False),
        (signal.SIGINT, False),
    ],
    ids=["SIGTERM-to-group", "SIGINT-to-group", "SIGTERM", "SIGINT"],
)
def test_signal_while_dbt_runs_a_query(project: Build, signum: int, group: bool):
    project.start("--max-attempts", "3")
    project.wait_for(lambda: project.running_queries() == 1, "the slow query running")

    record = signal_and_check(project, signum, group=group)

    [attempt] = record["attempts"]
    assert attempt["interrupted"] and attempt["returncode"] is None
    assert attempt["kind"] == "build"
    assert "during dbt build (attempt 1)" in record["notes"][-1]
    # dbt wrote what it had done before it stopped: the quick model, kept with the attempt
    kept = json.loads((project.sluice / "attempts" / "1" / "run_results.json").read_text())
    assert {r["unique_id"] for r in kept["results"]} <= {"model.signals.quick"}


BOTH = pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])


@pytest.mark.postgres
@BOTH
def test_signal_while_waiting_between_attempts(project: Build, signum: int):
    project.start(
        "--max-attempts",
        "3",
        "--base-delay",
        "600",
        "--max-delay",
        "600",
        "--vars",
        "{fail_first: true}",
        "--select",
        "slow",
    )
    project.wait_for(lambda: project.phase().startswith("waiting"), "the wait before a retry")

    record = signal_and_check(project, signum, group=True)

    [attempt] = record["attempts"]  # the finished first attempt; no dbt was running
    assert not attempt["interrupted"] and attempt["returncode"] == 1
    assert [f["class"] for f in record["failures"]] == ["transient"]
    assert "during waiting" in record["notes"][-1]


@pytest.mark.postgres
@BOTH
def test_signal_while_dbt_runs_a_retry(project: Build, signum: int):
    project.start("--max-attempts", "3", "--base-delay", "1", "--vars", "{fail_first: true}")
    project.wait_for(lambda: project.running_queries() == 1, "the retry's slow query running")

    record = signal_and_check(project, signum, group=True)

    first, second = record["attempts"]
    assert first["kind"] == "build" and not first["interrupted"]
    assert second["kind"] == "retry" and second["interrupted"]
    assert "during dbt retry (attempt 2)" in record["notes"][-1]


class SilentServer:
    """Accepts TCP connections and never answers: dbt hangs while connecting."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.connected = threading.Event()
        self.clients: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(client)
            self.connected.set()

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.sock.close()


@pytest.mark.postgres
@BOTH
def test_signal_while_dbt_hangs_connecting_kills_it_after_the_stop_timeout(
    project: Build, signum: int
):
    server = SilentServer()
    try:
        # dbt stuck in the warehouse driver does not see SIGINT: after 5 s it is killed
        # (--no-warehouse: the build's own check of the audit trail would connect first)
        project.start(
            "--max-attempts", "3", "--stop-timeout", "5", "--no-warehouse", port=server.port
        )
        project.wait_for(server.connected.is_set, "dbt connecting")

        record = signal_and_check(project, signum, group=True)
    finally:
        server.close()

    [attempt] = record["attempts"]
    assert attempt["interrupted"] and not (project.sluice / "final").exists()


# Used from Python as an orchestrator does: its own SIGTERM handler raises, and the process
# ignores SIGINT (as one started in the background does), which dbt would inherit.
API_LAUNCHER = """
import signal, sys
from pathlib import Path
signal.signal(signal.SIGINT, signal.SIG_IGN)

def stop(signum, frame):
    raise SystemExit(99)

signal.signal(signal.SIGTERM, stop)
import sluice
root = Path(sys.argv[1])
sluice.build(root, ["--profiles-dir", str(root)], report=False, log_dbt_output=True,
             stop_timeout=120)
"""


@pytest.mark.postgres
def test_an_orchestrators_own_handler_stops_dbt_the_same_way(project: Build):
    project.write_profile()
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    project.process = subprocess.Popen(
        [sys.executable, "-c", API_LAUNCHER, str(project.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    project.wait_for(lambda: project.running_queries() == 1, "the slow query running")

    project.process.send_signal(signal.SIGTERM)
    code = project.process.wait(timeout=DEADLINE)

    assert code == 99, project.stderr()
    assert project.dbt_processes() == []
    deadline = time.monotonic() + 30  # the server ends a cancelled backend asynchronously
    while project.running_queries() and time.monotonic() < deadline:
        time.sleep(0.05)
    # dbt got SIGINT although this process ignores it, cancelled its query and exited at once
    assert project.running_queries() == 0
    record = project.record()
    assert record["status"] == "interrupted" and record["exit_code"] == 99
    assert record["attempts"][0]["interrupted"]


class HoldingWebhook:
    """A webhook that takes the alert and answers only when released."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, HTTPServer

        self.received = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.set()
                outer.release.wait(DEADLINE)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.postgres
@BOTH
def test_signal_while_finishing(project: Build, signum: int):
    (project.root / "models" / "broken.sql").write_text("select missing from {{ ref('quick') }}\n")
    webhook = HoldingWebhook()
    try:
        # the webhook comes from the environment; the build ends in an alert for `broken`
        project.start("--select", "quick", "broken", env={"SLUICE_WEBHOOK_URL": webhook.url})
        project.wait_for(webhook.received.is_set, "the alert being sent")
        assert project.process is not None
        os.killpg(project.process.pid, signum)
        webhook.release.set()  # the alert goes out; the build was told to stop meanwhile

        record = signal_and_check(project, signum, group=True, already_sent=True)
    finally:
        webhook.close()

    [attempt] = record["attempts"]
    assert attempt["returncode"] == 1 and not attempt["interrupted"]
    assert "during finishing" in record["notes"][-1]
    assert record["alert_delivery"]["delivered"]  # it did go out before the build stopped


def test_an_interrupt_as_dbts_output_starts_to_be_read_leaves_no_dbt_behind(tmp_path, monkeypatch):
    # The interrupt can land between dbt's start and the wait for it, while the thread that
    # copies dbt's output starts (a signal handler raises there on a loaded machine): dbt is
    # stopped all the same, not left running on its own.
    from sluice.build import Interrupted, dbt_process

    marker = f"sluice-orphan-{uuid.uuid4().hex}"
    fake_dbt = tmp_path / "dbt"
    fake_dbt.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -c "import time; time.sleep(300)" {marker}\n'
    )
    fake_dbt.chmod(0o755)

    def interrupted_start(self: threading.Thread) -> None:
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(dbt_process.threading.Thread, "start", interrupted_start)
    run = dbt_process.subprocess_runner(str(fake_dbt), echo=False, stop_timeout=5)
    with pytest.raises(Interrupted):
        run(["build"], tmp_path / "dbt.log")
    monkeypatch.undo()
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    for pid in left:
        os.kill(int(pid), signal.SIGKILL)
    assert left == []
