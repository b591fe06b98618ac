"""`sluice build` when dbt fails before its first node: a warehouse that cannot be reached, a
DuckDB file locked by another process, a role that does not exist, a project that does not
compile. Real dbt, a real PostgreSQL server of this module's own (stopped and started by the
tests, on its own port and data folder, so the shared test server is never disturbed) and real
DuckDB locks.

The injected sleeper is the only thing that moves time forward between attempts: it brings the
server back or releases the lock when the build asks to wait before a given retry, so nothing
here sleeps or races.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sluice.build import BuildError, BuildResult, build
from sluice.classify import FailureClass

REPO = Path(__file__).resolve().parents[1]
PG_SH = REPO / "tests" / "pg.sh"
HOLD_LOCK = REPO / "tests" / "projects" / "build_faults" / "hold_lock.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
    return found[-1] if found else None


class OwnPostgres:
    """A throwaway PostgreSQL server for this module: started by tests/pg.sh on its own port
    and data folder; stopped and started again by the tests."""

    def __init__(self) -> None:
        self.port = _free_port()
        # In /tmp itself: pytest's own temporary folders are closed to the postgres user.
        self.data = Path(tempfile.mkdtemp(prefix="sluice-build-pg-"))
        self.env = dict(os.environ, SLUICE_PG_PORT=str(self.port), SLUICE_PG_DATA=str(self.data))

    def _as_pg(self, *command: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True, check=False)

    def start(self) -> None:
        done = subprocess.run(
            ["bash", str(PG_SH), "start"], env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            pytest.fail(f"the test's own PostgreSQL could not start: {done.stdout}{done.stderr}")

    def stop(self) -> None:
        bindir = _pg_bin()
        assert bindir is not None
        done = self._as_pg(str(bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        assert done.returncode == 0, done.stdout + done.stderr

    def is_up(self) -> bool:
        bindir = _pg_bin()
        assert bindir is not None
        done = self._as_pg(str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port))
        return done.returncode == 0

    def destroy(self) -> None:
        subprocess.run(["bash", str(PG_SH), "stop"], env=self.env, capture_output=True)
        shutil.rmtree(self.data, ignore_errors=True)

    def execute(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres"
        )
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()


@pytest.fixture(scope="module")
def own_pg() -> Iterator[OwnPostgres]:
    if _pg_bin() is None:
        pytest.fail(
            "PostgreSQL server binaries not found (apt-get install postgresql-15): the "
            "fault-injection tests start a server of their own"
        )
    server = OwnPostgres()
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def pg(own_pg: OwnPostgres) -> Iterator[OwnPostgres]:
    """The module's server, up at the start and at the end of each test."""
    if not own_pg.is_up():
        own_pg.start()
    yield own_pg
    if not own_pg.is_up():
        own_pg.start()


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    for name in (
        "SLUICE_MAX_ATTEMPTS",
        "SLUICE_BASE_DELAY",
        "SLUICE_MAX_DELAY",
        "SLUICE_BUDGET",
        "SLUICE_REPEAT_LIMIT",
        "SLUICE_WEBHOOK_URL",
        "SLUICE_ALERT_MIN_PRIORITY",
    ):
        monkeypatch.delenv(name, raising=False)


PROJECT = """
name: startup
version: "1.0"
config-version: 2
profile: startup
model-paths: ["models"]
test-paths: ["data_tests"]
"""

# b times out (a real statement timeout) on its first execution only, and succeeds after.
FLAKY_MODEL = """
{{ config(materialized='table') }}
{% if execute %}
  {% set n = run_query("select nextval('" ~ target.schema ~ ".calls')").columns[0].values()[0] %}
  {% do run_query("set statement_timeout = " ~ (300 if n == 1 else 0)) %}
{% else %}{% set n = 0 %}{% endif %}
select {{ n }} as n, length(pg_sleep({{ 2 if n == 1 else 0 }})::text) as slept
"""

EXPOSURES = """
exposures:
  - name: finance_dashboard
    type: dashboard
    owner: {email: finance@example.com}
    depends_on: [ref('b')]
"""


@dataclass
class Project:
    root: Path
    sleeps: list[float] = field(default_factory=list)

    @property
    def sluice(self) -> Path:
        return self.root / "target" / "sluice"

    def build_json(self) -> dict:
        return json.loads((self.sluice / "build.json").read_text())

    def prom(self) -> str:
        return (self.sluice / "sluice.prom").read_text()

    def alerts(self) -> dict:
        return json.loads((self.sluice / "alerts.json").read_text())


