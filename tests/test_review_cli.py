"""`sluice review` against real warehouses: decisions are recorded, bad ones refused."""

from __future__ import annotations

import json

import pytest
from sluice.cli import main

from tests import scenario


def _review(project, capsys, *args):
    code = main(
        ["review", *args, "--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    )
    out = capsys.readouterr()
    return code, out.out, out.err


def _decisions(project):
    return project.query("select count(*) from {schema}.sluice_decisions")[0][0]


def test_list_release_and_next_build(make_project, engine, capsys):
    project = make_project(engine)
    scenario.setup(project)
    project.dbt("build")

    code, out, _ = _review(project, capsys, "list", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert [(r["record_key"], r["rule_name"]) for r in listed] == [
        ("[4]", "orders_customer_exists")
    ]
    code, out, _ = _review(project, capsys, "list", "--all", "--format", "json")
    assert len(json.loads(out)) == len(scenario.RULES)

    exception_id = listed[0]["exception_id"]
    code, out, err = _review(project, capsys, "show", exception_id, "--format", "json")
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["exception_id"], shown["record_key"], shown["status"]) == (
        exception_id,
        "[4]",
        "open",
    )
    assert shown["rule_name"] == "orders_customer_exists"
    code, out, err = _review(project, capsys, "show", exception_id)
    assert code == 0 and "orders_customer_exists" in out and "[4]" in out
    code, out, err = _review(project, capsys, "show", "nope")
    assert code == 2 and "no exception 'nope'" in err and out == ""

    code, out, err = _review(
        project, capsys, "release", exception_id, "--by", "ana", "--reason", "new customer"
    )
    assert code == 0, err
    assert "next build" in out
    rows = project.query(
        "select exception_id, decision, decided_by, reason, decided_at from {schema}.sluice_decisions"
    )
    assert [r[:4] for r in rows] == [(exception_id, "release", "ana", "new customer")] and rows[0][
        4
    ] is not None

    project.dbt("run", "-s", "orders")
    assert 4 in {r[0] for r in scenario.published(project)}
    code, out, err = _review(project, capsys, "show", exception_id, "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "released"
    code, out, err = _review(
        project, capsys, "release", exception_id, "--by", "ana", "--reason", "again"
    )
    assert code == 2 and "released, not open" in err


REFUSALS = [
    (["release", "{id}", "--reason", "r"], "needs its author"),
    (["release", "{id}", "--by", " ", "--reason", "r"], "needs its author"),
    (["reject", "{id}", "--by", "ana"], "needs a reason"),
    (["release", "nope", "--by", "ana", "--reason", "r"], "no exception 'nope'"),
    (["retry", "{id}", "--by", "ana", "--reason", "r"], "only dead_letter, rejected or released"),
]


@pytest.mark.parametrize(("args", "message"), REFUSALS, ids=[r[1] for r in REFUSALS])
def test_bad_decisions_are_refused_and_nothing_is_written(make_project, capsys, args, message):
    project = make_project("duckdb")
    scenario.setup(project)
    project.dbt("build")
    exception_id = project.query(
        "select exception_id from {schema}.orders__quarantine where record_key = '[4]'"
    )[0][0]
    before = _decisions(project)
    code, _, err = _review(project, capsys, *[a.replace("{id}", exception_id) for a in args])
    assert code == 2
    assert message in err
    assert _decisions(project) == before


def test_no_build_yet_is_a_clear_error(make_project, capsys):
    project = make_project("duckdb")
    scenario.setup(project)
    code, _, err = _review(project, capsys, "list")
    assert code == 2 and "run dbt build first" in err
