"""What Snowflake documents as unsupported, found in SQL text with sqlglot's Snowflake dialect.

fakesnow runs Snowflake SQL on DuckDB and accepts statements Snowflake refuses, so the Snowflake
tests also hand every statement they send to `unsupported` (tests/conftest.py). The rules, each
with the page of Snowflake's SQL reference it enforces:

- `or-subquery`: a correlated [NOT] EXISTS, or any [NOT] IN / ANY / ALL subquery, as an argument
  of OR. "Subquery operators" (docs.snowflake.com/en/sql-reference/operators-subquery):
  "Correlated EXISTS subqueries cannot appear as an argument to an OR operator"; "ANY/ALL
  subqueries can't appear as an argument to an OR operator"; IN is shorthand for = ANY and
  NOT IN for != ALL, "subject to the same restrictions".
- `subquery-outside-where`: a correlated [NOT] EXISTS, or any IN / ANY / ALL subquery, anywhere
  but a WHERE clause (a select list, an UPDATE's SET, a join condition, a CASE in those). Same
  page: "Correlated EXISTS subqueries are currently supported only in a WHERE clause"; "ANY/ALL
  subqueries are currently supported only in a WHERE clause". (Uncorrelated EXISTS "is supported
  anywhere that a Boolean expression is allowed".)
- `quoted-lowercase-ddl`: a database, schema or table created or renamed under a quoted name
  that is not all upper case. "Identifier requirements"
  (docs.snowflake.com/en/sql-reference/identifiers-syntax): unquoted identifiers are stored and
  resolved in upper case, quoted ones exactly as written, so `create schema "analytics"` makes a
  second schema beside the ANALYTICS that every unquoted `analytics` names.

- `ddl-in-transaction`: a DDL statement (CREATE, including CREATE TABLE AS SELECT and
  temporary tables, ALTER, DROP, UNDROP, COMMENT, GRANT, REVOKE) sent by a session between its
  BEGIN and its COMMIT or ROLLBACK. "Transactions"
  (docs.snowflake.com/en/sql-reference/transactions): "Each DDL statement executes as its own
  transaction": it commits the open transaction first, so the statements before it are
  committed, whatever follows, and the ones after it run outside any transaction. fakesnow
  does not model this for an autocommit session's explicit transaction, so the tests check each
  session's sequence of statements instead (a text holding several statements is one sequence).

Correlation is read from qualified column references (`alias.column`, `db.schema.table.column`)
that name no table, alias or common table of the subquery itself; an unqualified column is taken
to belong to the subquery. A statement sqlglot cannot parse is reported as `unparsed`, so that a
statement is never passed unchecked in silence.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

RULES = (
    "or-subquery",
    "subquery-outside-where",
    "quoted-lowercase-ddl",
    "ddl-in-transaction",
    "unparsed",
)


class Sent(NamedTuple):
    """A statement as a session sent it (`session`: any key that tells sessions apart)."""

    session: str
    sql: str


@dataclass(frozen=True)
class Problem:
    rule: str
    detail: str
    statement: str

    def __str__(self) -> str:
        text = " ".join(self.statement.split())
        return (
            f"[{self.rule}] {self.detail}\n    in: {text[:600]}{' ...' if len(text) > 600 else ''}"
        )


def unsupported(sql: str) -> list[Problem]:
    """Every construct of the statement(s) in `sql` that Snowflake documents as unsupported."""
    return list(_checked(sql).problems)


class _Checked(NamedTuple):
    """What one text of SQL holds: its problems and the kind of each statement (`_kind`)."""

    problems: tuple[Problem, ...]
    kinds: tuple[str | None, ...]


@functools.lru_cache(maxsize=4096)
def _checked(sql: str) -> _Checked:
    """One parse of `sql` for both uses: the problems of its statements and their kinds (read by
    `check_all` for each session's sequence). dbt and the sidecar send the same texts again
    and again (a connection's session statements, a build's metadata queries): each distinct
    text is parsed once per test process."""
    placeholders = _PYFORMAT.sub("?", sql)
    try:
        statements = _parse(sql)
    except SqlglotError:
        # the connector's client-side parameters (%s, %(name)s), bound before Snowflake sees
        # the statement: read as placeholders
        try:
            statements = _parse(placeholders)
        except SqlglotError as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            problem = Problem("unparsed", f"sqlglot cannot parse it: {first}", sql)
            return _Checked((problem,), (None,))  # one plain statement: `unparsed` reports it
        kinds = tuple(_kind(s) for s in statements)
    else:
        kinds = tuple(_kind(s) for s in statements) if placeholders == sql else _kinds(sql)
    problems: list[Problem] = []
    for statement in statements:
        problems.extend(_subquery_problems(statement, sql))
        problems.extend(_ddl_problems(statement, sql))
    problems.extend(_transaction_problems([(_kind(s), sql) for s in statements]))
    return _Checked(tuple(problems), kinds)


_PYFORMAT = re.compile(r"%\(\w+\)s|%s")


def _parse(sql: str) -> list[exp.Expression]:
    with _quiet_sqlglot():
        return [s for s in sqlglot.parse(sql, read="snowflake") if s is not None]


@contextlib.contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """Without sqlglot's warning for each statement it keeps as a command (SHOW ..., a
    connector's session statements): those hold no subquery and create nothing."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def check_all(statements: Iterable[Sent]) -> list[Problem]:
    """The problems of every statement, each distinct statement checked once, and of each
    session's sequence of statements (`ddl-in-transaction`)."""
    sent = list(statements)
    problems: list[Problem] = []
    for sql in dict.fromkeys(s.sql for s in sent):
        problems.extend(_checked(sql).problems)
    sessions: dict[str, list[tuple[str | None, str]]] = {}
    for s in sent:
        sessions.setdefault(s.session, []).extend((kind, s.sql) for kind in _checked(s.sql).kinds)
    for sequence in sessions.values():
        problems.extend(_transaction_problems(sequence))
    return problems


# --- subqueries --------------------------------------------------------------------------------

# nodes at which the search for an enclosing WHERE stops: the predicate belongs to this clause or
# query, not to a WHERE
_CLAUSE_BOUNDARIES = (
    exp.Select,
    exp.Union,
    exp.Update,
    exp.Delete,
    exp.Insert,
    exp.Merge,
    exp.Join,
    exp.Having,
    exp.Group,
    exp.Order,
    exp.Qualify,
    exp.Subquery,
)


def _subquery_problems(statement: exp.Expression, sql: str) -> list[Problem]:
    problems: list[Problem] = []
    for node in statement.walk():
        if isinstance(node, exp.Exists):
            query = node.this
            if not _correlated(query):
                continue
            kind = "correlated EXISTS"
        elif isinstance(node, exp.In) and node.args.get("query") is not None:
            kind = "IN (subquery)"
        elif isinstance(node, (exp.Any, exp.All)) and isinstance(
            node.this, exp.Query | exp.Subquery
        ):
            kind = f"{type(node).__name__.upper()} (subquery)"
        else:
            continue
        under_or, in_where = _placement(node)
        if under_or:
            problems.append(Problem("or-subquery", f"{kind} as an argument of OR", sql))
        if not in_where:
            problems.append(
                Problem("subquery-outside-where", f"{kind} outside a WHERE clause", sql)
            )
    return problems


def _placement(node: exp.Expression) -> tuple[bool, bool]:
    """(an OR is between the predicate and its clause, the clause is a WHERE)."""
    under_or = False
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.Or):
            under_or = True
        elif isinstance(parent, exp.Where):
            return under_or, True
        elif isinstance(parent, _CLAUSE_BOUNDARIES):
            return under_or, False
        parent = parent.parent
    return under_or, False


