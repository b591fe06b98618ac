"""The approval policy (var sluice_approval_policy): a decision the policy covers waits for its
approvers, a build applies it only once they approved, an approver counts once, a withdrawn
decision never applies, and every approval and withdrawal is sealed. On PostgreSQL with real
login roles; on DuckDB, where every command runs as the same operating-system user, a
two-person rule cannot be met by one user."""

from __future__ import annotations

import json

import pytest
from sluice.cli import main

from tests import scenario
from tests.pg_roles import grant_review, login_roles

TWO_PERSON = """
vars:
  sluice_approval_policy:
    - name: two-person
      rule: [orders_customer_exists, orders_status_known]
      approvers: 2
      reason_pattern: 'FIN-[0-9]+'
"""


def _sluice(project, capsys, *args, target=None):
    flags = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    code = main([*args, *flags, *(["--target", target] if target else [])])
    out = capsys.readouterr()
    return code, out.out + out.err


def _setup(project, policy=TWO_PERSON):
    scenario.setup(project)
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(policy)
    project.dbt("build")


def _exception(project, rule):
    return project.query(
        f"select exception_id from {{schema}}.orders__quarantine where rule_name = '{rule}'"
    )[0][0]


def _status(project, exception_id):
    return project.query(
        f"select status from {{schema}}.orders__quarantine where exception_id = '{exception_id}'"
    )[0][0]


def _decision_of(project, exception_id):
    return project.query(
        "select decision_id, policy, required_approvers from {schema}.sluice_decisions "
        f"where exception_id = '{exception_id}'"
    )[0]


def _pending(project, capsys, target=None):
    code, out = _sluice(project, capsys, "review", "pending", "--format", "json", target=target)
    assert code == 0, out
    return {p["decision_id"]: p for p in json.loads(out)}


