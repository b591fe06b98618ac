from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbt_harness import DbtProject, Fakesnow, postgres_available

ENGINES = ["duckdb", "postgres"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        reason = postgres_available()
        if reason is not None:
            pytest.fail(reason)
    return str(request.param)


@pytest.fixture
def make_project(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator:
    made: list[DbtProject] = []

    def make(engine: str = "duckdb", name: str = "proj") -> DbtProject:
        if engine == "postgres":
            reason = postgres_available()
            if reason is not None:
                pytest.fail(reason)
        fakesnow = request.getfixturevalue("fakesnow_server") if engine == "snowflake" else None
        project = DbtProject(tmp_path / name, engine=engine, fakesnow=fakesnow)
        made.append(project)
        return project

    yield make
    for project in made:
        project.drop_schema()


# --- Snowflake semantics: dbt-snowflake against a fakesnow server -----------------------------
# Tests opt in with `@SNOWFLAKE_TOO` (tests/dbt_harness.py); the server starts on the first
# snowflake project of the session and stops at its end.


@pytest.fixture(scope="session")
def fakesnow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fakesnow]:
    try:
        import fakesnow  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"fakesnow is not installed ({exc}): install the dev extra, `make venv`")
    server = Fakesnow.start(tmp_path_factory.mktemp("fakesnow"))
    yield server
    server.stop()
