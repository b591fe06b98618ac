"""`sluice review forget`: one record's evidence is redacted in the quarantine, the history and
the decisions, the erasure is an event sealed by the next build, `sluice audit verify` stays
intact, and a hand edit of redacted or erasure evidence is still reported."""

from __future__ import annotations

import html
import json

from sluice.audit.chain import REDACTED_PREFIX, redaction_marker
from sluice.cli import main
from sluice.destinations import REPORT_FILES

from tests import scenario
from tests.dbt_harness import SNOWFLAKE_TOO, DbtProject
from tests.test_privacy_chain import _decide

REASON = "customer C9 confirmed by phone"


def _sluice(project: DbtProject, capsys, *args: str) -> tuple[int, str]:
    code = main([*args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)])
    out = capsys.readouterr()
    return code, out.out + out.err


@SNOWFLAKE_TOO
def test_forget_redacts_one_record_everywhere_and_the_trail_verifies(make_project, engine, capsys):
    project = make_project(engine)
    scenario.setup(project)
    project.dbt("build")
    decision = _decide(project, "4", REASON)
    project.dbt("run", "-s", "orders")
    assert _sluice(project, capsys, "audit", "verify")[0] == 0
    ids = sorted(
        r[0]
        for r in project.query(
            "select exception_id from {schema}.orders__quarantine where record_key = '[4]'"
        )
    )
    others = project.query(
        "select exception_id, record_key, row_json from {schema}.orders__quarantine "
        "where record_key <> '[4]' order by 1"
    )

    code, out = _sluice(
        project,
        capsys,
        *("review", "forget", "--model", "orders", "--key", "[4]"),
        *("--by", "dpo@shop", "--reason", "erasure request 17"),
    )
    assert code == 0, out
    marker = redaction_marker("[4]")
    assert marker in out
    # the quarantine: key, failed value and row redacted, status and rule kept
    rows = project.query(
        "select exception_id, record_key, failed_value, row_json, status, rule_name "
        f"from {{schema}}.orders__quarantine where exception_id in ({_list(ids)}) order by 1"
    )
    assert [r[0] for r in rows] == ids
    for _, key, value, row, status, rule in rows:
        assert key == marker and row.startswith(REDACTED_PREFIX) and "C9" not in row
        assert value is None or value.startswith(REDACTED_PREFIX)
        assert status == "rejected" and rule == "orders_customer_exists"
    # the other records are untouched
    assert (
        project.query(
            "select exception_id, record_key, row_json from {schema}.orders__quarantine "
            "where record_key <> " + f"'{marker}' order by 1"
        )
        == others
    )
    # the history and the decisions: no clear key or reason is left
    assert project.query(
        "select count(*) from {schema}.sluice_exception_events "
        f"where record_key = '[4]' or reason = '{REASON}'"
    ) == [(0,)]
    assert project.query(
        f"select reason from {{schema}}.sluice_decisions where decision_id = '{decision}'"
    ) == [(redaction_marker(REASON),)]
    erased = project.query(
        "select exception_id, actor, reason, invocation_id from {schema}.sluice_exception_events "
        "where event_type = 'erased' order by 1"
    )
    assert erased == [(i, "dpo@shop", "erasure request 17", None) for i in ids]
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 0, out

    # the next build seals the erasure (the record is gone from the source meanwhile)
    project.write(
        "seeds/raw_orders.csv",
        scenario.ORDERS_HEADER
        + "\n"
        + "\n".join(r for r in scenario.GOOD_ORDERS + scenario.FAULTY_ORDERS if r[0] != "4")
        + "\n",
    )
    project.dbt("build")
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 0 and "waiting" not in out, out
    assert project.query(
        "select count(*) from {schema}.sluice_audit_records as r "
        "join {schema}.sluice_exception_events as e on e.event_id = r.record_key "
        "where e.event_type = 'erased'"
    ) == [(len(ids),)]

    # a hand edit of the erasure, or of a redacted value, is still reported
    project.execute(
        "update {schema}.sluice_exception_events set reason = 'no request' "
        "where event_type = 'erased'"
    )
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 1 and "edited" in out, out
    project.execute(
        "update {schema}.sluice_exception_events set reason = 'erasure request 17' "
        "where event_type = 'erased'"
    )
    assert _sluice(project, capsys, "audit", "verify")[0] == 0
    project.execute(
        f"update {{schema}}.sluice_decisions set reason = '{redaction_marker('other')}' "
        f"where decision_id = '{decision}'"
    )
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 1 and decision in out, out


