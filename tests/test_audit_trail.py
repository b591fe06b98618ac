"""The tamper-evident audit trail on real warehouses: real dbt builds seal the history,
`sluice audit verify` finds every edit, deletion and insertion, `sluice audit export` writes it.

One trail per engine is built once (two builds of the example scenario, a reviewer's decision
between them, a second sluice model whose gate holds, both models building in parallel); each
tampering test works on its own copy of the warehouse tables.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from sluice.audit import read_head
from sluice.cli import main

from tests import scenario
from tests.dbt_harness import PACKAGES_YML, DbtProject, copy_of
from tests.dbt_launcher import DBT
from tests.test_record_identity import _package_at

AUDIT_TABLES = (
    "sluice_exception_events",
    "sluice_runs",
    "sluice_decisions",
    "sluice_audit_chain",
    "sluice_audit_records",
)

HELD_MODEL_YML = """
models:
  - name: orders_held
    config:
      materialized: sluice
      meta:
        sluice:
          key: order_id
          gate: {critical: 0}
    columns:
      - name: customer_id
        data_tests:
          - sluice.sluice_not_null:
              name: orders_held_customer_required
              arguments: {sluice_severity: critical}
"""


def _audit(project: DbtProject, capsys, *args: str) -> tuple[int, str, str]:
    code = main(
        ["audit", *args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    )
    out = capsys.readouterr()
    return code, out.out, out.err


def _decide(project: DbtProject, key: str, rule: str, decision: str = "release") -> str:
    exception_id = project.query(
        f"select exception_id from {{schema}}.orders__quarantine where record_key = '[{key}]' "
        f"and rule_name = '{rule}'"
    )[0][0]
    decision_id = uuid.uuid4().hex
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
        "decision, decided_by, decided_at, reason) values "
        f"('{decision_id}', '{exception_id}', 'model.sluice_test.orders', '{decision}', "
        "'ana@finance', cast(current_timestamp as timestamp), 'checked with the ERP team')"
    )
    return decision_id


def _build_trail(project: DbtProject) -> None:
    scenario.setup(project)
    project.write("models/orders_held.sql", "select * from {{ ref('raw_orders') }}\n")
    project.write("models/held.yml", HELD_MODEL_YML)
    # orders_held's gate holds (a critical rule fails): dbt build ends in error
    first = project.dbt("build", expect=1)
    assert first.status("orders") == "success" and first.status("orders_held") == "error"
    _decide(project, "4", "orders_customer_exists")
    project.dbt("run", "-s", "orders", "orders_held", expect=1)


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
        project = DbtProject(factory.mktemp(f"trail_{engine}"), engine=engine)
        built[engine] = project
        _build_trail(project)
    origin = built[engine]
    copy = copy_of(origin, tmp_path / "copy", (*AUDIT_TABLES, "orders__quarantine"))
    yield copy
    copy.drop_schema()


def _first_event(project: DbtProject) -> str:
    """An event of the model's first seal (event ids are random: the least id of every event
    could be in any seal)."""
    return project.query(
        "select min(event_id) from {schema}.sluice_exception_events where model_name = 'orders' "
        "and invocation_id = (select invocation_id from {schema}.sluice_audit_chain "
        "where chain_name = 'exception_events' and model_unique_id = 'model.sluice_test.orders' "
        "and sequence_number = 1)"
    )[0][0]


def test_untouched_trail_is_intact(trail, capsys):
    code, out, err = _audit(trail, capsys, "verify")
    assert code == 0, out + err
    assert "intact" in out
    seals = trail.query(
        "select chain_name, model_unique_id, sequence_number, record_count, invocation_id "
        "from {schema}.sluice_audit_chain order by 1, 2, 3"
    )
    chains = {(c, m.split(".")[-1]): [] for c, m, *_ in seals}
    for c, m, seq, count, _ in seals:
        chains[(c, m.split(".")[-1])].append((seq, count))
    # two builds of each model, both on the held path for orders_held
    assert chains[("runs", "orders")] == [(1, 1), (2, 1)]
    assert chains[("runs", "orders_held")] == [(1, 1), (2, 1)]
    # six exceptions opened by the first build, one released by the second
    # the release: the decision, its status change and the publication of the row
    assert chains[("exception_events", "orders")] == [(1, 6), (2, 3)]
    # the decision written between the builds, sealed by the second
    assert chains[("decisions", "orders")] == [(1, 1)]
    held = trail.query(
        "select gate_status from {schema}.sluice_runs where model_name = 'orders_held'"
    )
    assert {r[0] for r in held} == {"held"}
    # the head printed is the one read_head gives, from the seals' tips
    head = read_head(trail.root, profiles_dir=trail.root)
    assert head is not None and head.seals == len(seals) and head.chains == len(chains)
    assert f"head: {head.digest}" in out


TAMPERING = {
    "update_event": (
        "update {schema}.sluice_exception_events set reason = 'nothing to see' "
        "where event_id = '{event}'",
        "sluice_exception_events event_id {event} (model.sluice_test.orders, seal 1): edited",
    ),
    "delete_event": (
        "delete from {schema}.sluice_exception_events where event_id = '{event}'",
        "sluice_exception_events event_id {event} (model.sluice_test.orders, seal 1): removed",
    ),
    "insert_forged_event": (
        "insert into {schema}.sluice_exception_events (event_id, exception_id, model_name, "
        "model_unique_id, record_key, record_copy, rule_name, error_class, severity, route, owner, "
        "from_status, to_status, attempt_count, invocation_id, event_at, actor, reason) "
        "select 'forged', exception_id, model_name, model_unique_id, record_key, record_copy, "
        "rule_name, error_class, severity, route, owner, 'open', 'released', attempt_count, "
        "invocation_id, event_at, 'mallory', 'approved' "
        "from {schema}.sluice_exception_events where event_id = '{event}'",
        "sluice_exception_events event_id forged (model.sluice_test.orders): inserted",
    ),
    "edit_a_spell_start": (
        "update {schema}.sluice_exception_events set from_status_at = event_at "
        "where event_id = '{left_open}'",
        "sluice_exception_events event_id {left_open} (model.sluice_test.orders, seal 2): edited",
    ),
    "copy_an_event": (
        "insert into {schema}.sluice_exception_events "
        "select * from {schema}.sluice_exception_events where event_id = '{event}'",
        "sluice_exception_events event_id {event} (model.sluice_test.orders, seal 1): inserted",
    ),
    "edit_run": (
        "update {schema}.sluice_runs set rows_held = 0 where invocation_id = '{run}' "
        "and model_name = 'orders'",
        "sluice_runs invocation_id {run} (model.sluice_test.orders, seal 1): edited",
    ),
    "edit_decision": (
        "update {schema}.sluice_decisions set decided_by = 'mallory'",
        "sluice_decisions decision_id {decision} (model.sluice_test.orders, seal 1): edited",
    ),
    "delete_decision": (
        "delete from {schema}.sluice_decisions",
        "sluice_decisions decision_id {decision} (model.sluice_test.orders, seal 1): removed",
    ),
    "delete_a_seal": (
        "delete from {schema}.sluice_audit_chain where chain_name = 'runs' "
        "and model_unique_id = 'model.sluice_test.orders' and sequence_number = 1",
        "sluice_runs chain (model.sluice_test.orders, seal 1): seal removed",
    ),
    "edit_a_seal": (
        "update {schema}.sluice_audit_chain set record_count = 5 "
        "where chain_name = 'exception_events' and sequence_number = 1",
        "sluice_exception_events chain (model.sluice_test.orders, seal 1): edited",
    ),
    "insert_a_seal_of_another_chain": (
        "insert into {schema}.sluice_audit_chain select 'payments', model_unique_id, "
        "sequence_number, invocation_id, record_count, hashed_columns, content_hash, "
        "previous_hash, chain_hash, sealed_at from {schema}.sluice_audit_chain "
        "where chain_name = 'runs' and model_unique_id = 'model.sluice_test.orders' "
        "and sequence_number = 1",
        "payments chain (model.sluice_test.orders): seal inserted",
    ),
    "edit_a_sealed_hash": (
        "update {schema}.sluice_audit_records set record_hash = md5('forged') "
        "where record_key = '{event}'",
        "sluice_exception_events chain (model.sluice_test.orders, seal 1): edited",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_found_and_the_record_named(trail, capsys, case):
    sql, expected = TAMPERING[case]
    names = {
        "event": _first_event(trail),
        "run": trail.query(
            "select min(invocation_id) from {schema}.sluice_audit_chain "
            "where chain_name = 'runs' and sequence_number = 1"
        )[0][0],
        "decision": trail.query("select decision_id from {schema}.sluice_decisions")[0][0],
        # the release's change of status, which records when the exception was opened
        "left_open": trail.query(
            "select event_id from {schema}.sluice_exception_events where model_name = 'orders' "
            "and event_type = 'status' and from_status = 'open'"
        )[0][0],
    }
    trail.execute(sql.format(schema="{schema}", **names))
    code, out, err = _audit(trail, capsys, "verify")
    assert code == 1, out + err
    first = next(line for line in out.splitlines() if line.startswith("first: "))
    assert first.startswith("first: " + expected.format(**names)), out


def test_a_decision_written_since_the_last_build_waits_for_its_seal(trail, capsys):
    decision_id = _decide(trail, "3", "orders_status_known", "reject")
    code, out, err = _audit(trail, capsys, "verify")
    assert code == 0, out + err
    assert "1 decision(s) wait for their seal" in out and decision_id in out


def test_a_complete_rewrite_is_caught_only_against_a_copy_kept_elsewhere(trail, capsys, tmp_path):
    kept = tmp_path / "kept.jsonl"
    assert _audit(trail, capsys, "export", "--output", str(kept))[0] == 0
    # rewrite the runs table and its chain consistently: drop orders' second run and its seal
    seal = "chain_name = 'runs' and model_unique_id = 'model.sluice_test.orders' and sequence_number = 2"
    run = trail.query(f"select invocation_id from {{schema}}.sluice_audit_chain where {seal}")[0][0]
    trail.execute(f"delete from {{schema}}.sluice_audit_chain where {seal}")
    trail.execute(f"delete from {{schema}}.sluice_audit_records where {seal}")
    trail.execute(
        f"delete from {{schema}}.sluice_runs where invocation_id = '{run}' and model_name = 'orders'"
    )
    code, out, _ = _audit(trail, capsys, "verify")
    assert code == 0, out  # the chain alone cannot tell: the threat model says so
    # the head changed, and the kept copy names the seal that is gone
    assert json.loads(kept.read_text().splitlines()[-1])["digest"] not in out
    code, out, _ = _audit(trail, capsys, "verify", "--against", str(kept))
    assert code == 1
    assert "first: sluice_runs chain (model.sluice_test.orders, seal 2): rewritten" in out
    # the head line alone is a copy too
    head_only = tmp_path / "head.jsonl"
    head_only.write_text(kept.read_text().splitlines()[-1] + "\n")
    assert _audit(trail, capsys, "verify", "--against", str(head_only))[0] == 1


def test_export_writes_the_trail_as_json_lines(trail, capsys, tmp_path):
    output = tmp_path / "trail.jsonl"
    code, out, err = _audit(trail, capsys, "export", "--output", str(output))
    assert code == 0, err
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    kinds = [line["kind"] for line in lines]
    seals = trail.query("select count(*) from {schema}.sluice_audit_chain")[0][0]
    records = trail.query("select count(*) from {schema}.sluice_audit_records")[0][0]
    assert kinds.count("seal") == seals and kinds.count("record") == records
    assert kinds[-1] == "head" and kinds.count("head") == 1
    events = [
        line
        for line in lines
        if line["kind"] == "record" and line["table"] == "sluice_exception_events"
    ]
    assert events and all(e["row"]["event_id"] == e["record_key"] for e in events)
    assert all(isinstance(e["row"]["event_at"], str) for e in events)
    assert f"head: {lines[-1]['digest']}" in out
    # the export's head is the trail's head
    code, verify_out, _ = _audit(trail, capsys, "verify", "--against", str(output))
    assert code == 0 and f"head: {lines[-1]['digest']}" in verify_out


def test_export_to_an_unwritable_place_writes_nothing(trail, capsys, tmp_path):
    target = tmp_path / "missing_dir" / "trail.jsonl"
    code, _, err = _audit(trail, capsys, "export", "--output", str(target))
    assert code == 2 and "trail.jsonl" in err
    assert not target.parent.exists()


def test_usage_and_connection_errors_exit_2(tmp_path, capsys):
    project = DbtProject(tmp_path / "empty")  # a DuckDB profile, no database file yet
    code, _, err = _audit(project, capsys, "verify")
    assert code == 2 and "test.duckdb not found" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    code, _, err = _audit(project, capsys, "verify", "--against", str(bad))
    assert code == 2 and "bad.jsonl, line 1" in err
    assert main(["audit", "verify", "--no-such-flag"]) == 2


def test_upgrade_seals_an_existing_history(make_project, engine, capsys):
    project = make_project(engine)
    scenario.setup(project)
    project.dbt("build")
    # the history as a version without the trail left it
    for table in ("sluice_audit_chain", "sluice_audit_records"):
        project.execute(f"drop table {{schema}}.{table}")
    code, out, _ = _audit(project, capsys, "verify")
    assert code == 1
    assert "no seal covers it (the model's chain has no seal" in out
    project.dbt("run", "-s", "orders")
    code, out, err = _audit(project, capsys, "verify")
    assert code == 0, out + err
    # the first seal of each chain took the whole existing history
    assert project.query(
        "select chain_name, sequence_number, record_count from {schema}.sluice_audit_chain "
        "order by 1, 2"
    ) == [("exception_events", 1, 6), ("runs", 1, 2)]


# The package before status events recorded when a spell began (from_status_at): its events'
# seals do not cover the column.
BEFORE_SPELL_START = "120aea36041e107cd3d9904d1003a58c8acffef7"


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_events_sealed_before_the_spell_start_column_keep_verifying(
    make_project, engine, capsys, tmp_path
):
    project = make_project(engine)
    scenario.setup(project)
    project.write(
        "packages.yml", f"packages:\n  - local: {_package_at(BEFORE_SPELL_START, tmp_path)}\n"
    )
    project.dbt("seed")
    project.dbt("run", "-s", "orders")
    _decide(project, "4", "orders_customer_exists")
    # this release: the build's bookkeeping adds the column, the earlier seals keep verifying
    shutil.rmtree(project.root / "dbt_packages")
    project.write("packages.yml", PACKAGES_YML)
    project._deps_done = False
    project.dbt("run", "-s", "orders")
    code, out, err = _audit(project, capsys, "verify")
    assert code == 0, out + err
    seals = project.query(
        "select hashed_columns from {schema}.sluice_audit_chain "
        "where chain_name = 'exception_events' order by sequence_number"
    )
    assert len(seals) == 2
    assert "from_status_at" not in seals[0][0] and "from_status_at" in seals[1][0]
    # the release left `open`: its event says since when, from the history written before
    ((opened, left),) = project.query(
        "select o.event_at, e.from_status_at from {schema}.sluice_exception_events as e "
        "join {schema}.sluice_exception_events as o on o.exception_id = e.exception_id "
        "and o.to_status = 'open' where e.from_status = 'open' and e.event_type = 'status'"
    )
    assert left == opened
    # a spell start sealed with its event is covered like any of its columns
    project.execute(
        "update {schema}.sluice_exception_events set from_status_at = event_at "
        "where from_status_at is not null"
    )
    code, out, _ = _audit(project, capsys, "verify")
    assert code == 1 and "(model.sluice_test.orders, seal 2): edited" in out, out


@pytest.mark.postgres
def test_two_builds_of_one_model_at_once_keep_one_chain(make_project, capsys):
    project = make_project("postgres")
    scenario.setup(project)
    project.dbt("build")
    procs = [
        subprocess.Popen(
            [
                DBT,
                "run",
                "-s",
                "orders",
                "--profiles-dir",
                str(project.root),
                "--project-dir",
                str(project.root),
                "--target-path",
                f"target_{n}",
                "--log-path",
                f"logs_{n}",
            ],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in ("a", "b")
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert project.query(
        "select sequence_number from {schema}.sluice_audit_chain where chain_name = 'runs' "
        "order by 1"
    ) == [(1,), (2,), (3,)]
    code, out, err = _audit(project, capsys, "verify")
    assert code == 0, out + err


@pytest.mark.postgres
@pytest.mark.parametrize("blocked_table", ["sluice_audit_records", "sluice_audit_chain"])
def test_a_build_killed_while_sealing_leaves_the_trail_intact(make_project, capsys, blocked_table):
    import os
    import signal
    import time

    import psycopg2

    from tests.dbt_harness import PG_DBNAME, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER

    def connect():
        return psycopg2.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=PG_DBNAME
        )

    project = make_project("postgres")
    scenario.setup(project)
    project.dbt("build")
    events = project.query("select count(*) from {schema}.sluice_exception_events")[0][0]
    project.execute("update {schema}.raw_orders set status = 'paid' where order_id = 3")

    # hold a lock on the trail's table: the build blocks exactly at the seal
    holder = connect()
    holder.cursor().execute(f"lock table {project.schema}.{blocked_table} in access exclusive mode")
    proc = subprocess.Popen(
        [
            DBT,
            "run",
            "-s",
            "orders",
            "--profiles-dir",
            str(project.root),
            "--project-dir",
            str(project.root),
        ],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, "the build finished without reaching the seal"
            assert time.monotonic() < deadline, "the build never reached the seal"
            with connect() as probe, probe.cursor() as pc:
                # a backend waiting for the lock on the trail's table: the build, at the seal
                pc.execute(
                    "select count(*) from pg_locks where not granted and relation = %s::regclass",
                    (f"{project.schema}.{blocked_table}",),
                )
                if pc.fetchone()[0] > 0:
                    break
            time.sleep(0.05)  # polling the server for the blocked statement, bounded above
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        holder.rollback()
        holder.close()

    # the killed build wrote nothing: its events went with its seal
    assert project.query("select count(*) from {schema}.sluice_exception_events")[0][0] == events
    assert _audit(project, capsys, "verify")[0] == 0
    project.dbt("run", "-s", "orders")
    code, out, err = _audit(project, capsys, "verify")
    assert code == 0, out + err
    assert project.query(
        "select sequence_number, record_count from {schema}.sluice_audit_chain "
        "where chain_name = 'exception_events' order by 1"
    ) == [(1, 6), (2, 1)]
