"""The statement checker (tests/snowflake_sql.py) that every Snowflake test's statements pass
through (tests/conftest.py): each rule rejects the SQL sluice sent before it was rewritten (kept
in tests/fixtures/snowflake_sql/, captured from a fakesnow server's statement log), and lets the
forms Snowflake documents as supported through."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dbt_harness import DbtProject
from tests.snowflake_sql import Sent, check_all, unsupported

CONTROLS = Path(__file__).parent / "fixtures" / "snowflake_sql"


def _controls() -> list[Path]:
    return sorted(CONTROLS.glob("*.sql"))


@pytest.mark.parametrize("path", _controls(), ids=lambda p: p.stem)
def test_the_sql_sent_before_the_rewrite_is_rejected(path: Path) -> None:
    """Positive controls: `<rule>__<what>.sql` must be reported under <rule>."""
    rule = path.stem.split("__")[0]
    found = {p.rule for p in unsupported(path.read_text())}
    assert rule in found, f"{path.name}: expected {rule}, found {sorted(found)}"


def test_every_rule_has_a_positive_control() -> None:
    rules = {p.stem.split("__")[0] for p in _controls()}
    assert rules == {
        "or-subquery",
        "subquery-outside-where",
        "quoted-lowercase-ddl",
        "ddl-in-transaction",
    }


REJECTED = [
    (
        "select * from t as a where a.k is null or exists (select 1 from u where u.k = a.k)",
        "or-subquery",
    ),
    ("select * from t as a where a.x = 1 or a.k not in (select u.k from u)", "or-subquery"),
    ("select * from t as a where a.x = 1 or a.k = any (select u.k from u)", "or-subquery"),
    (
        "select * from t as a where not (a.x = 1 or exists (select 1 from u where u.k = a.k))",
        "or-subquery",
    ),
    (
        "select a.k, exists (select 1 from u where u.k = a.k) as f from t as a",
        "subquery-outside-where",
    ),
    ("select a.k in (select u.k from u) as f from t as a", "subquery-outside-where"),
    (
        "select * from t as a join v on v.k = a.k and exists (select 1 from u where u.k = a.k)",
        "subquery-outside-where",
    ),
    (
        "update t set s = (case when k in (select u.k from u) then 'a' else 'b' end)",
        "subquery-outside-where",
    ),
    ('create table if not exists db."audit".runs (a int)', "quoted-lowercase-ddl"),
    ('create or replace transient table db.s."Orders" as select 1 as a', "quoted-lowercase-ddl"),
    ('alter table db.s.a rename to db.s."b"', "quoted-lowercase-ddl"),
    ("begin transaction; create temporary table t (a int); commit", "ddl-in-transaction"),
    ("begin; insert into t select 1; alter table a swap with b; commit", "ddl-in-transaction"),
    (
        "begin transaction; delete from t; create or replace table u as select 1 as a",
        "ddl-in-transaction",
    ),
]


@pytest.mark.parametrize(("sql", "rule"), REJECTED)
def test_unsupported_forms_are_rejected(sql: str, rule: str) -> None:
    assert rule in {p.rule for p in unsupported(sql)}


ACCEPTED = [
    # correlated EXISTS and IN in a WHERE clause, under AND
    "delete from db.s.t where exists (select 1 from db.s.i as i where i.k = db.s.t.k and i.r = 1)",
    "update q set s = 'r' where m = 'x' and not exists (select 1 from n where n.e = q.e) and k in (select b.k from b)",
    # uncorrelated EXISTS anywhere a Boolean is allowed
    "select * from t where t.a = 1 or exists (select 1 from u)",
    "select exists (select 1 from u) as any_u",
    # a correlated EXISTS in the WHERE of a scalar subquery of the select list
    "select (select count(*) from r where exists (select 1 from e where e.k = r.k)) as n from x",
    # the rewritten forms: joins and one delete per condition
    "select s.*, (rep.d is not null) as f from b as s left join rep on rep.d = s.k where s.k is null or (rep.d is not null)",
    "select i.a from inc as i left join (select id from inc group by id having sum(1) = 0) as o on o.id = i.id where i.at >= ? or o.id is not null",
    # names as Snowflake resolves them
    "create schema if not exists analytics",
    'create schema if not exists "ANALYTICS"',
    "create table if not exists db.audit.sluice_runs (a int)",
    "alter table db.s.orders rename to db.s.orders__dbt_backup",
    "show terse objects in db.s",
    # DML only between BEGIN and COMMIT; DDL before and after
    "create table t (a int); begin transaction; update l set x = 1 where k = 'm'; insert into t "
    "select 1; commit; drop table if exists u; alter table a swap with b",
    "begin; delete from t where a = 1; insert into t select 2; rollback; drop table u",
    "alter session set timezone = 'UTC'; begin; insert into t select 1; commit",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_supported_forms_pass(sql: str) -> None:
    assert unsupported(sql) == []


def test_the_connectors_parameters_are_read_as_placeholders() -> None:
    sql = "select a from t where t.at >= %s or t.id in (select u.id from u where u.x = %(x)s)"
    assert [p.rule for p in unsupported(sql)] == ["or-subquery"]


def test_ddl_in_a_transaction_is_found_per_session() -> None:
    """Each session's statements are one sequence: another session's DDL, or this session's
    after its COMMIT, is not inside its transaction."""
    sent = [
        Sent("a", "begin transaction"),
        Sent("b", "create table u (a int)"),
        Sent("a", "insert into t select 1"),
        Sent("a", "commit"),
        Sent("a", "drop table if exists u"),
    ]
    assert check_all(sent) == []
    inside = [*sent[:3], Sent("a", "create temporary table v (a int)"), sent[3]]
    assert [p.rule for p in check_all(inside)] == ["ddl-in-transaction"]


def test_the_checker_sees_what_the_fakesnow_server_ran(make_project, fakesnow_server) -> None:
    """The wiring: a statement sent to the session's server is in its statement log and is
    rejected (read here, so the autouse check of this test does not see it again)."""
    project: DbtProject = make_project("snowflake")
    fakesnow_server.statements_since_last_check()
    project.execute(f"create schema if not exists {project.schema}")
    project.query(
        "select t.a from (select 1 as a) as t where t.a = 2 "
        "or exists (select 1 from (select 1 as b) as u where u.b = t.a)"
    )
    rules = [p.rule for p in check_all(fakesnow_server.statements_since_last_check())]
    assert rules == ["or-subquery"]
