"""Who the warehouse authenticated: the identity recorded beside a reviewer's ``--by`` name.

Per engine, what it can vouch for:

- PostgreSQL (and Redshift): ``session_user`` is the role that logged in, ``current_user`` the
  role whose privileges apply now (after ``SET ROLE``); the server authenticated the first.
- Snowflake: ``CURRENT_USER()`` and ``CURRENT_ROLE()``, authenticated by the account.
- DuckDB: a file, not a server. Nobody logs in; the operating-system user that opened the file
  is recorded (``source`` ``os``): the file's permissions are the only gate.
- Any other engine: nothing is claimed (``source`` ``unknown``).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Final

from sluice.errors import InputError
from sluice.warehouse.connection import Warehouse, describe_error

# What a decision's identity_check says of its --by name against the identity.
MATCHES: Final = "matches"
DIFFERS: Final = "differs"
UNVERIFIED: Final = "unverified"

_QUERIES: Final = {
    "postgres": "select session_user, current_user",
    "redshift": "select session_user, current_user",
    "snowflake": "select current_user(), current_role()",
}


@dataclass(frozen=True, slots=True)
class Identity:
    """``user``: who the warehouse authenticated (None: the engine vouches for nobody);
    ``role``: the role whose privileges apply (None where the engine has none); ``source``:
    ``warehouse`` (the engine authenticated it), ``os`` (the operating-system user, DuckDB) or
    ``unknown``."""

    user: str | None
    role: str | None
    source: str

    def check(self, by: str) -> str:
        """``matches`` when ``by`` names the authenticated user (case aside: Snowflake upper-
        cases unquoted names), ``differs`` when it names someone else, ``unverified`` when the
        warehouse authenticated nobody."""
        if not self.user:
            return UNVERIFIED
        return MATCHES if self.user.strip().casefold() == by.strip().casefold() else DIFFERS

    def describe(self) -> str:
        if not self.user:
            return "not authenticated by the warehouse"
        role = f", role {self.role}" if self.role and self.role != self.user else ""
        where = " (operating-system user)" if self.source == "os" else ""
        return f"{self.user}{role}{where}"


def authenticated_identity(wh: Warehouse) -> Identity:
    """The identity of the warehouse's open connection (one round trip where the engine has
    one); an InputError naming the target when the engine refuses to say."""
    if wh.adapter_type == "duckdb":
        try:
            user: str | None = getpass.getuser()
        except (KeyError, OSError):  # no name for the process's uid
            user = None
        return Identity(user, None, "os")
    query = _QUERIES.get(wh.adapter_type)
    if query is None:
        return Identity(None, None, "unknown")
    try:
        rows = wh.query(query)
    except Exception as exc:
        raise InputError(
            f"{wh.description}: cannot read the authenticated user ({query}): {describe_error(exc)}"
        ) from None
    user, role = (None, None) if not rows else (rows[0][0], rows[0][1])
    return Identity(
        None if user is None else str(user), None if role is None else str(role), "warehouse"
    )


# Whether the authenticated user is a member of a role, per engine with roles: NULL when the
# server has no such role. PostgreSQL: the login role (session_user), through role
# membership (pg_has_role, MEMBER: granted directly or through other roles). Snowflake: the
# roles granted to the user (CURRENT_AVAILABLE_ROLES(), case as stored: upper case unless
# quoted).
_MEMBER_QUERIES: Final = {
    "postgres": "select case when exists (select 1 from pg_roles where rolname = %s) "
    "then pg_has_role(session_user, %s, 'MEMBER') end",
    "redshift": "select case when exists (select 1 from pg_roles where rolname = %s) "
    "then pg_has_role(session_user, %s, 'MEMBER') end",
    "snowflake": "select array_contains(upper(%s)::variant, "
    "parse_json(upper(current_available_roles()))::array), %s",
}


def role_member(wh: Warehouse, role: str) -> bool | None:
    """Whether the identity the warehouse authenticated on this connection is a member of
    ``role``; None when the engine has no roles (DuckDB) or no role of that name."""
    query = _MEMBER_QUERIES.get(wh.adapter_type)
    if query is None:
        return None
    try:
        rows = wh.query(query, [role, role])
    except Exception as exc:
        raise InputError(
            f"{wh.description}: cannot read whether the authenticated user is a member of role "
            f"{role!r}: {describe_error(exc)}"
        ) from None
    if not rows or rows[0][0] is None:
        return None
    return bool(rows[0][0])