def _correlated(query: exp.Expression) -> bool:
    """Whether a qualified column of `query` names a relation that `query` does not define."""
    own = {_name(t.alias_or_name) for t in query.find_all(exp.Table)}
    own |= {_name(t.name) for t in query.find_all(exp.Table)}
    own |= {_name(s.alias) for s in query.find_all(exp.Subquery) if s.alias}
    own |= {_name(c.alias) for c in query.find_all(exp.CTE)}
    return any(c.table and _name(c.table) not in own for c in query.find_all(exp.Column))


def _name(identifier: str) -> str:
    return identifier.lower()


# --- identifiers in DDL ------------------------------------------------------------------------


def _ddl_problems(statement: exp.Expression, sql: str) -> list[Problem]:
    created: list[exp.Expression] = []
    if isinstance(statement, exp.Create):
        target = statement.this
        created.append(target.this if isinstance(target, exp.Schema) else target)
    for rename in statement.find_all(exp.AlterRename):
        created.append(rename.this)
    problems: list[Problem] = []
    for target in created:
        for part in target.find_all(exp.Identifier) if target is not None else ():
            if part.quoted and part.name != part.name.upper():
                problems.append(
                    Problem(
                        "quoted-lowercase-ddl",
                        f'"{part.name}" is created quoted, not as the upper-case name an unquoted '
                        f"{part.name} resolves to",
                        sql,
                    )
                )
    return problems