def pg_project(
    tmp_path: Path, server: OwnPostgres, *, user: str = "postgres", flaky: bool = False
) -> Project:
    root = tmp_path / "startup"
    (root / "models").mkdir(parents=True)
    schema = "s_" + uuid.uuid4().hex[:10]
    (root / "dbt_project.yml").write_text(PROJECT)
    (root / "profiles.yml").write_text(
        "startup:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n"
        f"      host: 127.0.0.1\n      port: {server.port}\n      user: {user}\n"
        f"      password: x\n      dbname: postgres\n      schema: {schema}\n"
        "      threads: 2\n      connect_timeout: 5\n"
    )
    (root / "models" / "a.sql").write_text("select 1 as id\n")
    (root / "models" / "b.sql").write_text(FLAKY_MODEL if flaky else "select 2 as id\n")
    (root / "models" / "_exposures.yml").write_text(EXPOSURES)
    server.execute(f"create schema {schema}; create sequence {schema}.calls")
    return Project(root)


def duckdb_project(tmp_path: Path) -> Project:
    root = tmp_path / "startup"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(PROJECT)
    (root / "profiles.yml").write_text(
        "startup:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'warehouse.duckdb'}\n      threads: 2\n"
    )
    (root / "models" / "a.sql").write_text("select 1 as id\n")
    return Project(root)


def run(project: Project, sleep=None, *args: str, **kwargs) -> BuildResult:
    kwargs.setdefault("report", False)
    kwargs.setdefault("uniform", lambda: 0.5)
    kwargs.setdefault("base_delay", 1)
    return build(
        project.root,
        ["--profiles-dir", str(project.root), *args],
        sleeper=sleep or project.sleeps.append,
        log_dbt_output=True,
        **kwargs,
    )


def on_wait(project: Project, actions: dict[int, object]):
    """A sleeper that records the delays and runs actions[n]() on the n-th wait."""

    def sleep(seconds: float) -> None:
        project.sleeps.append(seconds)
        action = actions.get(len(project.sleeps))
        if action is not None:
            action()

    return sleep


# --- PostgreSQL --------------------------------------------------------------------------------


def test_postgres_down_at_start_then_back_within_the_budget_exits_0(tmp_path, pg):
    project = pg_project(tmp_path, pg)
    pg.stop()

    result = run(project, on_wait(project, {1: pg.start}), max_attempts=3)

    assert result.exit_code == 0, result.notes
    first, second = result.attempts
    assert (first.kind, second.kind) == ("build", "build")  # the first run again, not dbt retry
    assert second.dbt_args == first.dbt_args
    assert not first.started and second.started
    [refused] = first.failures
    assert refused.resource_type == "invocation"
    assert refused.failure_class is FailureClass.TRANSIENT
    assert "Connection refused" in refused.message
    assert result.failures == ()
    record = project.build_json()
    assert [a["started"] for a in record["attempts"]] == [False, True]
    assert record["invocation_id"] == result.invocation_id
    assert "sluice_build_attempts 2" in project.prom()
    assert "sluice_build_exit_code 0" in project.prom()


def test_postgres_down_for_the_whole_budget_exits_3_and_every_attempt_counts(tmp_path, pg):
    project = pg_project(tmp_path, pg)
    pg.stop()
    now = [0.0]

    def sleep(seconds: float) -> None:  # a fake clock: only waiting takes time
        project.sleeps.append(seconds)
        now[0] += seconds

    result = run(
        project,
        sleep,
        clock=lambda: now[0],
        uniform=lambda: 1.0,
        max_attempts=10,
        base_delay=2,
        budget=5,
    )

    # waits of 2 then 4 s: the second would end at 6 s, past the 5 s budget
    assert project.sleeps == [2.0]
    assert result.exit_code == 3 and result.outcome == "transient"
    assert result.stopped_because == "budget"
    assert [a.started for a in result.attempts] == [False, False]
    [left] = result.failures
    assert left.failure_class is FailureClass.TRANSIENT and left.resource_type == "invocation"
    # nothing ran: the failure reaches every exposure, which is blocked
    [escalation] = result.escalations
    assert escalation.exposures == ("exposure.startup.finance_dashboard",)
    assert escalation.action == "retry"
    assert result.exposure_statuses == {"exposure.startup.finance_dashboard": "blocked"}
    prom = project.prom()
    assert "sluice_build_attempts 2" in prom and "sluice_build_exit_code 3" in prom
    assert 'sluice_build_failures_seen{class="transient"} 2' in prom
    alerts = project.alerts()
    assert alerts["invocation_id"] == result.invocation_id
    assert "after 2 attempt(s)" in alerts["payload"]["text"]