@pytest.mark.postgres
def test_a_two_person_rule_with_real_roles(make_project, capsys):
    project = make_project("postgres")
    _setup(project)
    held = _exception(project, "orders_customer_exists")
    other = _exception(project, "orders_status_known")
    with login_roles(project, "ana", "bo") as roles:
        for role in roles.values():
            grant_review(project, role)
        # the reason must name a ticket
        code, out = _sluice(
            project, capsys, "review", "release", held, "--by", "ana", "--reason", "fine",
            target="ana",
        )  # fmt: skip
        assert code == 2 and "policy 'two-person'" in out and "FIN-[0-9]+" in out, out
        assert project.query("select count(*) from {schema}.sluice_decisions") == [(0,)]

        code, out = _sluice(
            project, capsys, "review", "release", held, "--by", "ana", "--reason", "FIN-12",
            target="ana",
        )  # fmt: skip
        assert code == 0 and "pending" in out, out
        decision_id, policy, required = _decision_of(project, held)
        assert (policy, required) == ("two-person", 2)
        waiting = _pending(project, capsys)[decision_id]
        assert waiting["waiting_for"] == 1 and waiting["requester"] == roles["ana"]

        # ana alone: not applied at the next build
        project.dbt("build")
        assert _status(project, held) == "open"
        # ana approving her own request does not count twice
        code, out = _sluice(
            project, capsys, "review", "approve", decision_id, "--by", "ana", "--reason", "again",
            target="ana",
        )  # fmt: skip
        assert code == 2 and "already counts" in out, out
        assert project.query("select count(*) from {schema}.sluice_decision_approvals") == [(0,)]

        # bo, a second role: accepted, applied at the next build
        code, out = _sluice(
            project, capsys, "review", "approve", decision_id, "--by", "bo", "--reason", "ok",
            target="bo",
        )  # fmt: skip
        assert code == 0 and "accepted" in out, out
        code, out = _sluice(
            project, capsys, "review", "approve", decision_id, "--by", "bo", "--reason", "twice",
            target="bo",
        )  # fmt: skip
        assert code == 2 and "already counts" in out, out
        assert _pending(project, capsys)[decision_id]["waiting_for"] == 0
        project.dbt("build")
        assert _status(project, held) == "released"
        assert decision_id not in _pending(project, capsys)

        # a withdrawn decision never applies, whoever approves it afterwards
        code, out = _sluice(
            project, capsys, "review", "reject", other, "--by", "ana", "--reason", "FIN-13",
            target="ana",
        )  # fmt: skip
        assert code == 0, out
        withdrawn_id = _decision_of(project, other)[0]
        code, out = _sluice(
            project, capsys, "review", "withdraw", withdrawn_id, "--by", "ana",
            "--reason", "wrong row", target="ana",
        )  # fmt: skip
        assert code == 0 and "withdrawn" in out, out
        code, out = _sluice(
            project, capsys, "review", "approve", withdrawn_id, "--by", "bo", "--reason", "ok",
            target="bo",
        )  # fmt: skip
        assert code == 2 and "was withdrawn" in out, out
        assert withdrawn_id not in _pending(project, capsys)
        project.dbt("build")
        assert _status(project, other) == "open"

    # the report's review history: requester, approvers with their identities, the policy,
    # when it took effect
    code, out = _sluice(project, capsys, "report")
    assert code in (0, 1), out
    document = json.loads((project.root / "target" / "sluice" / "impact.json").read_text())
    history = {r["decision_id"]: r for r in document["review_history"]}
    released = history[decision_id]
    assert (released["requested_by"], released["requester"]["user"]) == ("ana", roles["ana"])
    assert (released["policy"], released["required_approvers"]) == ("two-person", 2)
    assert [(a["action"], a["by"], a["user"]) for a in released["approvals"]] == [
        ("approve", "bo", roles["bo"])
    ]
    assert released["status"] == "applied" and released["applied_at"], released
    assert released["applied_at"] >= released["approvals"][0]["at"]
    assert history[withdrawn_id]["status"] == "withdrawn"
    assert history[withdrawn_id]["applied_at"] is None
    html = (project.root / "target" / "sluice" / "report.html").read_text()
    assert f'data-decision="{decision_id}"' in html and roles["bo"] in html

    # every approval and withdrawal is sealed; an edit of one is caught
    assert project.query(
        "select count(*) from {schema}.sluice_audit_records where chain_name = 'decision_approvals'"
    ) == [(2,)]
    assert _sluice(project, capsys, "audit", "verify")[0] == 0
    project.execute(
        "update {schema}.sluice_decision_approvals set authenticated_user = 'ana' "
        "where action = 'approve'"
    )
    code, out = _sluice(project, capsys, "audit", "verify")
    assert code == 1 and "decision_approvals" in out and "edited" in out, out


def test_on_duckdb_one_user_cannot_meet_a_two_person_rule(make_project, capsys):
    project = make_project("duckdb")
    _setup(project)
    held = _exception(project, "orders_customer_exists")
    code, out = _sluice(
        project, capsys, "review", "release", held, "--by", "ana", "--reason", "FIN-1"
    )
    assert code == 0, out
    decision_id = _decision_of(project, held)[0]
    code, out = _sluice(
        project, capsys, "review", "approve", decision_id, "--by", "bo", "--reason", "ok"
    )
    assert code == 2 and "already counts" in out, out
    project.dbt("build")
    assert _status(project, held) == "open"
    # a decision inserted by hand, claiming approvals it has not got, waits the same
    project.execute(
        "insert into {schema}.sluice_decisions (decision_id, exception_id, model_unique_id, "
        f"decision, decided_by, decided_at, reason, required_approvers) values ('forged', '{held}', "
        "'model.sluice_test.orders', 'release', 'eve', cast(current_timestamp as timestamp), "
        "'FIN-2', 1)"
    )
    project.dbt("build")
    assert _status(project, held) == "open"
    assert _sluice(project, capsys, "audit", "verify")[0] == 0


