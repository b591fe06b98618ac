"""Every decision records, beside its `--by` name, the identity the warehouse authenticated
(PostgreSQL's session_user and current_user, Snowflake's CURRENT_USER() and CURRENT_ROLE(), the
operating-system user on DuckDB), says when `--by` names someone else, shows it in `review show`
and `audit export`, and seals it: `audit verify` catches an edit of it."""

from __future__ import annotations

import getpass
import json

import pytest
from sluice.cli import main

from tests import scenario
from tests.dbt_harness import PG_USER, SNOWFLAKE_TOO
from tests.pg_roles import grant_review, login_roles


def _sluice(project, capsys, *args, target=None):
    flags = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    code = main([*args, *flags, *(["--target", target] if target else [])])
    out = capsys.readouterr()
    return code, out.out + out.err


def _open_exception(project):
    return project.query(
        "select exception_id from {schema}.orders__quarantine where status = 'open' "
        "and rule_name = 'orders_customer_exists'"
    )[0][0]


def _identity_of(project, decision_by):
    return project.query(
        "select authenticated_user, authenticated_role, identity_source, identity_check "
        f"from {{schema}}.sluice_decisions where decided_by = '{decision_by}'"
    )


def _expected_user(project):
    if project.engine == "duckdb":
        return getpass.getuser(), None, "os"
    if project.engine == "postgres":
        return PG_USER, PG_USER, "warehouse"
    user, role = project.query("select current_user(), current_role()")[0]
    return user, role, "warehouse"


@SNOWFLAKE_TOO
def test_a_decision_records_the_authenticated_identity_and_seals_it(make_project, engine, capsys):
    project = make_project(engine)
    scenario.setup(project)
    project.dbt("build")
    exception_id = _open_exception(project)
    user, role, source = _expected_user(project)

    # --by names someone the warehouse did not authenticate: recorded as differing
    code, out = _sluice(
        project, capsys, "review", "release", exception_id, "--by", "not-" + user,
        "--reason", "customer created late",
    )  # fmt: skip
    assert code == 0, out
    assert f"authenticated: {user}" in out and "(differs from --by)" in out
    assert _identity_of(project, "not-" + user) == [(user, role, source, "differs")]

    code, out = _sluice(project, capsys, "review", "show", exception_id)
    assert code == 0, out
    assert f"release by not-{user}" in out and "(differs from --by)" in out
    code, out = _sluice(project, capsys, "review", "show", exception_id, "--format", "json")
    (pending,) = json.loads(out)["pending_decisions"]
    assert pending["identity"] == {"user": user, "role": role, "source": source}
    assert pending["identity_check"] == "differs"

    # applied and sealed by the next build; the export carries the identity
    project.dbt("build")
    assert project.query(
        f"select status from {{schema}}.orders__quarantine where exception_id = '{exception_id}'"
    ) == [("released",)]
    code, out = _sluice(project, capsys, "review", "show", exception_id)
    assert "decisions (1 decision" in out and f"authenticated: {user}" in out
    assert _sluice(project, capsys, "audit", "verify")[0] == 0
    export = project.root / "trail.jsonl"
    code, out = _sluice(project, capsys, "audit", "export", "--output", str(export))
    assert code == 0, out
    records = [json.loads(line) for line in export.read_text().splitlines()]
    (decision,) = [
        r["row"] for r in records if r["kind"] == "record" and r["chain_name"] == "decisions"
    ]
    assert decision["decided_by"] == "not-" + user
    assert decision["authenticated_user"] == user and decision["identity_check"] == "differs"

    # an edit of the identity, or of what it says of --by, is caught
    for column, forged in (("authenticated_user", "not-" + user), ("identity_check", "matches")):
        project.execute(f"update {{schema}}.sluice_decisions set {column} = '{forged}'")
        code, out = _sluice(project, capsys, "audit", "verify")
        assert code == 1 and "edited" in out, out
        original = user if column == "authenticated_user" else "differs"
        project.execute(f"update {{schema}}.sluice_decisions set {column} = '{original}'")
    assert _sluice(project, capsys, "audit", "verify")[0] == 0


@pytest.mark.postgres
def test_a_reviewer_logging_in_as_their_own_role_is_recorded_as_that_role(make_project, capsys):
    project = make_project("postgres")
    scenario.setup(project)
    project.dbt("build")
    with login_roles(project, "reviewer") as roles:
        role = roles["reviewer"]
        grant_review(project, role)
        exception_id = _open_exception(project)

        code, out = _sluice(
            project, capsys, "review", "release", exception_id, "--by", role,
            "--reason", "checked with finance", target="reviewer",
        )  # fmt: skip
        assert code == 0, out
        assert "differs" not in out
        assert _identity_of(project, role) == [(role, role, "warehouse", "matches")]

        # the admin claiming to be the reviewer is recorded as the admin, differing from --by
        code, out = _sluice(
            project, capsys, "review", "reject", exception_id, "--by", role + "-x",
            "--reason", "changed my mind",
        )  # fmt: skip
        assert code == 0, out
        assert _identity_of(project, role + "-x") == [(PG_USER, PG_USER, "warehouse", "differs")]


def test_a_decisions_table_from_before_identities_gains_the_columns(make_project, capsys):
    """A decisions table created by an earlier version (no identity columns): the build's
    bookkeeping adds them, and a decision recorded afterwards carries its identity."""
    project = make_project("duckdb")
    scenario.setup(project)
    project.execute(
        "create table {schema}.sluice_decisions (decision_id varchar, exception_id varchar, "
        "model_unique_id varchar, decision varchar, decided_by varchar, decided_at timestamp, "
        "reason varchar)"
    )
    project.dbt("build")
    columns = [
        r[0]
        for r in project.query(
            "select column_name from information_schema.columns "
            "where table_name = 'sluice_decisions' order by ordinal_position"
        )
    ]
    assert columns[7:] == [
        "authenticated_user",
        "authenticated_role",
        "identity_source",
        "identity_check",
        "policy",
        "required_approvers",
        "taken_sides",
    ]
    code, out = _sluice(
        project, capsys, "review", "release", _open_exception(project), "--by", "ana",
        "--reason", "known customer",
    )  # fmt: skip
    assert code == 0, out
    assert _identity_of(project, "ana") == [(getpass.getuser(), None, "os", "differs")]
    project.dbt("build")
    assert _sluice(project, capsys, "audit", "verify")[0] == 0
