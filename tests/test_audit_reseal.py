"""Wipe and re-seal: an attacker with write access to the warehouse edits a sealed `decided`
event, deletes that chain's seals and records, and waits for the next build to seal the chain
afresh, forged event included. A build never seals over lost history: the package's seal takes
only its own rows into a chain that starts again once the model's trail exists, `sluice build`
refuses before dbt runs (exit 6, nothing written), and the heads every `sluice build` keeps in
target/sluice/audit_heads.jsonl catch a chain deleted with every other chain of its model."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from sluice.cli import main

from tests import scenario
from tests.dbt_harness import DbtProject

ORDERS = "model.sluice_test.orders"


def _audit(project: DbtProject, capsys, *args: str) -> tuple[int, str]:
    code = main(
        ["audit", *args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    )
    out = capsys.readouterr()
    return code, out.out + out.err


def _sluice_build(project: DbtProject, capsys, *args: str) -> tuple[int, str]:
    code = main(
        ["build", "--project-dir", str(project.root), "--profiles-dir", str(project.root),
         "--no-report", "--dbt-log", "--max-attempts", "1", *args]
    )  # fmt: skip
    out = capsys.readouterr()
    return code, out.out + out.err


def _decided_trail(project: DbtProject) -> str:
    """Two builds of the example scenario with a reviewer's decision between them: the decided
    event's id."""
    scenario.setup(project)
    project.dbt("build", expect=None)
    exception_id = project.query(
        "select exception_id from {schema}.orders__quarantine where record_key = '[4]' "
        "and rule_name = 'orders_customer_exists'"
    )[0][0]
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
        "decision, decided_by, decided_at, reason) values "
        f"('{uuid.uuid4().hex}', '{exception_id}', '{ORDERS}', 'release', "
        "'ana@finance', cast(current_timestamp as timestamp), 'checked with the ERP team')"
    )
    project.dbt("run", "-s", "orders", expect=None)
    [(event_id,)] = project.query(
        "select event_id from {schema}.sluice_exception_events where event_type = 'decided'"
    )
    return str(event_id)


def _forge_and_wipe(project: DbtProject, event_id: str, chains: tuple[str, ...]) -> None:
    project.execute(
        "update {schema}.sluice_exception_events set actor = 'eve', reason = 'approved' "
        f"where event_id = '{event_id}'"
    )
    names = ", ".join(f"'{c}'" for c in chains)
    for table in ("sluice_audit_records", "sluice_audit_chain"):
        project.execute(
            f"delete from {{schema}}.{table} where chain_name in ({names}) "
            f"and model_unique_id = '{ORDERS}'"
        )


def _seals(project: DbtProject) -> list[tuple[object, ...]]:
    return project.query(
        "select chain_name, model_unique_id, sequence_number, chain_hash "
        "from {schema}.sluice_audit_chain order by 1, 2, 3"
    )


def test_a_chain_deleted_under_a_forged_event_is_never_sealed_afresh(make_project, capsys):
    project = make_project("duckdb")
    event_id = _decided_trail(project)
    _forge_and_wipe(project, event_id, ("exception_events",))
    code, out = _audit(project, capsys, "verify")
    assert code == 1, out

    # sluice build refuses before dbt runs: exit 6, the chain named, nothing written
    before = _seals(project)
    code, out = _sluice_build(project, capsys)
    assert code == 6, out
    assert "sluice_exception_events" in out and ORDERS in out and "Traceback" not in out
    assert "sluice audit verify" in out
    assert _seals(project) == before
    assert not (project.root / "target" / "sluice" / "build.json").exists()

    # an ordinary dbt build seals only its own rows into the chain that starts again: the
    # forged event stays outside every seal, and verify keeps saying so
    project.dbt("run", "-s", "orders", expect=None)
    code, out = _audit(project, capsys, "verify")
    assert code == 1, out
    assert event_id in out
    sealed = project.query(
        "select count(*) from {schema}.sluice_audit_records "
        f"where chain_name = 'exception_events' and record_key = '{event_id}'"
    )
    assert sealed == [(0,)]


def test_the_recorded_heads_catch_a_model_whose_every_chain_was_deleted(make_project, capsys):
    project = make_project("duckdb")
    event_id = _decided_trail(project)
    code, out = _sluice_build(project, capsys)
    assert code in (0, 1), out
    heads = project.root / "target" / "sluice" / "audit_heads.jsonl"
    lines = heads.read_text().splitlines()
    assert lines and json.loads(lines[-1])["recorded_by"] == "sluice build"
    code, out = _audit(project, capsys, "verify")
    assert code == 0 and "checked against the head recorded in" in out, out

    # every chain of the model deleted: to the warehouse alone it looks like a trail never
    # sealed, and the next ordinary build seals the whole history afresh, forged event included
    _forge_and_wipe(project, event_id, ("exception_events", "runs", "decisions"))
    project.dbt("run", "-s", "orders", expect=None)
    code, out = _audit(project, capsys, "verify", "--no-heads")
    assert code == 0, out  # the warehouse alone cannot tell

    # the head kept outside the warehouse can: the chain is shorter than it was
    code, out = _audit(project, capsys, "verify")
    assert code == 1, out
    assert "rewritten" in out and "sealed history is gone" in out and ORDERS in out
    assert heads.read_text().splitlines() == lines  # verify only reads it

    code, out = _sluice_build(project, capsys)
    assert code == 6, out
    assert "audit_heads.jsonl" in out and "Traceback" not in out


def test_a_head_line_cut_short_is_passed_over(tmp_path: Path):
    from sluice.audit.heads import latest_head

    path = tmp_path / "audit_heads.jsonl"
    whole = {"kind": "head", "recorded_at": "t", "recorded_by": "sluice build", "tips": [
        {"chain_name": "runs", "model_unique_id": ORDERS, "sequence_number": 2,
         "chain_hash": "ab"}]}  # fmt: skip
    path.write_text(json.dumps(whole) + "\n" + json.dumps(whole)[:20])
    recorded = latest_head(path)
    assert recorded is not None and recorded.line == 1
    assert [t.sequence_number for t in recorded.tips] == [2]


def test_the_same_head_is_recorded_once(tmp_path: Path):
    from sluice.audit.chain import Seal, trail_head
    from sluice.audit.heads import latest_head, record_head

    seal = Seal("runs", ORDERS, 1, "i", 1, "c", "h", "0" * 32, "ab", None)
    path = tmp_path / "sluice" / "audit_heads.jsonl"
    assert record_head(path, trail_head([seal]), by="sluice build", invocation_id="a")
    assert not record_head(path, trail_head([seal]), by="sluice build", invocation_id="b")
    assert not record_head(path, None, by="sluice build", invocation_id="c")
    recorded = latest_head(path)
    assert recorded is not None and recorded.line == 1 and recorded.recorded_by == "sluice build"
