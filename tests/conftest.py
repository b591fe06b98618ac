"""Fixtures shared by the suite, and the programs some tests need.

A test that needs the PostgreSQL server is marked `postgres`; one that needs a headless Chromium
is marked `chromium` (the `engine` fixture marks its postgres case itself). When the program is
missing, the test is skipped with a one-line reason naming it and the package that provides it,
except under CI=true, where it fails instead: CI installs both, so a missing one is a broken
setup, not something to skip past.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.dbt_harness import DbtProject, Fakesnow, chromium_available, postgres_available
from tests.snowflake_sql import Sent, check_all, record_statements

REQUIREMENTS: dict[str, Callable[[], str | None]] = {
    "postgres": postgres_available,
    "chromium": chromium_available,
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


@functools.cache
def missing(requirement: str) -> str | None:
    """Why `requirement` is unavailable (asked once per session), or None."""
    return REQUIREMENTS[requirement]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture: skip (or, under CI=true, fail) a test whose program is missing."""
    for requirement in REQUIREMENTS:
        if item.get_closest_marker(requirement) is None:
            continue
        reason = missing(requirement)
        if reason is None:
            continue
        if in_ci():
            pytest.fail(f"{reason} (CI=true: required, not skipped)", pytrace=False)
        pytest.skip(reason)


ENGINES = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_project(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator:
    made: list[DbtProject] = []

    def make(engine: str = "duckdb", name: str = "proj") -> DbtProject:
        if engine == "postgres" and request.node.get_closest_marker("postgres") is None:
            pytest.fail("a test that builds on PostgreSQL needs @pytest.mark.postgres")
        fakesnow = request.getfixturevalue("fakesnow_server") if engine == "snowflake" else None
        package_models = request.node.get_closest_marker("package_models") is not None
        project = DbtProject(
            tmp_path / name, engine=engine, fakesnow=fakesnow, package_models=package_models
        )
        made.append(project)
        return project

    yield make
    for project in made:
        project.drop_schema()


# --- Snowflake semantics: dbt-snowflake against a fakesnow server -----------------------------
# Tests opt in with `@SNOWFLAKE_TOO` (tests/dbt_harness.py); the server starts on the first
# snowflake project of the session and stops at its end.


_SERVERS: list[Fakesnow] = []  # the session's fakesnow server, once started


@pytest.fixture(scope="session")
def fakesnow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fakesnow]:
    try:
        import fakesnow  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"fakesnow is not installed ({exc}): install the dev extra, `make venv`")
    server = Fakesnow.start(tmp_path_factory.mktemp("fakesnow"))
    _SERVERS.append(server)
    yield server
    _SERVERS.remove(server)
    server.stop()


@pytest.fixture(autouse=True)
def snowflake_statements_checked() -> Iterator[None]:
    """Every statement a test sends to fakesnow (through the session's server, from dbt, the
    sidecar or the test itself, or in-process under `fakesnow.patch`) is checked against what
    Snowflake documents as unsupported (tests/snowflake_sql.py); the test that sent one fails.
    Statements sent while a module's fixtures were set up count for the module's first test."""
    sent: list[Sent] = []
    undo = record_statements(sent.append)
    try:
        yield
    finally:
        undo()
    for server in _SERVERS:
        sent.extend(server.statements_since_last_check())
    problems = check_all(sent)
    if problems:
        listed = "\n".join(str(p) for p in problems)
        pytest.fail(
            f"{len(problems)} statement(s) sent to Snowflake that Snowflake documents as "
            f"unsupported:\n{listed}",
            pytrace=False,
        )
