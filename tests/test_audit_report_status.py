"""The report's status rows in the tamper-evident audit trail: `sluice report` seals the rows it
writes to sluice_exposure_status, sluice_node_status and sluice_source_freshness (chains
`exposure_status`, `node_status`, `source_freshness`, one per table for the project, records
keyed by the dbt invocation reported), and `sluice audit verify` finds every edit, deletion and
insertion of them, on real dbt builds and real warehouses.

One trail per engine is built once: a source freshness check, a build and its report; a report
of the same invocation again (its rows replaced, and sealed again); then a later run and its
report. Each tampering test works on its own copy of the warehouse tables.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sluice.cli import main
from sluice.report.tables import COLUMNS

from tests import scenario
from tests.dbt_harness import DbtProject, copy_of

STATUS_TABLES = ("sluice_exposure_status", "sluice_node_status", "sluice_source_freshness")
CHAIN_OF = dict(zip(STATUS_TABLES, ("exposure_status", "node_status", "source_freshness")))
TABLES = (
    "sluice_exception_events",
    "sluice_runs",
    "sluice_audit_chain",
    "sluice_audit_records",
    "sluice_incidents",
    "sluice_incident_causes",
    *STATUS_TABLES,
)

EXPOSURES = """
exposures:
  - name: finance
    type: dashboard
    maturity: high
    owner: {name: Finance, email: finance@example.com}
    depends_on: [ref('orders_daily')]
"""
SOURCES = """
sources:
  - name: erp
    schema: "{{ target.schema }}"
    tables:
      - name: raw_orders
        config:
          loaded_at_field: loaded_at
          freshness:
            warn_after: {count: 1, period: day}
"""


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


def _seals(project: DbtProject) -> dict[str, list[tuple[str, int, int]]]:
    found: dict[str, list[tuple[str, int, int]]] = {}
    for chain, model, seq, count in project.query(
        "select chain_name, model_unique_id, sequence_number, record_count "
        "from {schema}.sluice_audit_chain "
        "where chain_name in ('exposure_status', 'node_status', 'source_freshness') "
        "order by 1, 3"
    ):
        found.setdefault(chain, []).append((model, int(seq), int(count)))
    return found


def _invocations(project: DbtProject) -> list[str]:
    """The invocations reported, in order."""
    return [
        r[0]
        for r in project.query(
            "select invocation_id from {schema}.sluice_exposure_status "
            "group by invocation_id order by min(generated_at)"
        )
    ]


def _build_trail(project: DbtProject, capsys) -> None:
    scenario.setup(project)
    project.write("models/exposures.yml", EXPOSURES)
    project.write("models/sources.yml", SOURCES)
    project.dbt("seed")
    # freshness first: `dbt source freshness` rewrites manifest.json
    project.dbt("source", "freshness", expect=None)
    project.dbt("build")
    _report(project, capsys)
    first = _seals(project)
    assert set(first) == set(CHAIN_OF.values()), first
    assert all(seals == [("sluice_report", 1, seals[0][2])] for seals in first.values()), first
    # the same invocation reported again: its rows are replaced, and sealed again
    _report(project, capsys)
    assert all(len(seals) == 2 for seals in _seals(project).values())
    # a later run, and its report
    project.dbt("run", "-s", "orders")
    _report(project, capsys)
    assert len(_invocations(project)) == 2


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
        project = DbtProject(factory.mktemp(f"status_trail_{engine}"), engine=engine)
        built[engine] = project
        _build_trail(project, capsys)
    origin = built[engine]
    copy = copy_of(origin, tmp_path / "copy", TABLES)
    yield copy
    copy.drop_schema()


def test_reports_seal_their_status_rows(trail, capsys):
    code, out, err = _cli(trail, capsys, "audit", "verify")
    assert code == 0, out + err
    assert "intact" in out
    first, later = _invocations(trail)
    seals = _seals(trail)
    for table, chain in CHAIN_OF.items():
        counts = dict(
            trail.query(f"select invocation_id, count(*) from {{schema}}.{table} group by 1")
        )
        assert counts[first] > 0 and counts[later] > 0, (table, counts)
        # a seal per report: the first, its replacement, the later one; one project-wide chain
        assert seals[chain] == [
            ("sluice_report", 1, counts[first]),
            ("sluice_report", 2, counts[first]),
            ("sluice_report", 3, counts[later]),
        ], (table, seals[chain])
        keys = trail.query(
            "select sequence_number, record_key, count(*) from {schema}.sluice_audit_records "
            f"where chain_name = '{chain}' group by 1, 2 order by 1"
        )
        assert keys == [
            (1, first, counts[first]),
            (2, first, counts[first]),
            (3, later, counts[later]),
        ]


# (table, SQL, the first finding); {first} and {later} are the invocations reported
TAMPERING = {
    "edit": (
        "update {schema}.{table} set generated_at = generated_at + interval '1 second' "
        "where invocation_id = '{later}'",
        "{table} invocation_id {later} (sluice_report, seal 3): edited",
    ),
    "edit_a_replaced_invocation": (
        "update {schema}.{table} set status = 'forged' where invocation_id = '{first}'",
        "{table} invocation_id {first} (sluice_report, seal 2): edited",
    ),
    "delete": (
        "delete from {schema}.{table} where invocation_id = '{first}'",
        "{table} invocation_id {first} (sluice_report, seal 2): removed",
    ),
    "insert_a_copy": (
        "insert into {schema}.{table} select * from {schema}.{table} "
        "where invocation_id = '{later}'",
        "{table} invocation_id {later} (sluice_report, seal 3): inserted",
    ),
    "insert_a_forged_invocation": (
        "insert into {schema}.{table} select {forged} from {schema}.{table} "
        "where invocation_id = '{later}'",
        "{table} invocation_id forged (sluice_report): inserted",
    ),
}
# the status column of node status is run_status
STATUS_COLUMN = {"sluice_node_status": "run_status"}


@pytest.mark.parametrize("table", STATUS_TABLES)
@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_with_status_rows_is_found_and_the_record_named(trail, capsys, case, table):
    sql, expected = TAMPERING[case]
    first, later = _invocations(trail)
    sql = sql.replace("set status", f"set {STATUS_COLUMN.get(table, 'status')}")
    forged = ", ".join(
        "'forged'" if name == "invocation_id" else name for name, _ in COLUMNS[table]
    )
    trail.execute(
        sql.format(schema="{schema}", table=table, first=first, later=later, forged=forged)
    )
    code, out, err = _cli(trail, capsys, "audit", "verify")
    assert code == 1, out + err
    line = next(line for line in out.splitlines() if line.startswith("first: "))
    assert line.startswith("first: " + expected.format(table=table, first=first, later=later)), out
