"""A one-time override of a model's gate (sluice review override MODEL): the next build
publishes despite the gate, the held rows stay in the quarantine, the load state says
overridden, the build after publishes only if its own gate passes; under the approval policy
the override waits for its approvers; it is sealed, and an edit of it is caught."""

from __future__ import annotations

import json

import pytest
from sluice.artifacts import load_run_results
from sluice.impact.quarantine import quarantine_from_run_results
from sluice.project import ProjectFlags, load_project
from sluice.warehouse import connect, last_passed

from tests import scenario
from tests.dbt_harness import SNOWFLAKE_TOO
from tests.pg_roles import grant_review, login_roles
from tests.test_review_approvals import TWO_PERSON, _sluice

ORDERS = "model.sluice_test.orders"
HELD_KEYS = {"[2]", "[3]", "[4]", "[7]"}
# the scenario's gate with no high failure allowed: orders_customer_required (high) holds it
HOLDING_GATE = "{critical: 0, high: 0, medium: 5}"


def _held_setup(project, policy=""):
    scenario.setup(project, gate=HOLDING_GATE)
    if policy:
        with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
            f.write(policy)
    result = project.dbt("build", expect=1)
    assert result.status("orders") == "error", result.output[-3000:]
    assert not project.relation_exists("orders")


def _load_states(project):
    return [
        state
        for _, state in sorted(
            project.query(
                "select as_of, state from {schema}.sluice_load_states "
                f"where model_unique_id = '{ORDERS}'"
            )
        )
    ]


def _gate_statuses(project):
    """What `sluice_runs` and the run result's counts say of each build's gate, in order."""
    return [
        status
        for _, status in sorted(
            project.query(
                "select run_started_at, gate_status from {schema}.sluice_runs "
                f"where model_unique_id = '{ORDERS}'"
            )
        )
    ]


def _open_keys(project):
    return {
        key
        for (key,) in project.query(
            "select record_key from {schema}.orders__quarantine where status = 'open'"
        )
    }


def _override_id(project):
    [(decision_id,)] = project.query(
        "select decision_id from {schema}.sluice_decisions where decision = 'override'"
    )
    return decision_id


@SNOWFLAKE_TOO
def test_an_override_publishes_once_despite_the_gate(make_project, engine, capsys):
    project = make_project(engine)
    _held_setup(project)
    assert _load_states(project) == ["held"]

    code, out = _sluice(
        project, capsys, "review", "override", "orders", "--by", "ana", "--reason", "month end"
    )
    assert code == 0 and "the next build of orders publishes despite its gate" in out, out
    decision_id = _override_id(project)

    result = project.dbt("build")
    assert result.status("orders") == "success", result.output[-3000:]
    assert f"gate overridden by decision {decision_id}" in result.result("orders")["message"]
    # published without the held rows, which stay in the quarantine, still open
    assert {r[0] for r in scenario.published(project)} == scenario.PUBLISHED_KEYS
    assert _open_keys(project) >= HELD_KEYS
    assert _load_states(project) == ["held", "overridden"]
    assert _gate_statuses(project) == ["held", "overridden"]
    stated = quarantine_from_run_results(
        load_run_results(project.root / "target" / "run_results.json")
    )[ORDERS]
    assert stated.gate_status == "overridden" and stated.last_passed_at is not None
    # the data its consumers read is this build's: the last publication, for the report
    loaded = load_project(ProjectFlags(project_dir=project.root, profiles_dir=project.root))
    with connect(loaded) as wh:
        published_at = last_passed(wh, [ORDERS])
    [(finished_at,)] = project.query(
        "select finished_at from {schema}.sluice_runs "
        f"where model_unique_id = '{ORDERS}' and gate_status = 'overridden'"
    )
    assert published_at[ORDERS].replace(tzinfo=None) == finished_at.replace(tzinfo=None)
    [(missing,)] = project.query(
        "select missing from {schema}.sluice_load_states where state = 'overridden'"
    )
    assert decision_id in missing and "ana" in missing and "month end" in missing
    assert project.query(
        "select action, approved_by from {schema}.sluice_decision_approvals "
        f"where decision_id = '{decision_id}'"
    ) == [("applied", "sluice")]

    # used once: the build after holds again, the published data stays as it was
    result = project.dbt("build", expect=1)
    assert result.status("orders") == "error"
    assert {r[0] for r in scenario.published(project)} == scenario.PUBLISHED_KEYS
    assert _load_states(project) == ["held", "overridden", "held"]
    assert _gate_statuses(project) == ["held", "overridden", "held"]
    code, out = _sluice(project, capsys, "review", "pending", "--format", "json")
    assert code == 0 and json.loads(out) == [], out
    code, out = _sluice(
        project, capsys, "review", "approve", decision_id, "--by", "bo", "--reason", "late"
    )
    assert code == 2 and "applied already" in out, out

    # sealed: the override and its use verify, an edit of either is caught
    assert _sluice(project, capsys, "audit", "verify")[0] == 0
    project.execute(
        "update {schema}.sluice_decisions set reason = 'all fine' "
        f"where decision_id = '{decision_id}'"
    )
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 1 and "decisions" in out and "edited" in out, out


