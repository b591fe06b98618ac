from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbt_harness import DbtProject, postgres_available

ENGINES = ["duckdb", "postgres"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        reason = postgres_available()
        if reason is not None:
            pytest.fail(reason)
    return str(request.param)


@pytest.fixture
def make_project(tmp_path: Path) -> Iterator:
    made: list[DbtProject] = []

    def make(engine: str = "duckdb", name: str = "proj") -> DbtProject:
        if engine == "postgres":
            reason = postgres_available()
            if reason is not None:
                pytest.fail(reason)
        project = DbtProject(tmp_path / name, engine=engine)
        made.append(project)
        return project

    yield make
    for project in made:
        project.drop_schema()
