"""`sluice audit verify` and `sluice audit export` count the same thing, in the same words: the
seals and the records they sealed. The export writes each sealed record once, with the row of
its table that holds its content: also in a table whose key is shared by several rows (the
report's node status rows, keyed by the dbt invocation), and when a later seal replaced a key's
rows (the same invocation reported again)."""

from __future__ import annotations

import json
import re
from collections import Counter

from sluice.cli import main

from tests import scenario


def _sluice(project, capsys, *args: str) -> tuple[int, str]:
    code = main([*args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_verify_and_export_count_the_same_sealed_records(make_project, engine, capsys, tmp_path):
    project = make_project(engine)
    scenario.setup(project)
    project.install_package()
    # `sluice build` seals its attempt and, through its report, one status row per node, all
    # keyed by the one dbt invocation; reporting that invocation again seals its rows again
    code, out = _sluice(project, capsys, "build")
    assert code == 0, out
    code, out = _sluice(project, capsys, "report")
    assert code in (0, 1), out

    seals, records = project.query(
        "select (select count(*) from {schema}.sluice_audit_chain), "
        "(select count(*) from {schema}.sluice_audit_records)"
    )[0]
    node_seals = project.query(
        "select sequence_number, record_count from {schema}.sluice_audit_chain "
        "where chain_name = 'node_status' order by 1"
    )
    assert [seq for seq, _ in node_seals] == [1, 2] and node_seals[0][1] > 1

    code, verified = _sluice(project, capsys, "audit", "verify")
    assert code == 0, verified
    output = tmp_path / "trail.jsonl"
    code, exported = _sluice(project, capsys, "audit", "export", "--output", str(output))
    assert code == 0, exported

    # the same numbers, named the same way
    counted = re.search(r"intact: (\d+) chains, (\d+) seals, (\d+) sealed records", verified)
    assert counted, verified
    assert (int(counted[2]), int(counted[3])) == (seals, records)
    assert f"{seals} seals and {records} sealed records written to {output}" in exported

    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    written = [line for line in lines if line["kind"] == "record"]
    assert len(written) == records
    # each sealed record once
    once = Counter(
        (
            r["chain_name"],
            r["model_unique_id"],
            r["sequence_number"],
            r["record_key"],
            r["record_hash"],
        )
        for r in written
    )
    assert set(once.values()) == {1}
    # the node status rows of the invocation: each paired with one record of the latest seal;
    # the first seal's records were replaced by sluice, their rows are gone
    nodes = [r for r in written if r["chain_name"] == "node_status"]
    first, latest = node_seals[0][1], node_seals[1][1]
    assert [r["row"] for r in nodes if r["sequence_number"] == 1] == [None] * first
    paired = [r["row"]["node_unique_id"] for r in nodes if r["sequence_number"] == 2]
    assert len(paired) == len(set(paired)) == latest
    assert all(r["row"]["invocation_id"] == r["record_key"] for r in nodes if r["row"])
    # every other sealed record still has its row
    assert all(r["row"] is not None for r in written if r["chain_name"] != "node_status")
