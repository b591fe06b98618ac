"""Real PostgreSQL login roles for tests of who may do what: created by the test, given a
target of their own in the project's profiles.yml, dropped afterwards with what was granted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.dbt_harness import PG_DBNAME, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER, DbtProject

PASSWORD = "reviewer-pw"


def _connect(user: str, password: str) -> Any:
    import psycopg2

    return psycopg2.connect(
        host=PG_HOST, port=PG_PORT, user=user, password=password, dbname=PG_DBNAME
    )


def as_admin(sql: str) -> None:
    """One statement as the server's admin user, committed."""
    conn = _connect(PG_USER, PG_PASSWORD)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@contextmanager
def login_roles(project: DbtProject, *targets: str) -> Iterator[dict[str, str]]:
    """One login role per target name (``--target NAME`` connects as it), by target."""
    roles = {t: f"sluice_{t}_{uuid.uuid4().hex[:8]}" for t in targets}
    try:
        with (project.root / "profiles.yml").open("a", encoding="utf-8") as f:
            for target, role in roles.items():
                as_admin(f"create role {role} login password '{PASSWORD}'")
                f.write(
                    f"    {target}:\n      type: postgres\n      host: {PG_HOST}\n"
                    f"      port: {PG_PORT}\n      user: {role}\n      password: {PASSWORD}\n"
                    f"      dbname: {PG_DBNAME}\n      schema: {project.schema}\n"
                    "      threads: 1\n"
                )
        yield roles
    finally:
        for role in roles.values():
            as_admin(
                f"do $$ begin if exists (select 1 from pg_roles where rolname = '{role}') then "
                f"execute 'drop owned by {role}'; execute 'drop role {role}'; end if; end $$"
            )


def grant_review(project: DbtProject, role: str) -> None:
    """What a reviewer needs: read the schema's tables, append decisions and approvals."""
    as_admin(f'grant usage on schema "{project.schema}" to {role}')
    as_admin(f'grant select, insert on all tables in schema "{project.schema}" to {role}')


def as_role(role: str, sql: str) -> list[tuple[object, ...]]:
    """One query as a login role made by login_roles (its errors raised as psycopg2 raises them)."""
    conn = _connect(role, PASSWORD)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()
