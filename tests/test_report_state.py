"""The report's state file: reports sharing one never lose an invocation, a file of another
project or without a version is refused, and a full disk stops the report before the warehouse."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import duckdb
import pytest
from sluice.artifacts import load_artifacts
from sluice.artifacts.history import state_lock
from sluice.cli import main
from sluice.errors import InputError
from sluice.project import ProjectFlags, load_project
from sluice.report import generate_report, read_inputs

from tests.fixtures import synth


def _invocation(root: Path, invocation_id: str, model: str) -> Path:
    """A target folder with one invocation building ``model``."""
    man = synth.manifest(
        [synth.model(model)],
        exposures=[synth.exposure(f"dash_{model}", (synth.uid(model),))],
        invocation_id=invocation_id,
    )
    runs = synth.run_results(
        [synth.result(synth.uid(model), "success")], invocation_id=invocation_id
    )
    return synth.write_target(root / f"target-{invocation_id}", man, runs)


def _invocations(state_path: Path) -> set[str]:
    return {i["invocation_id"] for i in json.loads(state_path.read_text())["invocations"]}


def test_two_reports_read_before_either_writes_keep_both_invocations(tmp_path: Path) -> None:
    project = load_project(ProjectFlags(project_dir=synth.write_project(tmp_path / "proj")))
    state = tmp_path / "state_dir" / "state.json"
    first, second = (
        read_inputs(
            project,
            artifacts=load_artifacts(_invocation(tmp_path, name, model)),
            warehouse=False,
            state_path=state,
        )
        for name, model in (("inv-a", "a"), ("inv-b", "b"))
    )
    # both read the (absent) state before either writes: the second must not drop the first
    generate_report(inputs=first, warehouse=False, output_dir=tmp_path / "out-a")
    generate_report(inputs=second, warehouse=False, output_dir=tmp_path / "out-b")
    assert _invocations(state) == {"inv-a", "inv-b"}
    nodes = json.loads(state.read_text())["nodes"]
    assert {nodes[synth.uid("a")]["invocation_id"], nodes[synth.uid("b")]["invocation_id"]} == {
        "inv-a",
        "inv-b",
    }


def test_a_report_waits_for_the_state_file_lock(tmp_path: Path) -> None:
    project = load_project(ProjectFlags(project_dir=synth.write_project(tmp_path / "proj")))
    state = tmp_path / "state.json"
    inputs = read_inputs(
        project,
        artifacts=load_artifacts(_invocation(tmp_path, "inv-a", "a")),
        warehouse=False,
        state_path=state,
    )
    done = threading.Event()

    def report() -> None:
        generate_report(inputs=inputs, warehouse=False, output_dir=tmp_path / "out")
        done.set()

    with state_lock(state):
        worker = threading.Thread(target=report)
        worker.start()
        assert not done.wait(0.5), "the report wrote the state file while another held its lock"
    worker.join(30)
    assert done.is_set() and _invocations(state) == {"inv-a"}


def test_a_state_file_of_another_project_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    synth.write_target(root / "target", man, runs, fresh)
    state = root / "target" / "sluice" / "state.json"
    state.parent.mkdir(parents=True)
    foreign = {
        "version": 1,
        "project": "someone_elses",
        "nodes": {"model.other.x": {"status": "success", "invocation_id": "theirs"}},
        "invocations": [{"invocation_id": "theirs", "command": "build"}],
    }
    state.write_text(json.dumps(foreign))
    code = main(["report", "--project-dir", str(root), "--no-warehouse"])
    err = capsys.readouterr().err
    assert code == 2
    assert str(state) in err and "someone_elses" in err
    assert json.loads(state.read_text()) == foreign
    assert sorted(p.name for p in state.parent.iterdir()) == ["state.json"]


def test_a_state_file_without_a_version_is_refused(tmp_path: Path) -> None:
    root = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    synth.write_target(root / "target", man, runs, fresh)
    state = root / "target" / "sluice" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"project": "shop", "nodes": {}, "invocations": []}))
    with pytest.raises(InputError, match="version") as caught:
        generate_report(root, warehouse=False)
    assert str(state) in str(caught.value)


def test_the_state_file_names_its_project_and_version(tmp_path: Path) -> None:
    root = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    synth.write_target(root / "target", man, runs, fresh)
    generate_report(root, warehouse=False)
    doc = json.loads((root / "target" / "sluice" / "state.json").read_text())
    assert (doc["version"], doc["project"]) == (1, "shop")


# -- the files before the warehouse ------------------------------------------------------------


def test_a_report_that_cannot_write_its_files_writes_nothing_to_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    synth.write_target(root / "target", man, runs, fresh)
    synth.create_sluice_runs(root / "wh.duckdb", [synth.sluice_run("orders", rows_held=40)])
    out = tmp_path / "out"
    out.mkdir()
    real_fdopen = __import__("os").fdopen

    class Full:
        """A file whose writes fail as on a full disk."""

        def __init__(self, fd: int, mode: str) -> None:
            self.handle = real_fdopen(fd, mode)

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("sluice.report.os.fdopen", Full)
    with pytest.raises(InputError, match="No space left on device"):
        generate_report(root, profiles_dir=root, output_dir=out)
    assert list(out.iterdir()) == []  # no .report.html.* left behind
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    try:
        tables = con.execute(
            "select table_name from information_schema.tables where table_name like 'sluice_%'"
        ).fetchall()
    finally:
        con.close()
    assert tables == [("sluice_runs",)]


def test_a_report_into_a_real_full_folder_writes_nothing_and_leaves_no_temporary_file(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import subprocess

    root = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    synth.write_target(root / "target", man, runs, fresh)
    synth.create_sluice_runs(root / "wh.duckdb", [synth.sluice_run("orders", rows_held=40)])
    out = tmp_path / "full"
    out.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(out)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("a tmpfs cannot be mounted here (not root): the injected ENOSPC test stands")
    try:
        (out / "filler").write_bytes(b"\0" * (1024 - 8) * 1024)  # 8 KiB left
        code = main(["report", "--project-dir", str(root), "--profiles-dir", str(root),
                     "--output-dir", str(out)])  # fmt: skip
        err = capfd.readouterr().err
        assert code == 2, err
        assert "cannot write the report" in err and "Traceback" not in err
        assert sorted(p.name for p in out.iterdir()) == ["filler"]  # no .report.html.* left
    finally:
        subprocess.run(["umount", str(out)], check=False)
    con = duckdb.connect(str(root / "wh.duckdb"), read_only=True)
    try:
        tables = con.execute(
            "select table_name from information_schema.tables where table_name like 'sluice_%'"
        ).fetchall()
    finally:
        con.close()
    assert tables == [("sluice_runs",)]


def test_a_report_that_seals_keeps_the_trails_head_outside_the_warehouse(tmp_path: Path) -> None:
    root = synth.write_project(tmp_path / "proj")
    man, runs, fresh = synth.shop()
    synth.write_target(root / "target", man, runs, fresh)
    synth.create_sluice_runs(root / "wh.duckdb", [synth.sluice_run("orders", rows_held=40)])
    out = tmp_path / "out"
    generate_report(root, profiles_dir=root, output_dir=out)
    heads = root / "target" / "sluice" / "audit_heads.jsonl"
    [line] = heads.read_text().splitlines()
    head = json.loads(line)
    assert head["kind"] == "head" and head["recorded_by"] == "sluice report"
    assert {t["chain_name"] for t in head["tips"]} >= {"exposure_status", "node_status"}
    # reporting the invocation again seals its rows again: a new head, appended
    generate_report(root, profiles_dir=root, output_dir=out)
    first, second = heads.read_text().splitlines()
    assert first == line and json.loads(second)["digest"] != head["digest"]