def test_a_retry_that_cannot_connect_counts_and_is_retried(tmp_path, pg):
    project = pg_project(tmp_path, pg, flaky=True)

    result = run(project, on_wait(project, {1: pg.stop, 2: pg.start}), max_attempts=5)

    assert result.exit_code == 0, result.notes
    assert [a.kind for a in result.attempts] == ["build", "retry", "retry"]
    assert [a.started for a in result.attempts] == [True, False, True]
    first = {f.unique_id: f for f in result.attempts[0].failures}
    timeout = first["model.startup.b"]
    assert timeout.failure_class is FailureClass.TRANSIENT
    assert "statement timeout" in timeout.message
    assert "Connection refused" in result.attempts[1].failures[0].message
    # the third attempt retried the first one's failure: b ran again and published
    third = json.loads((project.sluice / "attempts" / "3" / "run_results.json").read_text())
    assert {r["unique_id"]: r["status"] for r in third["results"]}["model.startup.b"] == "success"
    prom = project.prom()
    assert "sluice_build_attempts 3" in prom and "sluice_build_retries 2" in prom
    assert len(project.build_json()["attempts"]) == 3


def test_a_role_that_does_not_exist_is_authorization_not_retried(tmp_path, pg):
    project = pg_project(tmp_path, pg, user="nobody_here")

    result = run(project, max_attempts=3)

    assert result.exit_code == 1 and result.outcome == "held"
    assert len(result.attempts) == 1 and project.sleeps == []
    [failure] = result.failures
    assert failure.failure_class is FailureClass.AUTHORIZATION
    assert 'role "nobody_here" does not exist' in failure.message
    [escalation] = result.escalations
    assert escalation.action == "escalate"
    assert result.stopped_because == "start_failed"


# --- DuckDB ------------------------------------------------------------------------------------


