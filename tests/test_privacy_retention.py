"""`sluice retention apply`: the evidence of closed exceptions past redact_after is redacted,
closed exceptions past delete_after are deleted, open ones are never touched, a second run
changes nothing, and the audit trail still verifies (a hand edit of kept evidence reported)."""

from __future__ import annotations

import json
import re

from sluice.audit.chain import REDACTED_PREFIX, redaction_marker
from sluice.cli import main

from tests import scenario
from tests.dbt_harness import SNOWFLAKE_TOO, DbtProject
from tests.test_privacy_chain import _decide

POLICY = "{sluice_retention: {redact_after: 30d, delete_after: 365d}}"


def _sluice(project: DbtProject, capsys, *args: str) -> tuple[int, str]:
    code = main([*args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)])
    out = capsys.readouterr()
    return code, out.out + out.err


def _age(project: DbtProject, key: str, days: int) -> list[str]:
    project.execute(
        "update {schema}.orders__quarantine set status_changed_at = "
        f"cast(current_timestamp as timestamp) - interval '{days} days' "
        f"where record_key = '[{key}]'"
    )
    return sorted(
        r[0]
        for r in project.query(
            f"select exception_id from {{schema}}.orders__quarantine where record_key = '[{key}]'"
        )
    )


def _snapshot(project: DbtProject) -> list[list[tuple[object, ...]]]:
    return [
        project.query(f"select * from {{schema}}.{table} order by 1")
        for table in ("orders__quarantine", "sluice_exception_events", "sluice_decisions")
    ]


@SNOWFLAKE_TOO
def test_retention_redacts_and_deletes_exactly_the_closed_exceptions_past_their_time(
    make_project, engine, capsys
):
    project = make_project(engine)
    scenario.setup(project)
    project.dbt("build")
    decisions = {key: _decide(project, key, f"reason for {key}") for key in ("2", "3", "4")}
    project.dbt("run", "-s", "orders")
    deleted = _age(project, "2", 400)  # closed, past delete_after
    redacted = _age(project, "3", 60)  # closed, past redact_after only
    kept = _age(project, "4", 10)  # closed, not yet due
    open_ids = _age(project, "7", 400)  # open: never touched, however old
    assert deleted and redacted and kept and open_ids
    open_before = project.query(
        "select * from {schema}.orders__quarantine where record_key = '[7]' order by 1"
    )
    kept_before = project.query(
        "select * from {schema}.orders__quarantine where record_key = '[4]' order by 1"
    )
    # the builds wrote every event's record key as its marker; an earlier release wrote them
    # in clear, which keeps the seals (they hold the value's digest): retention redacts those
    assert project.query(
        "select count(*) from {schema}.sluice_exception_events "
        f"where record_key not like '{REDACTED_PREFIX}%'"
    ) == [(0,)]
    for key in ("2", "3", "4"):
        project.execute(
            f"update {{schema}}.sluice_exception_events set record_key = '[{key}]' "
            f"where record_key = '{redaction_marker(f'[{key}]')}'"
        )
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 0, out
    before = _snapshot(project)

    code, out = _sluice(project, capsys, "retention", "apply", "--dry-run", "--vars", POLICY)
    assert code == 0, out
    assert f"would redact the evidence of {len(redacted)}, would delete {len(deleted)}" in out
    assert _snapshot(project) == before

    code, out = _sluice(project, capsys, "retention", "apply", "--vars", POLICY)
    assert code == 0, out
    assert f"redacted the evidence of {len(redacted)}, deleted {len(deleted)}" in out
    remaining = project.query(
        "select exception_id, record_key, failed_value, row_json, status "
        "from {schema}.orders__quarantine order by 1"
    )
    ids = {r[0] for r in remaining}
    assert not ids & set(deleted)
    assert set(redacted) | set(kept) | set(open_ids) <= ids
    for exception_id, key, value, row, status in remaining:
        if exception_id in redacted:
            assert key == redaction_marker("[3]") and row.startswith(REDACTED_PREFIX)
            assert value is None or value.startswith(REDACTED_PREFIX)
            assert status == "rejected"
    assert (
        project.query(
            "select * from {schema}.orders__quarantine where record_key = '[7]' order by 1"
        )
        == open_before
    )
    assert (
        project.query(
            "select * from {schema}.orders__quarantine where record_key = '[4]' order by 1"
        )
        == kept_before
    )
    # one event per model and policy, counting what it did and naming the cut-off
    retained = project.query(
        "select exception_id, record_key, model_unique_id, actor, invocation_id, reason "
        "from {schema}.sluice_exception_events where event_type = 'retained' order by reason"
    )
    assert [r[:5] for r in retained] == [
        (None, None, "model.sluice_test.orders", "sluice retention", None)
    ] * 2, retained
    assert re.fullmatch(
        rf"retention deleted: {len(deleted)} exception\(s\) closed before "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(closed for more than 365d\)",
        retained[0][5],
    ), retained
    assert re.fullmatch(
        rf"retention redacted: {len(redacted)} exception\(s\) closed before "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(closed for more than 30d\)",
        retained[1][5],
    ), retained
    # the history and decisions keep their rows, their evidence redacted
    assert project.query(
        "select count(*) from {schema}.sluice_exception_events "
        "where record_key in ('[2]', '[3]') or reason in ('reason for 2', 'reason for 3')"
    ) == [(0,)]
    assert project.query(
        "select count(*) from {schema}.sluice_exception_events where record_key = '[4]'"
    ) != [(0,)]
    for key, decision in decisions.items():
        reason = f"reason for {key}"
        expected = reason if key == "4" else redaction_marker(reason)
        assert project.query(
            f"select reason from {{schema}}.sluice_decisions where decision_id = '{decision}'"
        ) == [(expected,)]
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 0, out

    # a second run changes nothing
    after = _snapshot(project)
    code, out = _sluice(project, capsys, "retention", "apply", "--vars", POLICY)
    assert code == 0 and "redacted the evidence of 0, deleted 0" in out, out
    assert _snapshot(project) == after

    # the next build seals the retention events; a hand edit of kept evidence is reported
    project.dbt("run", "-s", "orders")
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 0 and "waiting" not in out, out
    project.execute(
        "update {schema}.sluice_decisions set reason = 'edited' "
        f"where decision_id = '{decisions['4']}'"
    )
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 1 and decisions["4"] in out, out