# --- DDL inside an explicit transaction --------------------------------------------------------

_DDL = (exp.Create, exp.Drop, exp.Alter, exp.Undrop, exp.Comment, exp.Grant, exp.Revoke)
_DDL_COMMANDS = ("CREATE", "ALTER", "DROP", "UNDROP", "COMMENT", "GRANT", "REVOKE")


def _kind(statement: exp.Expression) -> str | None:
    """`begin`, `end` (COMMIT, ROLLBACK), `ddl`, or None for anything else."""
    if isinstance(statement, exp.Transaction):
        return "begin"
    if isinstance(statement, (exp.Commit, exp.Rollback)):
        return "end"
    if (
        isinstance(statement, exp.Alter)
        and all(isinstance(a, exp.AlterSession) for a in statement.args.get("actions") or [])
        and statement.args.get("actions")
    ):
        return None  # session parameters, not an object
    if isinstance(statement, _DDL):
        return "ddl"
    if isinstance(statement, exp.Command) and str(statement.this).upper() in _DDL_COMMANDS:
        return "ddl"
    return None


def _kinds(sql: str) -> tuple[str | None, ...]:
    """The kind of each statement in `sql`, its client-side parameters read as placeholders (an
    unparsable text counts as one plain statement: `unparsed` reports it)."""
    try:
        return tuple(_kind(s) for s in _parse(_PYFORMAT.sub("?", sql)))
    except SqlglotError:
        return (None,)


def _transaction_problems(sequence: list[tuple[str | None, str]]) -> list[Problem]:
    """DDL between a BEGIN and its COMMIT or ROLLBACK, in one session's (kind, text) sequence."""
    problems: list[Problem] = []
    open_transaction = False
    for kind, sql in sequence:
        if kind == "begin":
            open_transaction = True
        elif kind == "end":
            open_transaction = False
        elif kind == "ddl" and open_transaction:
            problems.append(
                Problem(
                    "ddl-in-transaction",
                    "DDL inside an explicit transaction: Snowflake commits the transaction "
                    "before it, and what follows runs outside any transaction",
                    sql,
                )
            )
            open_transaction = False
    return problems


# --- collecting what is sent -------------------------------------------------------------------


def record_statements(sink: Callable[[Sent], object]) -> Callable[[], None]:
    """Hands every statement fakesnow executes (through its server or in-process, as the
    Snowflake connector sends it) to `sink`, with its session, before it runs. Returns the
    function that undoes it."""
    from fakesnow.cursor import FakeSnowflakeCursor

    original = FakeSnowflakeCursor.execute

    @functools.wraps(original)
    def execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        sink(Sent(str(id(self._conn)), command))
        return original(self, command, *args, **kwargs)

    FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]

    def undo() -> None:
        FakeSnowflakeCursor.execute = original  # type: ignore[method-assign]

    return undo
