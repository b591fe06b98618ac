"""Run real dbt against real engines from pytest: a throwaway project per test.

Each `DbtProject` is a directory with its own dbt_project.yml, packages.yml (installing sluice
from the repository root with `local:`), profiles.yml and files; dbt runs as a process of its own,
as a user would run it (forked from one that has dbt loaded: tests/dbt_launcher.py). DuckDB
projects use a file in the project directory; PostgreSQL projects use the server started by
`tests/pg.sh` and a schema of their own; Snowflake projects use a fakesnow
server (Snowflake's HTTP API answered from DuckDB, see `Fakesnow`) and a database of their own,
reached by dbt-snowflake and the Snowflake connector exactly as a real account would be.
`postgres_available` and
`chromium_available` say, in one line, why a program some tests need is missing (tests/conftest.py
turns that into a skip, or a failure under CI=true).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.dbt_launcher import DBT, run_dbt
from tests.snowflake_sql import Sent, record_statements

REPO = Path(__file__).resolve().parents[1]
PACKAGES_YML = f"packages:\n  - local: {REPO}\n"  # a test project's, unless the test changes it


@contextlib.contextmanager
def example_project_lock() -> Iterator[None]:
    """Exclusive use of the example project (dbt_project/) across test processes.

    Tests that build it in place install its packages into dbt_project/dbt_packages; two workers
    doing so at once would replace the package while the other one parses it."""
    path = Path(tempfile.gettempdir()) / f"sluice-example-{os.getuid()}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


EXAMPLE = REPO / "dbt_project"


def example_dbt(args: list[str], cwd: Path, env: dict[str, str]) -> Any:
    """dbt on the example project (dbt_project/), run from cwd, with the example held for us."""
    with example_project_lock():  # dbt deps replaces the package other test processes parse
        return run_dbt(
            [*args, "--project-dir", str(EXAMPLE), "--profiles-dir", str(EXAMPLE)],
            cwd=cwd,
            env=env,
            timeout=900,
        )


PG_HOST = os.environ.get("SLUICE_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SLUICE_PG_PORT", "54329"))
PG_USER = os.environ.get("SLUICE_PG_USER", "postgres")
PG_PASSWORD = os.environ.get("SLUICE_PG_PASSWORD", "postgres")
PG_DBNAME = os.environ.get("SLUICE_PG_DBNAME", "postgres")


def snowflake_too(*, xfail: str | None = None) -> pytest.MarkDecorator:
    """Run a test on DuckDB and PostgreSQL (like the `engine` fixture) and also on Snowflake
    semantics: dbt-snowflake against the session's fakesnow server. `xfail` names why the
    Snowflake case cannot pass yet; it is strict, so the mark must go once it passes."""
    snowflake: Any = "snowflake"
    if xfail is not None:
        snowflake = pytest.param(
            "snowflake", marks=pytest.mark.xfail(reason=xfail, raises=AssertionError, strict=True)
        )
    postgres = pytest.param("postgres", marks=pytest.mark.postgres)
    return pytest.mark.parametrize("engine", ["duckdb", postgres, snowflake], indirect=True)


SNOWFLAKE_TOO = snowflake_too()


def postgres_available() -> str | None:
    """None when the test server answers, else one line saying what is missing and where from."""
    try:
        import psycopg2
    except ImportError:
        return "psycopg2 not installed: pip install -e '.[postgres]'"
    try:
        conn = psycopg2.connect(
            host=PG_HOST,
            port=PG_PORT,
            user=PG_USER,
            password=PG_PASSWORD,
            dbname=PG_DBNAME,
            connect_timeout=5,
        )
    except psycopg2.Error as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    else:
        conn.close()
        return None
    if not _postgres_server_installed():
        return "PostgreSQL server binaries not found: apt-get install postgresql-15"
    return (
        f"PostgreSQL not reachable on {PG_HOST}:{PG_PORT} ({detail}): "
        "start it with `bash tests/pg.sh start`"
    )


def _postgres_server_installed() -> bool:
    """The same search as tests/pg.sh: Debian's /usr/lib/postgresql/<N>/bin, or PATH."""
    return any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")) or bool(shutil.which("pg_ctl"))


CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """The headless browser the HTML report is checked in, if one is installed."""
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def chromium_available() -> str | None:
    """None when a Chromium is on PATH, else one line saying what is missing and where from."""
    if chromium_path() is not None:
        return None
    return f"chromium not found (tried {', '.join(CHROMIUM_CANDIDATES)}): apt-get install chromium"


@dataclass
class Fakesnow:
    """A fakesnow server in a child process, on a free port of 127.0.0.1.

    dbt-snowflake connects to it over HTTP (profile `host`, `port`, `protocol: http`), so every
    dbt invocation of a test sees the databases the previous ones left, kept as DuckDB files
    under `data_dir`.
    """

    process: subprocess.Popen[str]
    port: int
    data_dir: Path
    host: str = "127.0.0.1"
    checked_to: int = 0  # how far `statements_since_last_check` has read the statement log

    @property
    def statement_log(self) -> Path:
        """Every statement the server was sent, one JSON line each: [session, statement]
        (`_serve_fakesnow`)."""
        return self.data_dir / "statements.jsonl"

    @property
    def kill_order(self) -> Path:
        return self.data_dir / "kill.json"

    def kill_at(self, pattern: str, process_group: int, after: tuple[str, ...] = ()) -> None:
        """Kill (SIGKILL) the process group when the server is sent the first statement that
        matches `pattern` (a regular expression, case-insensitive), before it runs it: the
        build is killed right after the statement before it. With `after`, only once the
        server has been sent statements matching each of those patterns, in that order, each
        after the one before (the kill comes at a later statement still). The killed session's open
        transaction is rolled back there and then: Snowflake leaves it detached and aborts it
        once it blocks another transaction's lock for 5 minutes, or on SYSTEM$ABORT_TRANSACTION
        (docs.snowflake.com/en/sql-reference/transactions, "Aborting transactions")."""
        order = self.kill_order.with_suffix(".tmp")
        order.write_text(
            json.dumps({"pattern": pattern, "pgid": process_group, "after": list(after)})
        )
        order.replace(self.kill_order)

    def killed(self) -> bool:
        """Whether the last `kill_at` order was carried out."""
        return not self.kill_order.exists()

    @property
    def lock_wait_log(self) -> Path:
        """One JSON line per statement that began to wait for a row another session's open
        transaction had updated (`_emulate_snowflake_ddl`)."""
        return self.data_dir / "lock_waits.jsonl"

    def lock_waits(self, pattern: str) -> int:
        """How many statements matching `pattern` (case-insensitive) have waited for a lock."""
        if not self.lock_wait_log.exists():
            return 0
        sent = [json.loads(line) for line in self.lock_wait_log.read_text().splitlines() if line]
        return sum(1 for command in sent if re.search(pattern, command, re.IGNORECASE | re.DOTALL))

    def statements_since_last_check(self) -> list[Sent]:
        """The statements the server ran since the previous call (tests/conftest.py checks
        them against what Snowflake documents as supported: tests/snowflake_sql.py)."""
        if not self.statement_log.exists():
            return []
        with self.statement_log.open("rb") as log:
            log.seek(self.checked_to)
            data = log.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.checked_to += len(complete)
        return [Sent(*json.loads(line)) for line in complete.decode("utf-8").splitlines() if line]

    @classmethod
    def start(cls, data_dir: Path) -> Fakesnow:
        data_dir.mkdir(parents=True, exist_ok=True)
        log_path = data_dir / "server.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.dbt_harness", "fakesnow-server", str(data_dir)],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert process.stdout is not None
        # the server prints its port once its socket listens: connections queue from then on
        line = process.stdout.readline().strip()
        if not line.isdigit():
            process.kill()
            process.wait()
            raise RuntimeError(f"fakesnow server did not start:\n{log_path.read_text()[-4000:]}")
        return cls(process=process, port=int(line), data_dir=data_dir)

    def stop(self) -> None:
        """Closing the server's stdin stops it (as the end of the test process would)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()

    def profile_output(self, database: str, schema: str) -> str:
        return (
            f"type: snowflake\n      account: fakesnow\n      user: fake\n      password: snow\n"
            f"      host: {self.host}\n      port: {self.port}\n      protocol: http\n"
            f"      database: {database}\n      warehouse: sluice_wh\n      schema: {schema}\n"
            f"      threads: 2"
        )

    def connect(self, database: str, schema: str) -> Any:
        import snowflake.connector

        return snowflake.connector.connect(
            account="fakesnow",
            user="fake",
            password="snow",
            host=self.host,
            port=self.port,
            protocol="http",
            database=database,
            schema=schema,
            # no cloud metadata probes and no out-of-band telemetry: only this server is reached
            platform_detection_timeout_seconds=0.0,
            session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        )


def _serve_fakesnow(data_dir: str) -> None:
    """The child process of `Fakesnow.start`: fakesnow's HTTP app under uvicorn."""
    import socket
    import threading

    import fakesnow.server
    import uvicorn
    from fakesnow.instance import FakeSnow
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    # fakesnow keeps databases in memory unless a client asks otherwise with a session parameter
    # that dbt-snowflake cannot send; the server's shared instance keeps them as files instead
    fakesnow.server.shared_fs = FakeSnow(db_path=data_dir)
    log = Path(data_dir) / "server.log"
    statements = (Path(data_dir) / "statements.jsonl").open("a", encoding="utf-8")
    _emulate_snowflake_ddl(Path(data_dir) / "kill.json")
    record_statements(
        lambda sent: (statements.write(json.dumps(list(sent)) + "\n"), statements.flush())
    )

    async def query_request(request: Request) -> Response:
        # fakesnow answers a statement it cannot handle with HTTP 500, which the Snowflake
        # connector retries without end: answer it as the SQL error it is, so dbt fails at once
        response = await fakesnow.server.query_request(request)
        if response.status_code != 500:
            return response
        message = json.loads(bytes(response.body))["message"]
        return JSONResponse(
            {
                "data": {"errorCode": "001003", "sqlState": "42000"},
                "code": "001003",
                "message": f"fakesnow cannot run this statement (traceback in {log}): {message}",
                "success": False,
            }
        )

    routes = [
        Route(r.path, query_request, methods=["POST"])
        if r.path == "/queries/v1/query-request"
        else r
        for r in fakesnow.server.routes
    ]
    app = Starlette(routes=routes)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # uvicorn writes a response's head and body apart: with Nagle's algorithm on, the body waits
    # for the client's delayed ACK of the head (40 ms), and every statement took 40 ms more.
    # The connections accepted from this socket inherit the option.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(sock.getsockname()[1], flush=True)
    os.dup2(2, 1)  # anything printed later goes to the log, not to a pipe nobody reads
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))

    def stop_when_the_parent_is_gone() -> None:
        sys.stdin.read()  # returns at end of file: the test process closed it, or has exited
        server.should_exit = True

    threading.Thread(target=stop_when_the_parent_is_gone, daemon=True).start()
    server.run(sockets=[sock])


