"""`sluice build`'s attempts and alerts in the warehouse and in the tamper-evident audit trail:
each run appends one row per dbt attempt to sluice_build_attempts and one per alert to
sluice_build_alerts, sealed in the same transaction (chains `build_attempts` and
`build_alerts`, one per table for the project, records keyed by the run's `build_id`), and
`sluice audit verify` finds every edit, deletion and insertion of them, on real dbt builds and
real warehouses.

One trail per engine is built once: a build whose broken model fails and alerts its owner, then
a build after the fix (attempts, no alert). Each tampering test works on its own copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sluice.build import build
from sluice.cli import main
from sluice.warehouse.build_record import ALERT_COLUMNS, ATTEMPT_COLUMNS

from tests import scenario
from tests.dbt_harness import DbtProject, copy_of

BUILD_TABLES = ("sluice_build_attempts", "sluice_build_alerts")
COLUMNS = {"sluice_build_attempts": ATTEMPT_COLUMNS, "sluice_build_alerts": ALERT_COLUMNS}
CHAIN_OF = dict(zip(BUILD_TABLES, ("build_attempts", "build_alerts")))
TABLES = (
    "sluice_exception_events",
    "sluice_runs",
    "sluice_audit_chain",
    "sluice_audit_records",
    *BUILD_TABLES,
)

EXPOSURES = """
exposures:
  - name: finance
    type: dashboard
    maturity: high
    owner: {name: Finance, email: finance@example.com}
    depends_on: [ref('revenue')]
"""
BROKEN = "select no_such_column from {{ ref('orders') }}\n"
FIXED = "select sum(amount) as amount from {{ ref('orders') }}\n"


def _cli(project: DbtProject, capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)])
    out = capsys.readouterr()
    return code, out.out, out.err


def _build(project: DbtProject):
    return build(
        project.root,
        ["--profiles-dir", str(project.root)],
        sleeper=lambda _: None,
        report=False,
        max_attempts=1,
        log_dbt_output=True,
    )


def _seals(project: DbtProject) -> dict[str, list[tuple[str, int, int]]]:
    found: dict[str, list[tuple[str, int, int]]] = {}
    for chain, model, seq, count in project.query(
        "select chain_name, model_unique_id, sequence_number, record_count "
        "from {schema}.sluice_audit_chain "
        "where chain_name in ('build_attempts', 'build_alerts') order by 1, 3"
    ):
        found.setdefault(chain, []).append((model, int(seq), int(count)))
    return found


def _build_trail(project: DbtProject) -> None:
    scenario.setup(project)
    project.write("models/revenue.sql", BROKEN)
    project.write("models/exposures.yml", EXPOSURES)
    project.dbt("seed")  # installs the package too
    failed = _build(project)
    assert failed.exit_code != 0 and failed.alerts, failed
    assert not any("build record" in n for n in failed.notes), failed.notes
    project.write("models/revenue.sql", FIXED)
    fixed = _build(project)
    assert not fixed.alerts and not any("build record" in n for n in fixed.notes), fixed.notes
    assert _seals(project) == {
        "build_attempts": [("sluice_build", 1, 1), ("sluice_build", 2, 1)],
        "build_alerts": [("sluice_build", 1, len(failed.alerts))],
    }


def _builds(project: DbtProject) -> dict[str, str]:
    """``failed`` and ``fixed``: the two runs' ids."""
    alerted = project.query("select min(build_id) from {schema}.sluice_build_alerts")[0][0]
    other = project.query(
        f"select min(build_id) from {{schema}}.sluice_build_attempts where build_id <> '{alerted}'"
    )[0][0]
    return {"failed": alerted, "fixed": other}


@pytest.fixture(scope="module")
def built_trails(tmp_path_factory: pytest.TempPathFactory):
    """engine -> a project whose trail was built once (built on first use)."""
    built: dict[str, DbtProject] = {}
    yield built, tmp_path_factory
    for project in built.values():
        project.drop_schema()


@pytest.fixture
def trail(engine: str, built_trails, tmp_path: Path):
    """A copy of the built trail's warehouse tables, for this test alone."""
    built, factory = built_trails
    if engine not in built:
        project = DbtProject(factory.mktemp(f"build_trail_{engine}"), engine=engine)
        built[engine] = project
        _build_trail(project)
    origin = built[engine]
    copy = copy_of(origin, tmp_path / "copy", TABLES)
    yield copy
    copy.drop_schema()


def test_builds_record_and_seal_their_attempts_and_alerts(trail, capsys):
    code, out, err = _cli(trail, capsys, "audit", "verify")
    assert code == 0, out + err
    assert "intact" in out
    runs = _builds(trail)
    attempts = trail.query(
        "select build_id, attempt_number, kind, returncode, failed_nodes "
        "from {schema}.sluice_build_attempts order by returncode desc"
    )
    assert [row[:4] for row in attempts] == [
        (runs["failed"], 1, "build", 1),
        (runs["fixed"], 1, "build", 0),
    ]
    assert ".revenue" in attempts[0][4] and attempts[1][4] == "[]"
    alerts = trail.query(
        "select node_name, failure_class, owner, delivered from {schema}.sluice_build_alerts"
    )
    assert [(name, delivered) for name, _, _, delivered in alerts] == [("revenue", False)]
    assert trail.query(
        "select sequence_number, record_key from {schema}.sluice_audit_records "
        "where chain_name = 'build_attempts' order by 1"
    ) == [(1, runs["failed"]), (2, runs["fixed"])]


# (SQL, the first finding); {failed} and {fixed} are the two runs, {table} the table
TAMPERING = {
    "edit": (
        "update {schema}.{table} set recorded_at = recorded_at + interval '1 second' "
        "where build_id = '{failed}'",
        "{table} build_id {failed} (sluice_build, seal 1): edited",
    ),
    "delete": (
        "delete from {schema}.{table} where build_id = '{failed}'",
        "{table} build_id {failed} (sluice_build, seal 1): removed",
    ),
    "insert_a_copy": (
        "insert into {schema}.{table} select * from {schema}.{table} where build_id = '{failed}'",
        "{table} build_id {failed} (sluice_build, seal 1): inserted",
    ),
    "insert_a_forged_run": (
        "insert into {schema}.{table} select {forged} from {schema}.{table} "
        "where build_id = '{failed}'",
        "{table} build_id forged (sluice_build): inserted",
    ),
}


@pytest.mark.parametrize("table", BUILD_TABLES)
@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_with_the_build_record_is_found_and_the_record_named(trail, capsys, case, table):
    sql, expected = TAMPERING[case]
    runs = _builds(trail)
    forged = ", ".join("'forged'" if name == "build_id" else name for name, _ in COLUMNS[table])
    trail.execute(sql.format(schema="{schema}", table=table, forged=forged, **runs))
    code, out, err = _cli(trail, capsys, "audit", "verify")
    assert code == 1, out + err
    line = next(line for line in out.splitlines() if line.startswith("first: "))
    assert line.startswith("first: " + expected.format(table=table, **runs)), out