def test_an_override_of_an_unknown_model_is_refused(make_project, capsys):
    project = make_project("duckdb")
    _held_setup(project)
    code, out = _sluice(
        project, capsys, "review", "override", "ordres", "--by", "ana", "--reason", "x"
    )
    assert code == 2 and "'ordres'" in out and "nothing recorded" in out, out
    code, out = _sluice(project, capsys, "review", "override", "orders", "--by", "ana")
    assert code == 2 and "--reason" in out, out
    assert project.query("select count(*) from {schema}.sluice_decisions") == [(0,)]


def test_on_duckdb_an_override_under_a_two_person_rule_waits(make_project, capsys):
    """The override is judged by the strictest policy entry covering the model's rules; on
    DuckDB one operating-system user cannot be its second approver, so the gate keeps holding."""
    project = make_project("duckdb")
    _held_setup(project, TWO_PERSON)
    code, out = _sluice(
        project, capsys, "review", "override", "orders", "--by", "ana", "--reason", "month end"
    )
    assert code == 2 and "policy 'two-person'" in out and "gate of model orders" in out, out
    code, out = _sluice(
        project, capsys, "review", "override", "orders", "--by", "ana", "--reason", "FIN-7"
    )
    assert code == 0 and "waiting for 1 more approver" in out, out
    decision_id = _override_id(project)
    assert project.query("select policy, required_approvers from {schema}.sluice_decisions") == [
        ("two-person", 2)
    ]
    code, out = _sluice(project, capsys, "review", "pending", "--format", "json")
    [pending] = json.loads(out)
    assert (pending["decision_id"], pending["decision"], pending["waiting_for"]) == (
        decision_id,
        "override",
        1,
    )
    code, out = _sluice(
        project, capsys, "review", "approve", decision_id, "--by", "bo", "--reason", "ok"
    )
    assert code == 2 and "already counts" in out, out
    project.dbt("build", expect=1)
    assert _load_states(project) == ["held", "held"]
    assert not project.relation_exists("orders")


@pytest.mark.postgres
def test_an_override_waits_for_a_second_role_on_postgres(make_project, capsys):
    project = make_project("postgres")
    _held_setup(project, TWO_PERSON)
    with login_roles(project, "ana", "bo") as roles:
        for role in roles.values():
            grant_review(project, role)
        code, out = _sluice(
            project, capsys, "review", "override", "orders", "--by", "ana", "--reason", "FIN-7",
            target="ana",
        )  # fmt: skip
        assert code == 0 and "waiting for 1 more approver" in out, out
        decision_id = _override_id(project)
        # ana alone: the gate still holds
        project.dbt("build", expect=1)
        assert _load_states(project) == ["held", "held"]

        code, out = _sluice(
            project, capsys, "review", "approve", decision_id, "--by", "bo", "--reason", "ok",
            target="bo",
        )  # fmt: skip
        assert code == 0 and "accepted" in out, out
        result = project.dbt("build")
        assert result.status("orders") == "success", result.output[-3000:]
        assert _load_states(project) == ["held", "held", "overridden"]
        assert {r[0] for r in scenario.published(project)} == scenario.PUBLISHED_KEYS
        assert _open_keys(project) >= HELD_KEYS
        project.dbt("build", expect=1)
        assert _load_states(project)[-1] == "held"

    assert _sluice(project, capsys, "audit", "verify")[0] == 0
    project.execute(
        "update {schema}.sluice_decision_approvals set reason = 'nothing' where action = 'applied'"
    )
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 1 and "decision_approvals" in out and "edited" in out, out