def test_a_bad_retention_setting_is_refused_naming_the_key(make_project, capsys):
    project = make_project("duckdb")
    scenario.setup(project)
    project.dbt("build")
    before = _snapshot(project)
    code, out = _sluice(
        project, capsys, "retention", "apply", "--vars", "{sluice_retention: {redact: 30d}}"
    )
    assert code == 2 and "var sluice_retention" in out and "'redact'" in out, out
    code, out = _sluice(
        project,
        capsys,
        *("retention", "apply", "--vars", "{sluice_retention: {delete_after: soon}}"),
    )
    assert code == 2 and "sluice_retention.delete_after" in out, out
    assert _snapshot(project) == before


def test_a_model_retention_setting_is_read_and_checked(make_project, capsys):
    # a model's meta.sluice.retention is a setting the build accepts, read by the command
    project = make_project("duckdb")
    scenario.setup(project, extra_meta="retention: {redact: 30d}")
    project.dbt("build")
    before = _snapshot(project)
    code, out = _sluice(project, capsys, "retention", "apply")
    assert code == 2, out
    assert "model.sluice_test.orders: meta.sluice.retention" in out and "'redact'" in out, out
    assert _snapshot(project) == before


AT_BUILD_END = (
    "{sluice_retention: {redact_after: 30d, delete_after: 365d, apply_at_build_end: true}}"
)


def _closed(
    project: DbtProject, age_2: int, age_3: int, extra_meta: str = ""
) -> tuple[list[str], list[str]]:
    """Records 2 and 3 rejected, then closed for age_2 and age_3 days: their exception ids."""
    scenario.setup(project, extra_meta=extra_meta)
    project.dbt("build")
    _decide(project, "2", "reason for 2")
    _decide(project, "3", "reason for 3")
    project.dbt("run", "-s", "orders")
    return _age(project, "2", age_2), _age(project, "3", age_3)


def _build_json(project: DbtProject) -> dict:
    return json.loads((project.root / "target" / "sluice" / "build.json").read_text())