class LockHolder:
    """Another process holding DuckDB's lock on a database file until released."""

    def __init__(self, database: Path) -> None:
        self.marker = database.with_suffix(".release")
        self.process = subprocess.Popen(
            [sys.executable, str(HOLD_LOCK), str(database), str(self.marker)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.marker.touch()
        self.process.wait(timeout=60)


def test_duckdb_file_locked_by_another_process_at_start_is_retried_and_exits_0(tmp_path):
    project = duckdb_project(tmp_path)
    holder = LockHolder(project.root / "warehouse.duckdb")
    try:
        result = run(project, on_wait(project, {1: holder.release}), max_attempts=3)
    finally:
        holder.release()

    assert result.exit_code == 0, result.notes
    first, second = result.attempts
    assert not first.started and second.started
    [locked] = first.failures
    assert locked.failure_class is FailureClass.TRANSIENT
    assert "Could not set lock on file" in locked.message
    assert "Traceback" not in locked.message  # the error, not the traceback dbt logs after it
    assert (project.sluice / "attempts" / "1" / "dbt.log").exists()


# Holds the lock for SECONDS of wall time and at least until the build first waits to retry (so
# the first attempt meets it however slowly dbt starts), then exits by itself.
HOLD_FOR = """
import json, sys, time
from pathlib import Path
import duckdb

database, record, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
connection = duckdb.connect(database)
connection.execute("create table if not exists held (x integer)")
print("locked", flush=True)
release, deadline = time.monotonic() + seconds, time.monotonic() + 600


def retrying():
    try:
        return json.loads(record.read_text()).get("phase", "").startswith("waiting")
    except (OSError, ValueError):
        return False


while (time.monotonic() < release or not retrying()) and time.monotonic() < deadline:
    time.sleep(0.02)
connection.close()
"""


def test_duckdb_file_locked_for_5_seconds_at_start_is_retried_until_free_and_exits_0(tmp_path):
    project = duckdb_project(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLD_FOR,
            str(project.root / "warehouse.duckdb"),
            str(project.sluice / "build.json"),
            "5",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        locked_at = time.monotonic()

        def sleep(seconds: float) -> None:  # the build really waits: the lock goes by itself
            project.sleeps.append(seconds)
            time.sleep(seconds)

        # delays of 1 s, then 2 s (uniform 0.5): several tries within the 5 s; the holder's
        # lock fails every one of them alike, so only the budget may stop the retries
        result = run(project, sleep, max_attempts=20, base_delay=2, max_delay=4, repeat_limit=0)
        held_for = time.monotonic() - locked_at
    finally:
        try:  # it lets go once the build has waited for it: a bounded wait for its exit
            holder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()

    assert holder.returncode == 0, "the holder was killed, not done holding"
    assert held_for >= 5
    assert result.exit_code == 0, result.notes
    assert len(result.attempts) >= 2
    first, last = result.attempts[0], result.attempts[-1]
    assert not first.started and last.started
    assert [f.failure_class for f in first.failures] == [FailureClass.TRANSIENT]
    assert "Could not set lock on file" in first.failures[0].message


def test_a_project_that_does_not_compile_exits_2_with_its_record_written(tmp_path):
    project = duckdb_project(tmp_path)
    (project.root / "models" / "broken.sql").write_text("select {% if %}\n")

    with pytest.raises(BuildError, match="wrote no run results") as caught:
        run(project, None, "--log-format", "json", max_attempts=3)

    result = caught.value.result
    assert result is not None and result.exit_code == 2 and result.outcome == "not_started"
    [failure] = result.failures
    assert failure.failure_class is FailureClass.UNKNOWN
    # read from dbt's JSON log lines: the error, not the lines around it
    assert failure.message.startswith("Compilation Error in model broken")
    assert "Expected an expression" in failure.message
    assert len(result.attempts) == 1
    record = project.build_json()
    assert record["exit_code"] == 2 and record["invocation_id"] == result.invocation_id
    assert "sluice_build_exit_code 2" in project.prom()


def test_each_run_replaces_the_previous_runs_record(tmp_path, monkeypatch):
    project = duckdb_project(tmp_path)
    first = run(project, None, report=True, warehouse=False)
    assert first.exit_code == 0
    assert (project.sluice / "final").exists() and (project.sluice / "summary.md").exists()
    assert "sluice_build_exit_code 0" in project.prom()

    # a run that fails before any node: nothing of the first run is left to read as this one's
    (project.root / "models" / "broken.sql").write_text("select {% if %}\n")
    with pytest.raises(BuildError):
        run(project, None, report=True, warehouse=False)
    record = project.build_json()
    assert record["invocation_id"] != first.invocation_id
    assert record["exit_code"] == 2
    assert "sluice_build_exit_code 2" in project.prom()
    assert f'invocation_id="{record["invocation_id"]}"' in project.prom()
    assert project.alerts()["invocation_id"] == record["invocation_id"]
    assert not (project.sluice / "final").exists()
    assert not (project.sluice / "summary.md").exists()
    assert sorted(p.name for p in (project.sluice / "attempts").iterdir()) == ["1"]

    # a usage error is recorded too
    monkeypatch.setenv("SLUICE_MAX_ATTEMPTS", "many")
    with pytest.raises(BuildError, match="SLUICE_MAX_ATTEMPTS"):
        run(project, None)
    usage = project.build_json()
    assert usage["status"] == "usage_error" and usage["exit_code"] == 2
    assert usage["invocation_id"] != record["invocation_id"]
    assert 'status="usage_error"' in project.prom()
    assert not (project.sluice / "attempts").exists()
    assert not (project.sluice / "alerts.json").exists()


def write_previous_run(sluice: Path) -> None:
    """What a previous, successful run left in target/sluice/."""
    (sluice / "attempts" / "1").mkdir(parents=True)
    (sluice / "build.json").write_text(json.dumps({"invocation_id": "previous", "exit_code": 0}))
    (sluice / "alerts.json").write_text(json.dumps({"invocation_id": "previous"}))
    (sluice / "sluice.prom").write_text("sluice_build_exit_code 0\n")


@pytest.mark.parametrize("fault", ["unrenderable target-path", "option without its value"])
def test_a_usage_error_before_the_build_starts_replaces_the_previous_runs_record(
    tmp_path, monkeypatch, capsys, fault
):
    from sluice.cli import main

    project = duckdb_project(tmp_path)
    write_previous_run(project.sluice)
    args = ["build", "--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    if fault == "unrenderable target-path":
        # the project file cannot be read: the record goes where dbt writes by default
        monkeypatch.delenv("SLUICE_TEST_NO_SUCH_VARIABLE", raising=False)
        with (project.root / "dbt_project.yml").open("a") as file:
            file.write("target-path: \"{{ env_var('SLUICE_TEST_NO_SUCH_VARIABLE') }}\"\n")
        code = main(args)
        expected = "SLUICE_TEST_NO_SUCH_VARIABLE"
    else:
        code = main([*args, "--max-attempts"])
        expected = "--max-attempts: expected one argument"

    err = capsys.readouterr().err
    assert code == 2, err
    assert expected in err and "Traceback" not in err
    record = project.build_json()
    assert record["status"] == "usage_error" and record["exit_code"] == 2
    assert record["invocation_id"] != "previous"
    assert any(expected in note for note in record["notes"])
    assert "sluice_build_exit_code 2" in project.prom()
    assert f'invocation_id="{record["invocation_id"]}",status="usage_error"' in project.prom()
    assert not (project.sluice / "alerts.json").exists()
    assert not (project.sluice / "attempts").exists()


# --- reading the error from dbt's output (pure) ------------------------------------------------

PG_REFUSED = """\x1b[0m08:11:48  Running with dbt=1.11.16
\x1b[0m08:11:48  Registered adapter: postgres=1.11.0
\x1b[0m08:11:49  Found 2 models, 477 macros
\x1b[0m08:11:49  Concurrency: 2 threads (target='dev')
\x1b[0m08:11:49  Finished running  in 0 hours 0 minutes and 0.06 seconds (0.06s).
\x1b[0m08:11:49  Encountered an error:
Database Error
  connection to server at "127.0.0.1", port 54341 failed: Connection refused
  \tIs the server running on that host and accepting TCP/IP connections?
"""


def dbt_error(message: str, adapter: str = "postgres") -> str:
    return (
        f"\x1b[0m10:00:00  Running with dbt=1.11.16\n"
        f"\x1b[0m10:00:00  Registered adapter: {adapter}=1.11.0\n"
        f"\x1b[0m10:00:01  Encountered an error:\n{message}\n"
        "\x1b[0m10:00:01  Traceback (most recent call last):\n"
        '  File "dbt/task/runnable.py", line 1, in run\n'
        "    raise lock timeout deadlock permission denied\n"
    )


@pytest.mark.parametrize(
    ("output", "adapter", "expected"),
    [
        (PG_REFUSED, None, FailureClass.TRANSIENT),
        (
            dbt_error(
                'Database Error\n  connection to server at "db.internal" (10.0.0.5), port 5432 '
                "failed: timeout expired"
            ),
            "postgres",
            FailureClass.TRANSIENT,
        ),
        (
            dbt_error("Database Error\n  FATAL:  the database system is starting up"),
            None,
            FailureClass.TRANSIENT,
        ),
        (
            dbt_error(
                "Database Error\n  server closed the connection unexpectedly\n\tThis probably "
                "means the server terminated abnormally"
            ),
            "postgres",
            FailureClass.TRANSIENT,
        ),
        (
            dbt_error(
                'Database Error\n  connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
                'password authentication failed for user "loader"'
            ),
            "postgres",
            FailureClass.AUTHORIZATION,
        ),
        (
            dbt_error(
                "Database Error\n  250001: Could not connect to Snowflake backend after 2 "
                "attempt(s).Aborting",
                "snowflake",
            ),
            "snowflake",
            FailureClass.TRANSIENT,
        ),
        (
            dbt_error(
                'IO Error: Could not set lock on file "/data/w.duckdb": Conflicting lock is held '
                "in /usr/bin/python3 (PID 42).",
                "duckdb",
            ),
            None,
            FailureClass.TRANSIENT,
        ),
        (
            dbt_error(
                "Compilation Error in model broken (models/broken.sql)\n  Expected an expression"
            ),
            "postgres",
            FailureClass.UNKNOWN,  # the traceback's words after the error are not read
        ),
        (
            '{"info": {"msg": "Encountered an error:\\nDatabase Error\\n  connection to server '
            'at \\"h\\", port 5432 failed: Connection refused", "level": "error"}}\n'
            '{"info": {"msg": "deadlock detected in a later line", "level": "info"}}\n',
            None,
            FailureClass.TRANSIENT,
        ),
        ("", None, FailureClass.UNKNOWN),
    ],
)
def test_a_failed_start_is_classified_from_dbts_error(output, adapter, expected):
    from sluice.classify import builtin_patterns
    from sluice.classify.startup import adapter_from_output, classify_start_failure, error_text

    found = adapter or adapter_from_output(output)
    failure = classify_start_failure(
        output, found, builtin_patterns(), project="p", command="build", returncode=2
    )
    assert failure.failure_class is expected, error_text(output)
    assert failure.resource_type == "invocation" and failure.unique_id == "invocation.p"
    assert "Traceback" not in failure.message and "later line" not in failure.message
