"""The audit trail seals digests of evidence: a value redacted by its marker keeps the sealed
hash, any other edit of evidence (kept or redacted) is still found, and a trail sealed before
evidence was sealed by digest keeps verifying after the upgrade."""

from __future__ import annotations

import shutil
import uuid

from sluice.audit.chain import REDACTED_PREFIX, evidence_digest, md5_hex, redaction_marker
from sluice.cli import main

from tests import scenario
from tests.dbt_harness import PACKAGES_YML, SNOWFLAKE_TOO, DbtProject
from tests.test_record_identity import _package_at

# The last release that sealed evidence in clear (hashed_columns without `:digest`).
CLEAR_EVIDENCE_RELEASE = "ab63924c2fc15569cef4ca355ab35e8e564aec2e"


def _verify(project: DbtProject, capsys) -> tuple[int, str]:
    code = main(
        ["audit", "verify", "--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    )
    out = capsys.readouterr()
    return code, out.out + out.err


def _decide(project: DbtProject, key: str, reason: str) -> str:
    exception_id = project.query(
        "select exception_id from {schema}.orders__quarantine "
        f"where record_key = '[{key}]' and status = 'open'"
    )[0][0]
    decision_id = uuid.uuid4().hex
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
        "decision, decided_by, decided_at, reason) values "
        f"('{decision_id}', '{exception_id}', 'model.sluice_test.orders', 'reject', "
        f"'ana@finance', cast(current_timestamp as timestamp), '{reason}')"
    )
    return decision_id


def test_evidence_digest_and_marker():
    assert evidence_digest(None) is None
    assert evidence_digest("ann@example.com") == md5_hex("ann@example.com")
    marker = redaction_marker("ann@example.com")
    assert marker == REDACTED_PREFIX + md5_hex("ann@example.com")
    assert "ann" not in marker
    # a marker keeps its digest, and redacting it again changes nothing
    assert evidence_digest(marker) == evidence_digest("ann@example.com")
    assert redaction_marker(marker) == marker
    assert redaction_marker(None) is None


@SNOWFLAKE_TOO
def test_an_upgraded_trail_verifies_and_redaction_keeps_it_intact(
    make_project, engine, tmp_path, capsys
):
    project = make_project(engine)
    scenario.setup(project)
    # the previous release: its seals hash evidence in clear
    project.write(
        "packages.yml",
        f"packages:\n  - local: {_package_at(CLEAR_EVIDENCE_RELEASE, tmp_path)}\n",
    )
    project.dbt("build")
    _decide(project, "2", "old release: customer Ann asked")
    project.dbt("run", "-s", "orders")
    code, out = _verify(project, capsys)
    assert code == 0, out
    old_seals = project.query("select chain_name, hashed_columns from {schema}.sluice_audit_chain")
    assert old_seals and not any(":digest" in h for _, h in old_seals)

    # this release: the trail built before keeps verifying, its new seals take digests
    shutil.rmtree(project.root / "dbt_packages")
    project.write("packages.yml", PACKAGES_YML)
    project._deps_done = False
    decision = _decide(project, "3", "customer Bo asked by phone")
    project.dbt("run", "-s", "orders")
    code, out = _verify(project, capsys)
    assert code == 0, out
    new_seals = project.query(
        "select chain_name, hashed_columns from {schema}.sluice_audit_chain "
        "where hashed_columns like '%:digest%' order by 1"
    )
    assert {c for c, _ in new_seals} == {"decisions", "exception_events"}
    assert all("reason:digest" in h for _, h in new_seals)

    # a value replaced by its marker keeps every seal
    events = project.query(
        "select event_id, reason from {schema}.sluice_exception_events "
        "where reason = 'customer Bo asked by phone'"
    )
    assert events
    marker = redaction_marker("customer Bo asked by phone")
    for table, key, value in (
        ("sluice_exception_events", "event_id", events[0][0]),
        ("sluice_decisions", "decision_id", decision),
    ):
        project.execute(
            f"update {{schema}}.{table} set reason = '{marker}' where {key} = '{value}'"
        )
    code, out = _verify(project, capsys)
    assert code == 0, out

    # an edit of a redacted value, and of a kept one, is still found
    forged = redaction_marker("customer Bo withdrew")
    project.execute(
        f"update {{schema}}.sluice_decisions set reason = '{forged}' "
        f"where decision_id = '{decision}'"
    )
    code, out = _verify(project, capsys)
    assert code == 1 and f"sluice_decisions decision_id {decision}" in out, out
    project.execute(
        f"update {{schema}}.sluice_decisions set reason = '{marker}' "
        f"where decision_id = '{decision}'"
    )
    assert _verify(project, capsys)[0] == 0
    kept = project.query(
        "select event_id from {schema}.sluice_exception_events "
        "where record_key = '[4]' and event_type is not null order by event_id"
    )[-1][0]
    project.execute(
        "update {schema}.sluice_exception_events set record_key = '[44]' "
        f"where event_id = '{kept}'"
    )
    code, out = _verify(project, capsys)
    assert code == 1 and f"sluice_exception_events event_id {kept}" in out, out