def test_a_build_applies_retention_at_its_end_when_the_project_asks(make_project, capsys):
    project = make_project("duckdb")
    deleted, redacted = _closed(project, 400, 60)
    open_sql = (
        "select exception_id, record_key, failed_value, row_json "
        "from {schema}.orders__quarantine where status = 'open' order by 1"
    )
    open_before = project.query(open_sql)

    # without the setting, a build leaves them
    code, out = _sluice(project, capsys, "build", "--max-attempts", "1", "--vars", POLICY)
    assert code == 0, out
    assert _build_json(project)["retention"] is None
    assert project.query(
        "select count(*) from {schema}.orders__quarantine where record_key = '[2]'"
    ) == [(len(deleted),)]

    code, out = _sluice(project, capsys, "build", "--max-attempts", "1", "--vars", AT_BUILD_END)
    assert code == 0, out
    record = _build_json(project)
    assert record["exit_code"] == 0 and record["outcome"] == "published"
    assert record["retention"] == {
        "applied": True,
        "redacted": {"model.sluice_test.orders": len(redacted)},
        "deleted": {"model.sluice_test.orders": len(deleted)},
        "error": None,
    }
    ids = {r[0] for r in project.query("select exception_id from {schema}.orders__quarantine")}
    assert not ids & set(deleted) and set(redacted) <= ids
    assert project.query(
        "select count(*) from {schema}.orders__quarantine where record_key = '[3]'"
    ) == [(0,)]
    assert project.query(open_sql) == open_before
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 0, out

    # the next build finds nothing more to do
    code, out = _sluice(project, capsys, "build", "--max-attempts", "1", "--vars", AT_BUILD_END)
    assert code == 0, out
    assert _build_json(project)["retention"] == {
        "applied": True,
        "redacted": {},
        "deleted": {},
        "error": None,
    }


def test_a_failed_retention_at_build_end_keeps_the_build_result(make_project, capsys):
    # a model's setting is read after dbt: a bad one fails retention, not the build's publication
    project = make_project("duckdb")
    scenario.setup(project, extra_meta="retention: {redact: 30d}")
    project.dbt("build")
    _decide(project, "2", "reason for 2")
    project.dbt("run", "-s", "orders")
    due = _age(project, "2", 400)
    code, out = _sluice(project, capsys, "build", "--max-attempts", "1", "--vars", AT_BUILD_END)
    assert code == 7, out
    assert "retention failed, nothing changed" in out
    assert "model.sluice_test.orders: meta.sluice.retention" in out and "'redact'" in out, out
    record = _build_json(project)
    assert record["exit_code"] == 7 and record["outcome"] == "published"
    assert record["retention"]["applied"] is False
    assert "meta.sluice.retention" in record["retention"]["error"]
    assert any("retention failed" in note for note in record["notes"])
    # nothing deleted or redacted
    assert (
        sorted(
            r[0]
            for r in project.query(
                "select exception_id from {schema}.orders__quarantine where record_key = '[2]'"
            )
        )
        == due
    )
    assert project.query(
        "select count(*) from {schema}.sluice_exception_events where event_type = 'retained'"
    ) == [(0,)]


def test_a_bad_build_end_setting_stops_the_build_before_dbt(make_project, capsys):
    project = make_project("duckdb")
    scenario.setup(project)
    code, out = _sluice(
        project,
        capsys,
        *("build", "--max-attempts", "1"),
        *("--vars", "{sluice_retention: {apply_at_build_end: sometimes}}"),
    )
    assert code == 2, out
    assert "var sluice_retention.apply_at_build_end" in out, out
    assert not (project.root / "target" / "run_results.json").exists()


def test_a_model_policy_replaces_the_project_one_for_its_exceptions(make_project, capsys):
    # orders deletes after 100 days (its own), redacts after 30 (the project's): an exception
    # closed 200 days ago is deleted, which the project's 365 days alone would not do
    project = make_project("duckdb")
    deleted, redacted = _closed(project, 200, 60, extra_meta="retention: {delete_after: 100d}")
    code, out = _sluice(project, capsys, "retention", "apply", "--vars", POLICY)
    assert code == 0, out
    assert (
        f"model.sluice_test.orders: redacted {len(redacted)}, deleted {len(deleted)} "
        "closed exception(s)"
    ) in out
    reasons = project.query(
        "select reason from {schema}.sluice_exception_events "
        "where event_type = 'retained' order by 1"
    )
    assert [re.sub(r"before [-\d: ]+ UTC", "before T", r[0]) for r in reasons] == [
        f"retention deleted: {len(deleted)} exception(s) closed before T "
        "(closed for more than 100d)",
        f"retention redacted: {len(redacted)} exception(s) closed before T "
        "(closed for more than 30d)",
    ]
    ids = {r[0] for r in project.query("select exception_id from {schema}.orders__quarantine")}
    assert not ids & set(deleted) and set(redacted) <= ids
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 0, out