@pytest.mark.parametrize(
    ("policy", "named"),
    [
        ("[{rule: x, approvers: 0}]", "key 'approvers'"),
        ("[{severity: urgent}]", "unknown severity 'urgent'"),
        ("[{rule: x, approver: 2}]", "unknown key 'approver'"),
        ("{rule: x}", "must be a list"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_var_and_key(make_project, capsys, policy, named):
    project = make_project("duckdb")
    scenario.setup(project)
    project.dbt("build")
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(f"vars:\n  sluice_approval_policy: {policy}\n")
    code, out = _sluice(project, capsys, "review", "pending")
    assert code == 2 and "sluice_approval_policy" in out and named in out, out
    result = project.dbt("run", "-s", "orders", expect=2)
    assert "sluice_approval_policy" in result.output and named in result.output


def test_the_build_says_which_decisions_wait_and_for_whom(make_project, capsys):
    """`sluice build` lists, per model, the decisions still waiting after it: the approvals
    each needs and who may give them, in its summary and in build.json."""
    import getpass

    project = make_project("duckdb")
    _setup(project)
    held = _exception(project, "orders_customer_exists")
    code, out = _sluice(
        project, capsys, "review", "release", held, "--by", "ana", "--reason", "FIN-1"
    )
    assert code == 0, out
    decision_id = _decision_of(project, held)[0]

    code, out = _sluice(project, capsys, "build", "--no-report", "--dbt-log", "--max-attempts", "1")
    assert code == 0, out
    assert _status(project, held) == "open"
    me = getpass.getuser()
    assert "decisions waiting for approvers: 1" in out, out
    assert f"{decision_id} release of {held} by ana" in out, out
    assert (
        f"waiting for 1 more approver: any identity the warehouse authenticates other than {me}"
        in out
    ), out

    record = json.loads((project.root / "target" / "sluice" / "build.json").read_text())
    [pending] = record["pending_decisions"]
    assert pending["decision_id"] == decision_id and pending["model_name"] == "orders"
    assert pending["model_unique_id"] == "model.sluice_test.orders"
    assert (pending["policy"], pending["waiting_for"], pending["not_counted"]) == (
        "two-person",
        1,
        [me],
    )
    assert me in pending["who_may_approve"]

    # withdrawn: nothing waits any more
    code, out = _sluice(
        project, capsys, "review", "withdraw", decision_id, "--by", "ana", "--reason", "no"
    )
    assert code == 0, out
    code, out = _sluice(project, capsys, "build", "--no-report", "--dbt-log", "--max-attempts", "1")
    assert code == 0 and "decisions waiting" not in out, out
    record = json.loads((project.root / "target" / "sluice" / "build.json").read_text())
    assert record["pending_decisions"] == []


def _groups_policy(group, members=None):
    text = TWO_PERSON.replace(
        "      reason_pattern", f"      groups: [{group}]\n      reason_pattern"
    )
    if members is not None:
        text += f"  sluice_approver_groups:\n    {group}: [{', '.join(members)}]\n"
    return text


def test_on_duckdb_only_members_of_the_groups_decide(make_project, capsys):
    """Groups from var sluice_approver_groups: the operating-system user outside them is
    refused, exit 2, nothing written; listed, the same request is recorded."""
    import getpass

    project = make_project("duckdb")
    _setup(project, _groups_policy("finance_leads", ["alice", "bob"]))
    held = _exception(project, "orders_customer_exists")
    code, out = _sluice(
        project, capsys, "review", "release", held, "--by", "ana", "--reason", "FIN-1"
    )
    assert code == 2 and "nothing recorded" in out, out
    assert f"{getpass.getuser()} is not a member of finance_leads" in out, out
    assert project.query("select count(*) from {schema}.sluice_decisions") == [(0,)]
    code, out = _sluice(
        project, capsys, "review", "override", "orders", "--by", "ana", "--reason", "FIN-1"
    )
    assert code == 2 and "not a member of finance_leads" in out, out
    assert project.query("select count(*) from {schema}.sluice_decisions") == [(0,)]

    # a group that is neither in the var nor a role (DuckDB has none) is named
    text = (project.root / "dbt_project.yml").read_text()
    (project.root / "dbt_project.yml").write_text(
        text.replace("groups: [finance_leads]", "groups: [auditors]")
    )
    code, out = _sluice(
        project, capsys, "review", "release", held, "--by", "ana", "--reason", "FIN-1"
    )
    assert code == 2 and "group 'auditors'" in out and "sluice_approver_groups" in out, out

    (project.root / "dbt_project.yml").write_text(
        text.replace("[alice, bob]", f"[alice, {getpass.getuser()}]")
    )
    code, out = _sluice(
        project, capsys, "review", "release", held, "--by", "ana", "--reason", "FIN-1"
    )
    assert code == 0, out
    code, out = _sluice(project, capsys, "review", "pending")
    assert "who may approve: a member of finance_leads other than" in out, out


@pytest.mark.postgres
def test_groups_from_postgresql_roles(make_project, capsys):
    """A group that is a PostgreSQL role: its members (pg_has_role) may request and approve,
    anyone else is refused, exit 2, nothing written."""
    import uuid

    from tests.pg_roles import as_admin

    group = f"sluice_leads_{uuid.uuid4().hex[:8]}"
    project = make_project("postgres")
    _setup(project, _groups_policy(group))
    held = _exception(project, "orders_customer_exists")
    as_admin(f"create role {group} nologin")
    try:
        with login_roles(project, "ana", "bo") as roles:
            for role in roles.values():
                grant_review(project, role)
            code, out = _sluice(
                project, capsys, "review", "release", held, "--by", "ana", "--reason", "FIN-1",
                target="ana",
            )  # fmt: skip
            assert code == 2 and f"{roles['ana']} is not a member of {group}" in out, out
            assert project.query("select count(*) from {schema}.sluice_decisions") == [(0,)]

            as_admin(f"grant {group} to {roles['ana']}")
            code, out = _sluice(
                project, capsys, "review", "release", held, "--by", "ana", "--reason", "FIN-1",
                target="ana",
            )  # fmt: skip
            assert code == 0, out
            decision_id = _decision_of(project, held)[0]
            code, out = _sluice(
                project, capsys, "review", "approve", decision_id, "--by", "bo", "--reason", "ok",
                target="bo",
            )  # fmt: skip
            assert code == 2 and f"{roles['bo']} is not a member of {group}" in out, out
            assert project.query("select count(*) from {schema}.sluice_decision_approvals") == [
                (0,)
            ]

            as_admin(f"grant {group} to {roles['bo']}")
            code, out = _sluice(
                project, capsys, "review", "approve", decision_id, "--by", "bo", "--reason", "ok",
                target="bo",
            )  # fmt: skip
            assert code == 0 and "accepted" in out, out
            project.dbt("build")
            assert _status(project, held) == "released"
    finally:
        as_admin(f"drop role if exists {group}")


def test_the_report_shows_the_review_history(make_project, capsys):
    """Without a policy: the decision, its requester and the identity the warehouse (here the
    operating system) vouched for, the default policy, and when the build applied it."""
    import getpass

    project = make_project("duckdb")
    _setup(project, policy="")
    held = _exception(project, "orders_customer_exists")
    code, out = _sluice(
        project, capsys, "review", "release", held, "--by", "someone", "--reason", "known"
    )
    assert code == 0, out
    decision_id = _decision_of(project, held)[0]
    code, out = _sluice(project, capsys, "report")
    document = json.loads((project.root / "target" / "sluice" / "impact.json").read_text())
    [pending] = document["review_history"]
    assert pending["status"] == "not_applied" and pending["applied_at"] is None

    project.dbt("build")
    assert _status(project, held) == "released"
    code, out = _sluice(project, capsys, "report")
    document = json.loads((project.root / "target" / "sluice" / "impact.json").read_text())
    [review] = document["review_history"]
    assert review["decision_id"] == decision_id and review["exception_id"] == held
    assert review["requester"] == {
        "user": getpass.getuser(),
        "role": None,
        "source": "os",
        "check": "matches" if getpass.getuser() == "someone" else "differs",
    }
    assert (review["policy"], review["required_approvers"], review["approvals"]) == (
        "default",
        1,
        [],
    )
    assert review["status"] == "applied" and review["applied_at"] >= review["requested_at"]
    assert review["applied_by_invocation"]
    html = (project.root / "target" / "sluice" / "report.html").read_text()
    assert 'id="review-history"' in html and f'data-decision="{decision_id}"' in html
