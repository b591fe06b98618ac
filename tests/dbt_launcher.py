"""dbt invocations for the tests: each a process of its own, forked from one that has dbt loaded.

Starting dbt costs about two seconds before it reads a file: importing dbt and its adapters,
then generating the (de)serialisers of its artifact classes and compiling the package's macros
on first use. A suite that runs dbt a thousand times pays that a thousand times. The launcher
pays it once per test process: it imports dbt, builds a small sluice model on DuckDB (so those
caches are filled), closes every connection, then waits on a Unix socket. For each request it
forks a handler, which forks the dbt process and waits for it; the dbt process sets the
request's working directory, environment (time zone included) and arguments, and runs dbt's
command line entry point exactly as the `dbt` program does, writing to the request's output
files. The handler answers with the dbt process's id, then with its exit status once it has
exited, so the test sees what it would see from `subprocess.run`: a finished process, its exit
code and its output. The caches are keyed by content (the Jinja template cache by macro text),
so a test that changes a macro gets its own template. With dbt's test caching on, the parse of
every macro of dbt, of each adapter (DuckDB, PostgreSQL, Snowflake) and of the package is done
once in the launcher too, so a fresh project's first command parses only its own files; and each
of those macros is compiled into the template cache there, so a fork compiles only the templates
of its own project (its models, hooks, changed macros), on whichever engine it builds.

Tests that send signals to dbt or hold it mid-build start `dbt` with `subprocess` themselves.
`SLUICE_TEST_DBT=subprocess` makes every invocation a plain `dbt` subprocess, to compare.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

DBT = str(Path(sys.executable).with_name("dbt"))


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run_dbt(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Completed:
    """Run `dbt *args` in cwd with env, as its own process; return its exit code and output."""
    if os.environ.get("SLUICE_TEST_DBT") == "subprocess":
        done = subprocess.run(
            [DBT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
        return Completed(done.returncode, done.stdout, done.stderr)
    return _launcher().run(args, cwd, env, timeout)


_LOCK = threading.Lock()
_INSTANCE: Launcher | None = None


def _launcher() -> Launcher:
    global _INSTANCE
    with _LOCK:
        if _INSTANCE is None or _INSTANCE.process.poll() is not None:
            _INSTANCE = Launcher.start()
        return _INSTANCE


@dataclass
class Launcher:
    process: subprocess.Popen[str]
    socket_path: str
    workdir: Path

    @classmethod
    def start(cls) -> Launcher:
        workdir = Path(tempfile.mkdtemp(prefix="sluice-dbt-launcher-"))
        socket_path = str(workdir / "socket")
        log = (workdir / "launcher.log").open("w")
        process = subprocess.Popen(
            [sys.executable, __file__, "serve", socket_path, str(workdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            # one OpenBLAS thread (numpy's, loaded with dbt's adapters): no thread server to fork
            env=dict(
                os.environ,
                OPENBLAS_NUM_THREADS="1",
                DBT_SEND_ANONYMOUS_USAGE_STATS="false",
                DO_NOT_TRACK="1",
            ),
        )
        log.close()
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            process.kill()
            process.wait()
            tail = (workdir / "launcher.log").read_text()[-4000:]
            raise RuntimeError(f"the dbt launcher did not start:\n{tail}")
        return cls(process=process, socket_path=socket_path, workdir=workdir)

    def run(self, args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Completed:
        base = self.workdir / uuid.uuid4().hex
        out, err = base.with_suffix(".out"), base.with_suffix(".err")
        request = {
            "args": args,
            "cwd": str(cwd),
            "env": env,
            "stdout": str(out),
            "stderr": str(err),
        }
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(self.socket_path)
                conn.sendall(json.dumps(request).encode() + b"\n")
                conn.settimeout(timeout)
                reply = conn.makefile("r")
                pid = int(json.loads(reply.readline())["pid"])
                try:
                    line = reply.readline()
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    raise subprocess.TimeoutExpired([DBT, *args], timeout) from None
                if not line:
                    raise RuntimeError(f"the dbt launcher stopped during dbt {' '.join(args)}")
                returncode = int(json.loads(line)["returncode"])
            return Completed(
                returncode,
                out.read_text(errors="replace"),
                err.read_text(errors="replace"),
            )
        finally:
            out.unlink(missing_ok=True)
            err.unlink(missing_ok=True)


# --- the launcher process -----------------------------------------------------------------------


# What a project of each engine is parsed with, for the warm-up: dbt parse connects to nothing
WARM_PROFILES = {
    "postgres": "type: postgres\n      host: 127.0.0.1\n      port: 5432\n      user: u\n"
    "      password: p\n      dbname: d\n      schema: s\n      threads: 1\n",
    "snowflake": "type: snowflake\n      account: a\n      user: u\n      password: p\n"
    "      database: d\n      warehouse: w\n      schema: s\n      threads: 1\n",
}


def _warm(workdir: Path) -> None:
    """One small sluice build on DuckDB, and a parse of the same project on PostgreSQL and on
    Snowflake, so the forks start with dbt's caches filled. A failure here only means colder
    forks; the tests see their own dbt's errors.

    With dbt's test caching on (`dbt_common.tests.enable_test_caching`, what dbt's own pytest
    fixtures turn on), the Jinja parse of a macro, the blocks found in a file and the macro
    calls found in a macro are kept by their text: every fork starts with the parse of dbt's,
    each adapter's and the package's macros done, and the first command of a fresh project
    parses only what the project holds itself. A macro a test changes is new text, parsed anew.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner
    from dbt_common.tests import enable_test_caching

    enable_test_caching()

    repo = Path(__file__).resolve().parents[1]
    project = workdir / "warm"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: sluice_warm\nversion: '1.0'\nconfig-version: 2\nprofile: sluice_warm\n"
    )
    (project / "packages.yml").write_text(f"packages:\n  - local: {repo}\n")
    (project / "profiles.yml").write_text(
        "sluice_warm:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {project / 'warm.duckdb'}\n      threads: 1\n"
    )
    (project / "models" / "warm.sql").write_text("select 1 as id, 'a' as name\n")
    (project / "models" / "warm.yml").write_text(
        "models:\n  - name: warm\n    config:\n      materialized: sluice\n"
        "      meta: {sluice: {key: id}}\n    columns:\n      - name: name\n"
        "        data_tests:\n          - sluice.sluice_not_null\n"
    )
    # no static parser: its Rust thread pool would be copied into every fork without its
    # threads, and the first fork to parse a model would wait for them forever
    where = ["--project-dir", str(project), "--profiles-dir", str(project), "--quiet"]
    where += ["--no-static-parser"]
    runner = dbtRunner()
    try:
        runner.invoke(["deps", *where])
        runner.invoke(["build", *where])
        runner.invoke(["build", *where])  # the second reads the first's partial parse
        for engine, output in WARM_PROFILES.items():
            profiles = workdir / f"profiles-{engine}"
            profiles.mkdir()
            (profiles / "profiles.yml").write_text(
                f"sluice_warm:\n  target: dev\n  outputs:\n    dev:\n      {output}"
            )
            elsewhere = [*where[:2], "--profiles-dir", str(profiles), *where[4:]]
            parsed = runner.invoke(["parse", *elsewhere, "--no-partial-parse", "--no-write-json"])
            _compile_macros(parsed.result)
        _compile_macros(runner.invoke(["parse", *where, "--no-write-json"]).result)
    finally:
        DuckDBConnectionManager.close_all_connections()
        gc.collect()


