"""The warehouse door on DuckDB and PostgreSQL: what a connection knows of sluice's tables follows
what its transactions did, and a read-only connection (`sluice audit`'s) refuses writes."""

from __future__ import annotations

import duckdb
import pytest
from sluice.project import ProjectFlags, load_project
from sluice.warehouse import connect

from tests.dbt_harness import DbtProject


def _project(made: DbtProject):
    if made.engine == "duckdb":
        duckdb.connect(str(made.root / "test.duckdb")).close()
    return load_project(ProjectFlags(project_dir=made.root, profiles_dir=made.root))


def test_a_table_created_in_a_rolled_back_transaction_is_not_known(make_project, engine) -> None:
    project = _project(make_project(engine))
    schema = project.sluice_schema()
    with connect(project) as wh:
        relation = wh.relation(schema, "probe")
        assert not wh.table_exists(schema, "probe")
        with pytest.raises(RuntimeError, match="stop"), wh.transaction():
            wh.ensure_table(schema, "probe", [("a", "text")])
            assert wh.table_exists(schema, "probe")
            raise RuntimeError("stop")
        assert not wh.table_exists(schema, "probe")

        wh.ensure_table(schema, "probe", [("a", "text")])
        wh.ensure_table(schema, "probe", [("a", "text"), ("b", "bigint")])  # a newer column
        assert wh.columns(schema, "probe") == ["a", "b"]
        wh.insert(relation, ["a", "b"], [("x", 1)])
        assert wh.query(f"select a, b from {relation}") == [("x", 1)]


def test_a_read_only_connection_refuses_writes(make_project, engine) -> None:
    project = _project(make_project(engine))
    schema = project.sluice_schema()
    with connect(project) as wh, wh.transaction():
        wh.ensure_table(schema, "kept", [("a", "text")])
    with connect(project, read_only=True) as wh:
        assert wh.table_exists(schema, "kept")
        with pytest.raises(Exception, match=r"(?i)read.only"):
            wh.execute(f"insert into {wh.relation(schema, 'kept')} (a) values (%s)", ("x",))


@pytest.mark.postgres
def test_connecting_does_not_walk_the_callers_stack(make_project, monkeypatch) -> None:
    """dbt names each behavior flag's source by walking the call stack, once per flag: the
    adapter is built where that stack is dbt's own, however deep the caller's is (a scheduler,
    a test runner), so connecting costs the same from anywhere."""
    import inspect

    project = _project(make_project("postgres"))
    walked: list[int] = []
    stack = inspect.stack

    def counted(*args, **kwargs):
        frames = stack(*args, **kwargs)
        walked.append(len(frames))
        return frames

    monkeypatch.setattr(inspect, "stack", counted)

    def deep(depth: int) -> list[tuple]:
        if depth:
            return deep(depth - 1)
        with connect(project) as wh:
            return wh.query("select 1")

    assert deep(300) == [(1,)]
    assert walked, "the adapter's behavior flags no longer walk the stack: this test is moot"
    assert max(walked) < 100, max(walked)
