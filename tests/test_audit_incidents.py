"""Incident changes in the tamper-evident audit trail: `sluice report` seals the incident rows
it writes (chains `incidents` and `incident_causes`, one per exposure), and `sluice audit verify`
finds every edit, deletion and insertion of them, on real dbt builds and real warehouses.

One trail per engine is built once: a build whose held rows degrade the finance exposure and a
report that opens its incident; a report of the same build again (nothing new, no seal); then
the exposure leaves the project and a later build's report closes the incident. Each tampering
test works on its own copy of the warehouse tables.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sluice.cli import main

from tests import scenario
from tests.dbt_harness import DbtProject, copy_of

TABLES = (
    "sluice_exception_events",
    "sluice_runs",
    "sluice_audit_chain",
    "sluice_audit_records",
    "sluice_incidents",
    "sluice_incident_causes",
    # the report's status rows are sealed too (tests/test_audit_report_status.py)
    "sluice_exposure_status",
    "sluice_node_status",
)

EXPOSURES = """
exposures:
  - name: finance
    type: dashboard
    maturity: high
    owner: {name: Finance, email: finance@example.com}
    depends_on: [ref('orders_daily')]
  - name: ops
    type: application
    maturity: low
    owner: {name: Ops}
    depends_on: [ref('customers')]
"""
ONLY_OPS = "exposures:\n" + EXPOSURES[EXPOSURES.index("  - name: ops") :]


def _cli(project: DbtProject, capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _report(project: DbtProject, capsys) -> None:
    code, out, err = _cli(
        project,
        capsys,
        "report",
        "--format",
        "json",
        "--output-dir",
        str(project.root / "reports"),
        "--state-path",
        str(project.root / "state.json"),
    )
    assert code in (0, 1), out + err


def _seals(project: DbtProject) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, list[tuple[int, int]]] = {}
    for chain, seq, count in project.query(
        "select chain_name, sequence_number, record_count from {schema}.sluice_audit_chain "
        "where chain_name in ('incidents', 'incident_causes') order by 1, 2"
    ):
        found.setdefault(chain, []).append((int(seq), int(count)))
    return found


def _build_trail(project: DbtProject, capsys) -> None:
    scenario.setup(project)
    project.write("models/exposures.yml", EXPOSURES)
    project.dbt("build")
    _report(project, capsys)
    assert project.query("select exposure_name, change_type from {schema}.sluice_incidents") == [
        ("finance", "opened")
    ]
    opened = _seals(project)
    assert opened["incidents"] == [(1, 1)] and len(opened["incident_causes"]) == 1
    # the same build reported again: no change, so no seal
    _report(project, capsys)
    assert _seals(project) == opened
    # the finance exposure leaves the project: the next report closes its incident
    project.write("models/exposures.yml", ONLY_OPS)
    project.dbt("run", "-s", "orders")
    _report(project, capsys)
    assert project.query(
        "select change_type from {schema}.sluice_incidents order by changed_at"
    ) == [("opened",), ("closed",)]


@pytest.fixture(scope="module")
def built_trails(tmp_path_factory: pytest.TempPathFactory):
    """engine -> a project whose trail was built once (built on first use)."""
    built: dict[str, DbtProject] = {}
    yield built, tmp_path_factory
    for project in built.values():
        project.drop_schema()


@pytest.fixture
def trail(engine: str, built_trails, tmp_path: Path, capsys):
    """A copy of the built trail's warehouse tables, for this test alone."""
    built, factory = built_trails
    if engine not in built:
        project = DbtProject(factory.mktemp(f"incident_trail_{engine}"), engine=engine)
        built[engine] = project
        _build_trail(project, capsys)
    origin = built[engine]
    copy = copy_of(origin, tmp_path / "copy", TABLES)
    yield copy
    copy.drop_schema()


def _names(project: DbtProject) -> dict[str, str]:
    rows = dict(project.query("select change_type, change_id from {schema}.sluice_incidents"))
    exposure = project.query("select min(exposure_unique_id) from {schema}.sluice_incidents")
    return {"opened": rows["opened"], "closed": rows["closed"], "exposure": exposure[0][0]}


def test_reports_seal_their_incident_changes(trail, capsys):
    code, out, err = _cli(trail, capsys, "audit", "verify")
    assert code == 0, out + err
    assert "intact" in out
    names = _names(trail)
    seals = _seals(trail)
    # a seal per report that wrote a change: opened, then closed (a closing change has no cause)
    assert seals["incidents"] == [(1, 1), (2, 1)]
    causes = trail.query("select count(*) from {schema}.sluice_incident_causes")[0][0]
    assert causes > 0 and seals["incident_causes"] == [(1, causes)]
    # each chain is the exposure's, its records are keyed by change
    assert trail.query(
        "select distinct model_unique_id from {schema}.sluice_audit_chain "
        "where chain_name in ('incidents', 'incident_causes')"
    ) == [(names["exposure"],)]
    assert sorted(
        trail.query(
            "select record_key from {schema}.sluice_audit_records where chain_name = 'incidents'"
        )
    ) == sorted([(names["opened"],), (names["closed"],)])


TAMPERING = {
    "edit_incident": (
        "update {schema}.sluice_incidents set owners = 'mallory' where change_id = '{opened}'",
        "sluice_incidents change_id {opened} ({exposure}, seal 1): edited",
    ),
    "delete_incident": (
        "delete from {schema}.sluice_incidents where change_id = '{closed}'",
        "sluice_incidents change_id {closed} ({exposure}, seal 2): removed",
    ),
    "insert_forged_incident": (
        "insert into {schema}.sluice_incidents select 'forged', incident_id, change_type, "
        "exposure_unique_id, exposure_name, exposure_label, status, previous_status, "
        "criticality, owners, fix_owners, root_cause_ids, rows_held_upstream, opened_at, "
        "changed_at, closed_at, duration_seconds, close_reason, invocation_id, "
        "opened_invocation_id, generated_at from {schema}.sluice_incidents "
        "where change_id = '{opened}'",
        "sluice_incidents change_id forged ({exposure}): inserted",
    ),
    "copy_an_incident": (
        "insert into {schema}.sluice_incidents "
        "select * from {schema}.sluice_incidents where change_id = '{closed}'",
        "sluice_incidents change_id {closed} ({exposure}, seal 2): inserted",
    ),
    "edit_a_cause": (
        "update {schema}.sluice_incident_causes set owner = 'mallory'",
        "sluice_incident_causes change_id {opened} ({exposure}, seal 1): edited",
    ),
    "delete_a_cause": (
        "delete from {schema}.sluice_incident_causes",
        "sluice_incident_causes change_id {opened} ({exposure}, seal 1): removed",
    ),
    "insert_a_cause": (
        "insert into {schema}.sluice_incident_causes select * from {schema}.sluice_incident_causes",
        "sluice_incident_causes change_id {opened} ({exposure}, seal 1): inserted",
    ),
    "delete_an_incident_seal": (
        "delete from {schema}.sluice_audit_chain where chain_name = 'incidents' "
        "and sequence_number = 1",
        "sluice_incidents chain ({exposure}, seal 1): seal removed",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_with_incidents_is_found_and_the_record_named(trail, capsys, case):
    sql, expected = TAMPERING[case]
    names = _names(trail)
    trail.execute(sql.format(schema="{schema}", **names))
    code, out, err = _cli(trail, capsys, "audit", "verify")
    assert code == 1, out + err
    first = next(line for line in out.splitlines() if line.startswith("first: "))
    assert first.startswith("first: " + expected.format(**names)), out
