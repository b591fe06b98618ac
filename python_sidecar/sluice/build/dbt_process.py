"""Supervising one dbt process: start, output, signals, stop timeout; it never outlives
``sluice build``.

dbt runs in a session (and process group) of its own, so a signal sent to ``sluice build``'s
process group, or Ctrl-C in its terminal, reaches sluice alone: sluice decides what dbt gets.
When the wait for dbt is interrupted (a signal handler raising, ``KeyboardInterrupt``, any
exception), dbt is sent SIGINT, which makes it cancel its running queries and write its run
results; if it has not exited within the stop timeout, its process group is killed. dbt has no
SIGTERM handler: SIGTERM would end it at once with its queries still running in the warehouse.

dbt's output (stdout and stderr) always goes to the attempt's log file, where a failed start is
read from, and also to this process's ``sys.stdout`` unless told otherwise. When the log cannot
be written (a full disk), the output is still read to its end, so dbt never blocks on a full
pipe, and the write error is raised once dbt has exited.

Owns finding dbt and running it; knows nothing of attempts, artifacts or the record (the attempt
loop, :mod:`sluice.build.attempts`, decides what to run and reads what dbt wrote).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from sluice.build.result import BuildError
from sluice.privacy.mask import dbt_environment

DbtRunner = Callable[[Sequence[str], Path], int]
"""Runs dbt with the given arguments (after the executable), its output written to the log
file given. Returns dbt's exit status."""

_CHUNK = 65536
_PUMP_GRACE = 10.0
"""Seconds to wait for the rest of dbt's output once dbt has exited (a process that left dbt's
group could keep the pipe open)."""


def _write_all(log: IO[bytes], chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        written = log.write(view)
        if not written:  # nothing taken: give the chunk up rather than spin
            return
        view = view[written:]


def _pump(source: IO[bytes], log: IO[bytes], echo: bool, failed: list[OSError]) -> None:
    """Copy dbt's output to the log (and stdout) until dbt and its children close it. A log
    that cannot be written (a full disk) is given up, its error kept in ``failed``, and the
    output still read to the end: dbt must never block on a full pipe."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    logging = True
    with contextlib.suppress(OSError, ValueError):  # the pipe closed
        while chunk := os.read(source.fileno(), _CHUNK):
            if logging:
                try:
                    _write_all(log, chunk)
                except OSError as exc:
                    failed.append(exc)
                    logging = False
                except ValueError:  # the log closed: sluice stopped waiting
                    logging = False
            if echo:
                with contextlib.suppress(Exception):  # an odd stdout must not stop the copy
                    sys.stdout.write(decoder.decode(chunk))
                    sys.stdout.flush()


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Ask dbt to stop (SIGINT: it cancels its queries), wait up to ``timeout`` seconds, then
    kill its process group. A second interruption while waiting kills it at once."""
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        except BaseException:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
            raise
    if process.poll() is None:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


# Started in place of dbt when this process ignores SIGINT (a child inherits that): puts the
# default back, so that dbt's Python turns SIGINT into its KeyboardInterrupt, then becomes dbt.
_RESTORE_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


def _command(executable: str, args: Sequence[str]) -> list[str]:
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return [sys.executable, "-I", "-S", "-c", _RESTORE_SIGINT, executable, *args]
    return [executable, *args]


def subprocess_runner(
    executable: str,
    *,
    echo: bool,
    stop_timeout: float,
    on_start: Callable[[int], None] | None = None,
) -> DbtRunner:
    """A :data:`DbtRunner` for the dbt executable; ``echo`` also copies dbt's output to
    ``sys.stdout``; ``stop_timeout`` is how long dbt gets to stop when interrupted;
    ``on_start`` is given dbt's pid once it runs (for the running record)."""

    def run(args: Sequence[str], log_path: Path) -> int:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        failed: list[OSError] = []
        # unbuffered: nothing is left to flush (and fail) when the log is closed
        with log_path.open("wb", buffering=0) as log:
            process: subprocess.Popen[bytes] | None = None
            pump: threading.Thread | None = None
            try:
                process = subprocess.Popen(
                    _command(executable, args),
                    env=dbt_environment(os.environ),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                assert process.stdout is not None
                pump = threading.Thread(
                    target=_pump, args=(process.stdout, log, echo, failed), daemon=True
                )
                pump.start()
                if on_start is not None:
                    on_start(process.pid)
                returncode = process.wait()
            except BaseException:
                if process is not None:
                    stop(process, stop_timeout)
                raise
            finally:
                if process is not None:
                    # Whatever dbt may have started in its group goes with it.
                    _signal_group(process.pid, signal.SIGKILL)
                    if pump is not None:
                        with contextlib.suppress(RuntimeError):  # interrupted before it ran
                            pump.join(_PUMP_GRACE)
                    assert process.stdout is not None
                    process.stdout.close()
        if failed:  # dbt ran to its end; its log is incomplete: the build cannot vouch for it
            raise failed[0]
        return returncode

    return run


def find_dbt(executable: str | None = None) -> str:
    """dbt next to this Python (the same virtualenv), else ``dbt`` on PATH."""
    if executable:
        return executable
    beside = Path(sys.executable).parent / "dbt"
    if beside.exists():
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise BuildError("dbt was not found next to this Python nor on PATH")
    return found
