"""A decision row naming another model than its exception's is refused, never applied, and the
refusal is recorded as a sealed event, with or without a decision of the model's own; the
refused decision row is sealed too, so editing or deleting it is caught."""

from __future__ import annotations

from sluice.cli import main

from tests import scenario

FORGED = (
    "insert into {{schema}}.sluice_decisions (decision_id, exception_id, model_unique_id, "
    "decision, decided_by, decided_at, reason) values ('forged-1', '{exception_id}', "
    "'model.sluice_test.ghost', 'reject', 'eve', cast(current_timestamp as timestamp), 'x')"
)


def _verify(project, capsys) -> tuple[int, str]:
    code = main(
        [
            "audit",
            "verify",
            "--project-dir",
            str(project.root),
            "--profiles-dir",
            str(project.root),
        ]
    )
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_decision_naming_another_model_is_refused_and_recorded(make_project, engine, capsys):
    project = make_project(engine)
    scenario.setup(project)
    project.dbt("build")
    exception_id, status = project.query(
        "select exception_id, status from {schema}.orders__quarantine where status = 'open' "
        "order by exception_id"
    )[0]
    project.execute(FORGED.format(exception_id=exception_id))
    project.dbt("run", "-s", "orders")

    # not applied: the exception keeps its status, no `decided` event by eve
    assert project.query(
        f"select status from {{schema}}.orders__quarantine where exception_id = '{exception_id}'"
    ) == [(status,)]
    assert project.query(
        "select count(*) from {schema}.sluice_exception_events where actor = 'eve'"
    ) == [(0,)]
    # recorded: one `refused` event naming the decision, its author and the model it named
    refused = project.query(
        "select reason, actor from {schema}.sluice_exception_events "
        f"where event_type = 'refused' and exception_id = '{exception_id}'"
    )
    assert len(refused) == 1, refused
    reason, actor = refused[0]
    assert actor == "sluice"
    assert "forged-1" in reason and "eve" in reason and "model.sluice_test.ghost" in reason

    # the refusal is sealed, and so is the refused decision row (in the chain of the model that
    # refused it): verify is intact, and nothing waits for a seal
    code, out = _verify(project, capsys)
    assert code == 0, out
    assert "wait for their seal" not in out
    assert project.query(
        "select model_unique_id from {schema}.sluice_audit_records "
        "where chain_name = 'decisions' and record_key = 'forged-1'"
    ) == [("model.sluice_test.orders",)]
    # editing the refused decision row is caught
    edit = "update {schema}.sluice_decisions set decided_by = '%s' where decision_id = 'forged-1'"
    project.execute(edit % "mallory")
    code, out = _verify(project, capsys)
    assert code == 1 and "forged-1" in out and "edited" in out, out
    project.execute(edit % "eve")
    assert _verify(project, capsys)[0] == 0
    # deleting it is caught, and stays caught after the next build
    project.execute("delete from {schema}.sluice_decisions where decision_id = 'forged-1'")
    code, out = _verify(project, capsys)
    assert code == 1 and "forged-1" in out and "removed" in out, out
    project.dbt("run", "-s", "orders")
    assert project.query(
        "select count(*) from {schema}.sluice_exception_events where event_type = 'refused'"
    ) == [(1,)]
    assert _verify(project, capsys)[0] == 1
    # removing the sealed refusal is caught
    project.execute("delete from {schema}.sluice_exception_events where event_type = 'refused'")
    code, out = _verify(project, capsys)
    assert code == 1, out
