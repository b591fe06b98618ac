"""A command whose output goes to a reader that stops early (`sluice review list | head -1`)
ends quietly: no traceback, nothing on stderr, exit 141 (128 + SIGPIPE, as a shell reports a
command stopped by a closed pipe)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import scenario

# enough exceptions for `review list` to print far more than a pipe holds (64 KiB on Linux)
MANY_FAULTY = [f"{n},C1,weird,1,2024-01-01,2024-01-01 10:00:00" for n in range(100, 3100)]


def _sluice(project, *args: str) -> list[str]:
    """The installed `sluice` command (else `python -m sluice`), on the project."""
    script = Path(sys.executable).with_name("sluice")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sluice"]
    return [
        *command,
        *args,
        "--project-dir",
        str(project.root),
        "--profiles-dir",
        str(project.root),
    ]


def test_a_reader_that_closes_early_gets_no_traceback(make_project):
    project = make_project()
    scenario.setup(
        project,
        orders=scenario.GOOD_ORDERS + MANY_FAULTY,
        gate="{critical: 0, high: 5000, medium: 5000}",
    )
    project.dbt("build")

    # `sluice review list | head -1`: the reader takes the first line and goes away
    listing = subprocess.Popen(
        _sluice(project, "review", "list"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert listing.stdout is not None and listing.stderr is not None
    first = listing.stdout.readline()
    listing.stdout.close()
    err = listing.stderr.read().decode()
    listing.wait(timeout=120)
    assert first.startswith(b"3000 exceptions (status open)")
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert (listing.returncode, err) == (141, "")

    # a reader gone before the first line: `verify` prints its few lines into a closed pipe
    verify = subprocess.Popen(
        _sluice(project, "audit", "verify"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert verify.stdout is not None and verify.stderr is not None
    verify.stdout.close()
    err = verify.stderr.read().decode()
    verify.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert (verify.returncode, err) == (141, "")
