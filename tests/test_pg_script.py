"""tests/pg.sh on a fresh clone: its data directory is one the server's user can reach, and
`start` does nothing while a server answers on the port."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "pg.sh"


def _datadir(script: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "SLUICE_PG_DATA"}
    done = subprocess.run(
        ["bash", str(script), "datadir"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _has_postgres_user() -> bool:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return shutil.which("runuser") is not None


@pytest.mark.skipif(
    os.geteuid() != 0 or not _has_postgres_user(),
    reason="the server's user differs from the caller only when run as root with a postgres user",
)
def test_a_clone_in_a_private_folder_gets_a_data_directory_the_server_can_reach(
    tmp_path: Path,
) -> None:
    private = tmp_path / "private"
    (private / "clone" / "tests").mkdir(parents=True)
    private.chmod(0o700)
    script = private / "clone" / "tests" / "pg.sh"
    shutil.copy(SCRIPT, script)
    data = _datadir(script)
    assert not data.startswith(str(private)), data
    assert data.startswith("/tmp/sluice-pgdata-")
    # one per checkout, the same every time (stop removes what start made)
    assert _datadir(script) == data
    other = private / "other" / "tests"
    other.mkdir(parents=True)
    shutil.copy(SCRIPT, other / "pg.sh")
    assert _datadir(other / "pg.sh") != data


def test_a_reachable_checkout_keeps_pgdata_and_the_variable_wins(tmp_path: Path) -> None:
    (tmp_path / "clone" / "tests").mkdir(parents=True)
    tmp_path.chmod(0o755)
    script = tmp_path / "clone" / "tests" / "pg.sh"
    shutil.copy(SCRIPT, script)
    if os.geteuid() != 0 or not _has_postgres_user():
        assert _datadir(script) == str(tmp_path / "clone" / ".pgdata")
    assert _datadir(script, SLUICE_PG_DATA="/somewhere/else") == "/somewhere/else"
