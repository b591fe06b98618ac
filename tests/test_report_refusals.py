"""Artifacts dbt itself would refuse are refused by the report too: exit 2, a message naming the
file and what is wrong, and nothing written (no report, no state file, no warehouse table)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sluice.artifacts import load_artifacts
from sluice.cli import main
from sluice.errors import InputError
from sluice.report import generate_report

from tests.fixtures import synth

Doc = dict[str, Any]


def _project(tmp_path: Path) -> Path:
    project = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    synth.write_target(project / "target", man, runs, fresh)
    synth.create_sluice_runs(project / "wh.duckdb", [synth.sluice_run("orders", rows_held=40)])
    return project


def _tables(db: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select table_name from information_schema.tables where table_name like 'sluice_%'"
        ).fetchall()
    finally:
        con.close()


def _without(key: str) -> Callable[[Doc], Doc]:
    return lambda doc: {k: v for k, v in doc.items() if k != key}


MISSING_KEYS = [
    ("manifest.json", "nodes"),
    ("manifest.json", "sources"),
    ("manifest.json", "exposures"),
    ("run_results.json", "results"),
    ("sources.json", "results"),
]


@pytest.mark.parametrize(("name", "key"), MISSING_KEYS, ids=lambda v: str(v))
def test_a_required_key_missing_is_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, key: str
) -> None:
    project = _project(tmp_path)
    path = project / "target" / name
    path.write_text(json.dumps(_without(key)(json.loads(path.read_text()))))
    code = main(["report", "--project-dir", str(project), "--profiles-dir", str(project)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert str(path) in err and f"`{key}`" in err and "missing required field" in err
    assert "Traceback" not in err
    assert not (project / "target" / "sluice").exists()
    assert _tables(project / "wh.duckdb") == [("sluice_runs",)]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("name", ["manifest.json", "run_results.json", "sources.json"])
@pytest.mark.parametrize("metadata_first", [True, False], ids=["metadata-first", "metadata-last"])
def test_deep_nesting_is_a_clear_refusal_not_a_recursion_error(
    tmp_path: Path, name: str, metadata_first: bool
) -> None:
    man, runs, fresh = synth.shop()
    target = synth.write_target(tmp_path / "target", man, runs, fresh)
    path = target / name
    doc = json.loads(path.read_text())
    body = json.dumps({k: v for k, v in doc.items() if k != "metadata"})[1:-1]
    metadata = '"metadata": ' + json.dumps(doc["metadata"])
    deep = f'"deep": {_nested(100_000)}'
    parts = [metadata, deep, body] if metadata_first else [deep, body, metadata]
    path.write_text("{" + ", ".join(parts) + "}")
    with pytest.raises(InputError, match="nested too deeply") as caught:
        load_artifacts(target)
    assert str(path) in str(caught.value)


def test_a_thousand_nested_arrays_in_an_ignored_field_still_load(tmp_path: Path) -> None:
    # the case of the issue: nesting dbt could write in a field sluice does not read is read
    # (or refused) without a traceback, never a RecursionError
    man, runs, fresh = synth.shop()
    man["nodes"][synth.uid("orders")]["config"]["deep"] = "__DEEP__"
    target = synth.write_target(tmp_path / "target", man, runs, fresh)
    path = target / "manifest.json"
    path.write_text(path.read_text().replace('"__DEEP__"', _nested(1000)))
    try:
        artifacts = load_artifacts(target)
    except InputError as exc:
        assert "nested too deeply" in str(exc)
    else:
        assert synth.uid("orders") in artifacts.manifest.nodes


@pytest.mark.parametrize("name", ["manifest.json", "run_results.json", "sources.json"])
def test_invalid_utf8_is_refused_alike_in_every_artifact(tmp_path: Path, name: str) -> None:
    man, runs, fresh = synth.shop()
    target = synth.write_target(tmp_path / "target", man, runs, fresh)
    path = target / name
    doc = json.loads(path.read_text())
    # in a field sluice does not read, so only a check of the whole file can see it
    doc["unread_by_sluice"] = "__BAD__"
    path.write_bytes(json.dumps(doc).encode().replace(b"__BAD__", b"caf\xe9"))
    with pytest.raises(InputError, match="not UTF-8") as caught:
        load_artifacts(target)
    assert str(path) in str(caught.value)


def test_a_dangling_sources_symlink_is_an_error_not_an_absent_file(tmp_path: Path) -> None:
    man, runs, _ = synth.shop()
    target = synth.write_target(tmp_path / "target", man, runs)
    (target / "sources.json").symlink_to(tmp_path / "elsewhere" / "sources.json")
    with pytest.raises(InputError, match="symbolic link") as caught:
        load_artifacts(target)
    assert "sources.json" in str(caught.value)
    assert caught.value.exit_code == 2


def test_an_absent_sources_json_is_still_fine(tmp_path: Path) -> None:
    man, runs, _ = synth.shop()
    target = synth.write_target(tmp_path / "target", man, runs)
    assert load_artifacts(target).sources is None
    assert generate_report(tmp_path, warehouse=False).outputs