def test_forget_redacts_the_key_in_the_reports_and_an_export_holds_no_evidence(
    make_project, capsys
):
    project = make_project("duckdb")
    scenario.setup(project)
    project.dbt("build")
    _decide(project, "4", REASON)
    project.dbt("build")
    out_dir = project.root / "reports"
    code, out = _sluice(project, capsys, "report", "--output-dir", str(out_dir))
    assert code in (0, 1), out
    files = {fmt: out_dir / name for fmt, name in REPORT_FILES.items()}
    held = [
        r for rc in json.loads(files["json"].read_text())["root_causes"] for r in rc["held_records"]
    ]
    keys = {r["record_key"] for r in held}
    assert len(keys) > 1, held  # one record forgotten, another left as it was
    key = held[0]["record_key"]
    gone = {r["exception_id"] for r in held if r["record_key"] == key}
    before = {fmt: path.read_text() for fmt, path in files.items()}

    # the trail's export holds the evidence's digests, never the evidence
    export = project.root / "trail.jsonl"
    code, out = _sluice(project, capsys, "audit", "export", "--output", str(export))
    assert code == 0, out
    text = export.read_text()
    assert REASON not in text and redaction_marker(REASON) in text
    assert '"[4]"' not in text and redaction_marker("[4]") in text

    code, out = _sluice(
        project,
        capsys,
        *("review", "forget", "--model", "orders", "--key", key),
        *("--by", "dpo@shop", "--reason", "erasure request 19"),
    )
    assert code == 0, out
    marker = redaction_marker(key)
    assert all(f"redacted the record's key in {path.resolve()}" in out for path in files.values())
    after = {fmt: path.read_text() for fmt, path in files.items()}
    # impact.json: exactly the forgotten record's entries changed
    redacted = [r for rc in json.loads(after["json"])["root_causes"] for r in rc["held_records"]]
    assert redacted == [
        {**r, "record_key": marker} if r["exception_id"] in gone else r for r in held
    ]
    # report.html and summary.md: the row or entry of each forgotten exception shows the marker,
    # every other line is as it was
    for fmt in ("html", "md"):
        changed = [
            (old, new)
            for old, new in zip(before[fmt].splitlines(), after[fmt].splitlines(), strict=True)
            if old != new
        ]
        assert changed, fmt
        for old, new in changed:
            assert marker in new and any(f"sluice review show {e}" in new for e in gone), new
            assert new.replace(marker, "") == old.replace(
                html.escape(key, quote=False) if fmt == "md" else html.escape(key), ""
            ), (old, new)
    # a second report lists it by its marker, and a second forget finds nothing more to do
    code, out = _sluice(project, capsys, "report", "--output-dir", str(out_dir))
    assert code in (0, 1), out
    assert key not in {
        r["record_key"]
        for rc in json.loads(files["json"].read_text())["root_causes"]
        for r in rc["held_records"]
    }


def test_forget_of_an_unknown_record_changes_nothing(make_project, capsys):
    project = make_project("duckdb")
    scenario.setup(project)
    project.dbt("build")
    before = project.query("select * from {schema}.orders__quarantine order by 1")
    code, out = _sluice(
        project,
        capsys,
        *("review", "forget", "--model", "orders", "--key", "[99]"),
        *("--by", "dpo@shop", "--reason", "erasure request 18"),
    )
    assert code == 2 and "no record '[99]' of model 'orders'" in out, out
    code, out = _sluice(project, capsys, "review", "forget", "--model", "orders", "--key", "[4]")
    assert code != 0
    assert project.query("select * from {schema}.orders__quarantine order by 1") == before


def _list(ids: list[str]) -> str:
    return ", ".join(f"'{i}'" for i in ids)
