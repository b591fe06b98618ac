"""Who may read the quarantine and write decisions (var sluice_grants): applied by the package
to the quarantine relations and the decisions and approvals tables on PostgreSQL, with real
login roles; a reviewer without the INSERT privilege is refused, nothing written."""

from __future__ import annotations

import psycopg2
import pytest
from sluice.cli import main

from tests import scenario
from tests.pg_roles import as_admin, as_role, login_roles


def _sluice(project, capsys, *args, target=None):
    flags = ["--project-dir", str(project.root), "--profiles-dir", str(project.root)]
    code = main([*args, *flags, *(["--target", target] if target else [])])
    out = capsys.readouterr()
    return code, out.out + out.err


def _grants(project, roles):
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(
            "vars:\n  sluice_grants:\n"
            f"    quarantine: {{select: [{roles['reviewer']}, {roles['triager']}]}}\n"
            f"    decisions: {{insert: [{roles['reviewer']}]}}\n"
        )


@pytest.mark.postgres
def test_grants_decide_who_reads_the_quarantine_and_writes_decisions(make_project, capsys):
    project = make_project("postgres")
    scenario.setup(project)
    with login_roles(project, "reviewer", "triager", "analyst") as roles:
        _grants(project, roles)
        project.dbt("build")
        # every role may read the schema's tables, as a schema-wide grant would give
        for role in roles.values():
            as_admin(f'grant usage on schema "{project.schema}" to {role}')
            as_admin(f'grant select on all tables in schema "{project.schema}" to {role}')
        project.dbt("build")

        quarantine = f'select exception_id, rule_name from "{project.schema}".orders__quarantine'
        # the analyst reads the schema's other tables, not the quarantine: the build took back
        # the schema-wide grant on it
        assert as_role(roles["analyst"], f'select count(*) from "{project.schema}".sluice_runs')
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            as_role(roles["analyst"], quarantine)
        held = as_role(roles["reviewer"], quarantine)
        exception_id = next(e for e, rule in held if rule == "orders_customer_exists")

        # the triager reads the quarantine but may not decide: refused naming the privilege
        code, out = _sluice(
            project, capsys, "review", "release", exception_id, "--by", "tri", "--reason", "ok",
            target="triager",
        )  # fmt: skip
        assert code == 2, out
        assert "INSERT privilege" in out and "sluice_decisions" in out, out
        assert project.query("select count(*) from {schema}.sluice_decisions") == [(0,)]

        # the reviewer, granted insert on the decisions by the settings, decides
        code, out = _sluice(
            project, capsys, "review", "release", exception_id, "--by", "rev", "--reason", "ok",
            target="reviewer",
        )  # fmt: skip
        assert code == 0, out
        assert project.query(
            "select decided_by, authenticated_user from {schema}.sluice_decisions"
        ) == [("rev", roles["reviewer"])]
        # approvals: the same privilege, the same refusal
        decision_id = project.query("select decision_id from {schema}.sluice_decisions")[0][0]
        code, out = _sluice(
            project, capsys, "review", "withdraw", decision_id, "--by", "tri", "--reason", "no",
            target="triager",
        )  # fmt: skip
        assert code == 2, out
        assert "INSERT privilege" in out and "sluice_decision_approvals" in out, out
        assert project.query("select count(*) from {schema}.sluice_decision_approvals") == [(0,)]
        project.dbt("build")
        assert project.query(
            f"select status from {{schema}}.orders__quarantine where exception_id = '{exception_id}'"
        ) == [("released",)]


@pytest.mark.parametrize(
    ("grants", "named"),
    [
        ("[analyst]", "must be a mapping"),
        ("{quarantines: {select: [a]}}", "unknown key 'quarantines'"),
        ("{quarantine: [a]}", "key 'quarantine' must map privileges"),
        ("{decisions: {insert: {a: b}}}", "key 'decisions.insert'"),
    ],
)
def test_bad_grants_stop_the_build_naming_the_var_and_key(make_project, grants, named):
    project = make_project("duckdb")
    scenario.setup(project)
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as f:
        f.write(f"vars:\n  sluice_grants: {grants}\n")
    result = project.dbt("run", "-s", "orders", expect=2)
    assert "sluice_grants" in result.output and named in result.output, result.output[-3000:]


def test_a_models_own_grants_are_a_known_setting(make_project):
    """`meta.sluice.grants` (a model's own entry, replacing the var's) is accepted by the
    package's settings check; on DuckDB, which has no grants, the model then builds as before."""
    project = make_project("duckdb")
    scenario.setup(project, extra_meta="grants: {quarantine: {select: [analyst]}}")
    project.dbt("seed")
    result = project.dbt("run", "-s", "orders", expect=None)
    assert "unknown setting" not in result.output, result.output[-3000:]
    assert result.status("orders") == "success", result.output[-3000:]