def _compile_macros(manifest) -> None:  # type: ignore[no-untyped-def]
    """Compile every macro of a parsed project into dbt's template cache (keyed by the macro's
    text), as the first call of each would in a dbt process: the forks start with them."""
    from dbt_common.clients.jinja import template_cache

    for macro in getattr(manifest, "macros", {}).values():
        with contextlib.suppress(Exception):
            template_cache.get_node_template(macro)


def _serve(socket_path: str, workdir: str) -> None:
    ready = os.dup(1)  # the pipe the test process waits on; anything printed goes to the log
    os.dup2(2, 1)
    import dbt.adapters.duckdb
    import dbt.adapters.postgres
    import dbt.adapters.snowflake  # noqa: F401
    from dbt.cli.main import cli

    with contextlib.suppress(Exception):
        _warm(Path(workdir))
    # the launcher's objects (dbt's modules, the parse caches) go to gc's permanent generation:
    # a fork's collections no longer walk them, writing to every page of the copied heap (about
    # 2 s of each dbt command went to that, more than the command itself)
    gc.collect()
    gc.freeze()
    # a fork copies only the thread that forks: any other thread's locks would stay taken in the
    # copy. jemalloc's (pyarrow's allocator) prepares itself for fork; nothing else may run.
    others = [
        (Path(task) / "comm").read_text().strip()
        for task in Path("/proc/self/task").iterdir()
        if int(task.name) != os.getpid()
    ]
    others = [name for name in others if name != "jemalloc_bg_thd"]
    if others:
        print(f"threads running after the warm-up, cannot fork safely: {others}", file=sys.stderr)
        sys.exit(1)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped without waiting
    os.write(ready, b"ready\n")
    os.close(ready)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is sys.stdin:
                if not os.read(sys.stdin.fileno(), 4096):
                    # the test process closed our stdin, or has exited
                    shutil.rmtree(workdir, ignore_errors=True)
                    return
                continue
            conn, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _handle(conn, cli)
            conn.close()


def _handle(conn: socket.socket, cli) -> None:  # type: ignore[no-untyped-def]
    """In the handler: fork the dbt process, report its id, wait, report its exit status. The
    dbt process returns from here and ends as a Python program ends (its `sys.exit` unwinds
    through `_serve`), so its connections and files are closed as the `dbt` program's are."""
    try:
        request = json.loads(conn.makefile("r").readline())
        pid = os.fork()
    except BaseException:
        os._exit(1)
    if pid == 0:
        conn.close()
        _run_dbt(request, cli)
    code = 1
    try:
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        conn.sendall(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
        code = 0
    finally:
        conn.close()
        os._exit(code)


def _run_dbt(request: dict, cli) -> None:  # type: ignore[no-untyped-def,type-arg]
    """In the dbt process: become `dbt <args>` in the request's directory and environment."""
    import time

    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = [DBT, *request["args"]]
    try:
        code = cli()
    except SystemExit as exc:
        code = exc.code
    sys.exit(code)


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    # dbt imports every top-level module named dbt_* as a plugin: not this directory's
    sys.path.remove(str(Path(__file__).resolve().parent))
    _serve(sys.argv[2], sys.argv[3])