# ALTER TABLE <a> SWAP WITH <b>, with the query comment dbt puts before or after it
_SWAP = re.compile(
    r"^\s*(?:/\*.*?\*/\s*)?alter\s+table\s+(\S+)\s+swap\s+with\s+(\S+)\s*(?:/\*.*?\*/)?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


_BEGIN = re.compile(r"^\s*(?:/\*.*?\*/\s*)?begin\b", re.IGNORECASE | re.DOTALL)
_END = re.compile(r"^\s*(?:/\*.*?\*/\s*)?(?:commit|rollback)\b", re.IGNORECASE | re.DOTALL)


def _emulate_snowflake_ddl(kill_order: Path) -> None:
    """What the fakesnow server does beyond fakesnow 0.12.1 (in the server process only):

    - `ALTER TABLE a SWAP WITH b`, which fakesnow cannot run, as Snowflake documents it
      (docs.snowflake.com/en/sql-reference/sql/alter-table: "Swaps all content and metadata
      between two specified tables ... The two tables are essentially renamed in a single
      transaction"): three renames in one DuckDB transaction, so that no reader ever finds
      either name missing;
    - a test's order to kill dbt at a chosen statement (`Fakesnow.kill_at`);
    - waiting for a row lock. DuckDB answers an update of a row that another open transaction
      has updated with a conflict error at once; Snowflake makes the statement wait until that
      transaction ends (docs.snowflake.com/en/sql-reference/transactions, "Resource locking",
      up to LOCK_TIMEOUT). When the conflicting statement is the first of an explicit
      transaction (as the package's take of a model's lock row is), nothing of the transaction
      is lost by starting it again: the server rolls it back, waits until another session's
      transaction ends, and sends BEGIN and the statement again. Each wait is logged
      (`Fakesnow.lock_waits`). A conflict elsewhere stays the error it is."""
    import threading

    from fakesnow.cursor import FakeSnowflakeCursor

    fakesnow_execute = FakeSnowflakeCursor.execute
    ended = threading.Condition()  # notified whenever a session's transaction ends
    generation = [0]  # how many transactions have ended
    waits = kill_order.with_name("lock_waits.jsonl")

    def transaction_ended() -> None:
        with ended:
            generation[0] += 1
            ended.notify_all()

    def run_waiting_for_locks(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        first = getattr(self._conn, "_sluice_transaction_fresh", False)
        self._conn._sluice_transaction_fresh = bool(_BEGIN.match(command))
        while True:
            with ended:
                seen = generation[0]
            try:
                return fakesnow_execute(self, command, *args, **kwargs)
            except Exception as exc:
                if not first or "Conflict on update" not in str(exc):
                    raise
            fakesnow_execute(self, "rollback")
            transaction_ended()
            with waits.open("a", encoding="utf-8") as log:
                log.write(json.dumps(command) + "\n")
            with ended:
                if not ended.wait_for(lambda: generation[0] != seen, timeout=600):
                    raise RuntimeError(f"waited 600 s for a lock: {command[:200]}")
            fakesnow_execute(self, "begin transaction")

    def execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        try:
            _carry_out_kill_order(self, command, kill_order)
        except RuntimeError:
            transaction_ended()
            raise
        swap = _SWAP.match(command)
        if swap is None:
            try:
                return run_waiting_for_locks(self, command, *args, **kwargs)
            finally:
                if _END.match(command):
                    transaction_ended()
        a, b = swap.group(1), swap.group(2)
        parked = a[:-1] + '__SLUICE_SWAP"' if a.endswith('"') else a + "__SLUICE_SWAP"
        fakesnow_execute(self, "begin transaction")
        try:
            fakesnow_execute(self, f"alter table {a} rename to {parked}")
            fakesnow_execute(self, f"alter table {b} rename to {a}")
            fakesnow_execute(self, f"alter table {parked} rename to {b}")
        except Exception:
            fakesnow_execute(self, "rollback")
            raise
        return fakesnow_execute(self, "commit")

    FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]


def _carry_out_kill_order(cursor: Any, command: str, kill_order: Path) -> None:
    if not kill_order.exists():
        return
    order = json.loads(kill_order.read_text())
    after = order.get("after", [])
    if after:
        # one more of the statements to be sent first, before the kill can come
        if re.search(after[0], command, re.IGNORECASE | re.DOTALL):
            kill_order.write_text(json.dumps({**order, "after": after[1:]}))
        return
    if not re.search(order["pattern"], command, re.IGNORECASE | re.DOTALL):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(order["pgid"], signal.SIGKILL)
    kill_order.unlink()
    # the killed session's transaction, aborted as Snowflake aborts a detached one
    with contextlib.suppress(Exception):
        cursor._duck_conn.rollback()
    cursor._conn._in_transaction = False
    raise RuntimeError(f"killed before this statement: {command[:200]}")


@dataclass
class DbtResult:
    returncode: int
    output: str
    run_results: dict[str, Any] | None

    def status(self, name: str) -> str:
        """The status of the node whose unique_id ends with `.name` (or `.name.<hash>`)."""
        assert self.run_results is not None, self.output
        for result in self.run_results["results"]:
            parts = result["unique_id"].split(".")
            if name in (parts[-1], parts[-2] if len(parts) > 3 else None):
                return str(result["status"])
        raise KeyError(
            f"{name} not in run results: {[r['unique_id'] for r in self.run_results['results']]}"
        )

    def result(self, name: str) -> dict[str, Any]:
        assert self.run_results is not None, self.output
        for result in self.run_results["results"]:
            parts = result["unique_id"].split(".")
            if name in (parts[-1], parts[-2] if len(parts) > 3 else None):
                return dict(result)
        raise KeyError(name)


@dataclass
class DbtProject:
    root: Path
    engine: str = "duckdb"
    schema: str = field(default_factory=lambda: "t_" + uuid.uuid4().hex[:10])
    fakesnow: Fakesnow | None = None
    # the package's own models (models/history, models/metrics): built only for the tests that
    # read them (`@pytest.mark.package_models`), as each build of them adds about a second
    package_models: bool = False

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.write(
            "dbt_project.yml",
            """
            name: sluice_test
            version: "1.0"
            config-version: 2
            profile: sluice_test
            model-paths: ["models"]
            seed-paths: ["seeds"]
            test-paths: ["tests"]
            macro-paths: ["macros"]
            snapshot-paths: ["snapshots"]
            analysis-paths: ["analyses"]
            """,
        )
        if self.engine == "snowflake":
            # fakesnow refuses temporary tables outside its own temp catalog: the scratch tables
            # are transient there (legitimate Snowflake SQL too)
            with (self.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
                f.write("vars:\n  sluice_scratch_relation_type: transient\n")
        if not self.package_models:
            with (self.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
                f.write(
                    "models:\n  sluice:\n    history:\n      +enabled: false\n"
                    "    metrics:\n      +enabled: false\n"
                )
        self.write("packages.yml", PACKAGES_YML)
        if self.engine == "duckdb":
            output = f"type: duckdb\n      path: {self.root / 'test.duckdb'}\n      threads: 2"
        elif self.engine == "snowflake":
            assert self.fakesnow is not None, "a snowflake project needs the fakesnow server"
            output = self.fakesnow.profile_output(self.database, self.schema)
        else:
            output = (
                f"type: postgres\n      host: {PG_HOST}\n      port: {PG_PORT}\n"
                f"      user: {PG_USER}\n      password: {PG_PASSWORD}\n      dbname: {PG_DBNAME}\n"
                f"      schema: {self.schema}\n      threads: 2"
            )
        self.write(
            "profiles.yml", f"sluice_test:\n  target: dev\n  outputs:\n    dev:\n      {output}\n"
        )
        self._deps_done = False

    @property
    def relation_schema(self) -> str:
        return "main" if self.engine == "duckdb" else self.schema

    @property
    def database(self) -> str:
        """The Snowflake database of the project (one per project on the shared server)."""
        return "db_" + self.schema.removeprefix("t_")

    def write(self, relpath: str, text: str) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def dbt(self, *args: str, expect: int | None = 0) -> DbtResult:
        if not self._deps_done:
            self.install_package()
        result = self._run(list(args))
        if expect is not None:
            assert result.returncode == expect, (
                f"dbt {' '.join(args)} exited {result.returncode}, expected {expect}:\n{result.output[-6000:]}"
            )
        return result

    def start_dbt(self, *args: str) -> subprocess.Popen[str]:
        """dbt as a process of its own session (its pid is its process group: a test can kill
        all of it), output discarded, held before dbt starts until `go(process)`: the test can
        first arrange what is to happen to it (Fakesnow.kill_at)."""
        if not self._deps_done:
            self.install_package()
        dbt = [DBT, *args, "--profiles-dir", str(self.root), "--project-dir", str(self.root)]
        return subprocess.Popen(
            ["sh", "-c", 'read -r _ && exec "$@"', "sh", *dbt],
            cwd=self.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

    @staticmethod
    def go(process: subprocess.Popen[str]) -> None:
        """Let a process from `start_dbt` start dbt."""
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.close()

    def install_package(self) -> None:
        """Install sluice as `dbt deps` installs a `local:` package: a link in dbt_packages/ to
        the repository. A project whose packages.yml a test changed runs `dbt deps` itself."""
        self._deps_done = True
        if (self.root / "packages.yml").read_text() != PACKAGES_YML:
            self._run(["deps"])
            return
        link = self.root / "dbt_packages" / "sluice"
        link.parent.mkdir(exist_ok=True)
        if not link.exists():
            link.symlink_to(REPO, target_is_directory=True)

    def _run(self, args: list[str]) -> DbtResult:
        rr_path = self.root / "target" / "run_results.json"
        before = rr_path.stat().st_mtime_ns if rr_path.exists() else None
        env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1")
        proc = run_dbt(
            [*args, "--profiles-dir", str(self.root), "--project-dir", str(self.root)],
            cwd=self.root,
            env=env,
            timeout=600,
        )
        fresh = rr_path.exists() and rr_path.stat().st_mtime_ns != before
        run_results = json.loads(rr_path.read_text()) if fresh and args[0] != "deps" else None
        return DbtResult(proc.returncode, proc.stdout + proc.stderr, run_results)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        sql = sql.replace("{schema}", self.relation_schema)
        if self.engine == "duckdb":
            import duckdb

            with duckdb.connect(str(self.root / "test.duckdb"), read_only=True) as conn:
                return [tuple(r) for r in conn.execute(sql).fetchall()]
        if self.engine == "snowflake":
            return self._snowflake(sql)
        import psycopg2

        conn = psycopg2.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_DBNAME
        )
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()

    def execute(self, sql: str) -> None:
        """Change data in the warehouse, the way a source system would."""
        sql = sql.replace("{schema}", self.relation_schema)
        if self.engine == "duckdb":
            import duckdb

            with duckdb.connect(str(self.root / "test.duckdb")) as conn:
                conn.execute(sql)
            return
        if self.engine == "snowflake":
            self._snowflake(sql)
            return
        import psycopg2

        conn = psycopg2.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_DBNAME
        )
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def _snowflake(self, sql: str) -> list[tuple[Any, ...]]:
        assert self.fakesnow is not None
        conn = self.fakesnow.connect(self.database, self.schema)
        try:
            cur = conn.cursor()
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
        finally:
            conn.close()

    def relation_exists(self, name: str) -> bool:
        if self.engine == "duckdb" and not (self.root / "test.duckdb").exists():
            return False  # nothing has connected yet (dbt stopped before any node ran)
        if self.engine == "duckdb":
            sql = f"select count(*) from information_schema.tables where table_schema = 'main' and table_name = '{name}'"
        elif self.engine == "snowflake":
            # unquoted identifiers are stored upper-cased
            sql = f"select count(*) from information_schema.tables where table_schema = '{self.schema.upper()}' and table_name = '{name.upper()}'"
        else:
            sql = f"select count(*) from information_schema.tables where table_schema = '{self.schema}' and table_name = '{name}'"
        return self.query(sql)[0][0] > 0

    def drop_schema(self) -> None:
        if self.engine == "postgres":
            import psycopg2

            conn = psycopg2.connect(
                host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_DBNAME
            )
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'drop schema if exists "{self.schema}" cascade')
            conn.close()
        elif self.engine == "snowflake" and self.fakesnow is not None:
            self._snowflake(f"drop schema if exists {self.schema} cascade")


if __name__ == "__main__" and sys.argv[1:2] == ["fakesnow-server"]:
    _serve_fakesnow(sys.argv[2])


def exceptions_without_history(project: DbtProject, model: str) -> int:
    """How many of the model's quarantined exceptions have no event in the history."""
    return project.query(
        f"select count(*) from {{schema}}.{model}__quarantine as q where not exists "
        "(select 1 from {schema}.sluice_exception_events as e where e.exception_id = q.exception_id)"
    )[0][0]


def copy_of(origin: DbtProject, root: Path, tables: tuple[str, ...] | list[str]) -> DbtProject:
    """A project at root whose warehouse holds a copy of origin's tables (on DuckDB the whole
    database file), for one test to change without touching the others' origin."""
    copy = DbtProject(root, engine=origin.engine, fakesnow=origin.fakesnow)
    if origin.engine == "duckdb":
        shutil.copy(origin.root / "test.duckdb", copy.root / "test.duckdb")
        return copy
    copy.execute(f'create schema "{copy.schema}"')
    for table in tables:
        copy.execute(
            f'create table "{copy.schema}".{table} as select * from "{origin.schema}".{table}'
        )
    return copy
