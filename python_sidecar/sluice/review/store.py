"""The warehouse side of review: the quarantines named in sluice_runs, the history
(``sluice_exception_events``) and the decisions table, through :mod:`sluice.warehouse`."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sluice.errors import InputError, SluiceError
from sluice.project import Project, ProjectFlags, load_project
from sluice.review.conflicts import read_sides, sides_json
from sluice.review.core import (
    Approval,
    Decision,
    Event,
    ExceptionDetail,
    ExceptionRow,
    Load,
    ModelRules,
    PendingDecision,
    Requested,
    Selection,
)
from sluice.warehouse import Warehouse
from sluice.warehouse.connection import describe_error
from sluice.warehouse.identity import Identity, authenticated_identity, role_member
from sluice.warehouse.records import parse_rule_counts, utc
from sluice.warehouse.sluice_tables import quarantine_relations, query_relation, runs_table

# how PostgreSQL and Snowflake refuse a statement the connection's role has no privilege for
_PRIVILEGE_DENIED: Final = re.compile(r"permission denied for|insufficient privileges", re.I)

_COLUMNS: Final = (
    "exception_id, model_name, model_unique_id, record_key, record_copy, rule_name, error_class, "
    "severity, route, owner, status, attempt_count, first_seen_at, last_seen_at, "
    "status_changed_at, message, failed_column, failed_value, source_system, target_system"
)
_EVENT_COLUMNS: Final = (
    "event_type",
    "from_status",
    "to_status",
    "event_at",
    "actor",
    "reason",
    "attempt_count",
    "invocation_id",
)
_DECISION_COLUMNS: Final = (
    ("decision_id", "text"),
    ("exception_id", "text"),
    ("model_unique_id", "text"),
    ("decision", "text"),
    ("decided_by", "text"),
    ("decided_at", "timestamp"),
    ("reason", "text"),
    ("authenticated_user", "text"),
    ("authenticated_role", "text"),
    ("identity_source", "text"),
    ("identity_check", "text"),
    ("policy", "text"),
    ("required_approvers", "bigint"),
    ("taken_sides", "text"),
)
# the columns of the identity, added after the first release: NULL in older rows and tables
_IDENTITY_COLUMNS: Final = tuple(name for name, _ in _DECISION_COLUMNS[7:11])
_APPROVAL_COLUMNS: Final = (
    ("approval_id", "text"),
    ("decision_id", "text"),
    ("model_unique_id", "text"),
    ("action", "text"),
    ("approved_by", "text"),
    ("approved_at", "timestamp"),
    ("reason", "text"),
    ("authenticated_user", "text"),
    ("authenticated_role", "text"),
    ("identity_source", "text"),
)
# the order of events that share a time: the decision, its effect, the publication
_EVENT_ORDER: Final = {"refused": 0, "decided": 0, "status": 1, "published": 2}


@dataclass
class ReviewStore:
    """The quarantines named in ``sluice_runs``, the history and the decisions table, through
    the project's dbt adapter (:mod:`sluice.warehouse`)."""

    wh: Warehouse

    @property
    def project(self) -> Project:
        return self.wh.project

    @property
    def decisions_relation(self) -> str:
        return self.wh.relation(self.project.sluice_schema(), self.project.settings.decisions_table)

    def quarantines(self) -> list[str]:
        table = runs_table(self.wh)
        if not self.wh.table_exists(table.schema, table.table):
            raise InputError(
                f"{self.wh.description}: no {table.table} table in schema {table.schema!r}: "
                "run dbt build first"
            )
        return quarantine_relations(self.wh)

    def _query(self, relation: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return query_relation(self.wh, relation, sql, tuple(params))

    def exceptions(self, selection: Selection) -> list[ExceptionRow]:
        """Every exception the selection matches, across the quarantines, in a stable order:
        model, first seen, record, copy, rule."""
        where: list[str] = []
        params: list[Any] = []
        if selection.statuses is not None:
            where.append(f"status in ({', '.join(['%s'] * len(selection.statuses))})")
            params += selection.statuses
        if selection.model is not None:
            where.append("(model_name = %s or model_unique_id = %s)")
            params += [selection.model, selection.model]
        if selection.rule is not None:
            where.append("rule_name = %s")
            params.append(selection.rule)
        if selection.route is not None:
            where.append("route = %s")
            params.append(selection.route)
        if selection.since is not None:
            since = selection.since.replace(tzinfo=None)  # stored times are naive UTC
            where.append("(first_seen_at >= %s or status_changed_at >= %s)")
            params += [since, since]
        sql = f"select {_COLUMNS} from {{relation}}"
        if where:
            sql += " where " + " and ".join(where)
        rows: list[ExceptionRow] = []
        for relation in self.quarantines():
            rows += [_row(r) for r in self._query(relation, sql, params)]
        return sorted(rows, key=_order)

    def find(self, exception_ids: Sequence[str]) -> dict[str, ExceptionRow]:
        """The exceptions with these ids that any quarantine holds, by id."""
        wanted = sorted(set(exception_ids))
        if not wanted:
            return {}
        sql = (
            f"select {_COLUMNS} from {{relation}} "
            f"where exception_id in ({', '.join(['%s'] * len(wanted))})"
        )
        found: dict[str, ExceptionRow] = {}
        for relation in self.quarantines():
            for r in self._query(relation, sql, wanted):
                row = _row(r)
                found.setdefault(row.exception_id, row)
        return found

    def detail(self, exception_id: str) -> ExceptionDetail | None:
        """The exception, its row, its whole history and the decisions not applied yet."""
        for relation in self.quarantines():
            rows = self._query(
                relation,
                f"select {_COLUMNS}, row_json from {{relation}} where exception_id = %s",
                (exception_id,),
            )
            if rows:
                exception = _row(rows[0])
                decisions = self._decisions(exception_id)
                return ExceptionDetail(
                    exception=exception,
                    row_json=None if rows[0][-1] is None else str(rows[0][-1]),
                    events=self._events(exception_id),
                    pending=_pending(exception, decisions),
                    decisions=decisions,
                )
        return None

    def _events(self, exception_id: str) -> tuple[Event, ...]:
        schema, table = self.project.sluice_schema(), self.project.settings.events_table
        relation = self.wh.relation(schema, table)
        try:
            if not self.wh.table_exists(schema, table):
                return ()
            present = set(self.wh.columns(schema, table))
        except SluiceError:
            raise
        except Exception as exc:
            raise InputError(
                f"{self.wh.description}: cannot read {relation}: {describe_error(exc)}"
            ) from None
        # a history written before event_type existed: its events are all status changes
        select = ", ".join(c if c in present else f"null as {c}" for c in _EVENT_COLUMNS)
        rows = self._query(
            relation, f"select {select} from {{relation}} where exception_id = %s", (exception_id,)
        )
        events = [
            Event(
                event_type=_text(r[0]) if "event_type" in present else "status",
                from_status=_text(r[1]),
                to_status=_text(r[2]),
                event_at=utc(r[3]),
                actor=_text(r[4]),
                reason=_text(r[5]),
                attempt_count=None if r[6] is None else int(r[6]),
                invocation_id=_text(r[7]),
            )
            for r in rows
        ]
        return tuple(
            sorted(
                events,
                key=lambda e: (
                    e.event_at.isoformat() if e.event_at else "",
                    _EVENT_ORDER.get(e.event_type or "", 9),
                ),
            )
        )

    @property
    def approvals_relation(self) -> str:
        return self.wh.relation(self.project.sluice_schema(), self._approvals_table)

    @property
    def _approvals_table(self) -> str:
        return self.project.table_name("sluice_approvals_table", "sluice_decision_approvals")

    def requests(self, decision_ids: Sequence[str] | None = None) -> list[Requested]:
        """Recorded decisions on exceptions (all, or these ids) with their approvals, in time
        order."""
        schema, table = self.project.sluice_schema(), self.project.settings.decisions_table
        if not self.wh.table_exists(schema, table):
            return []
        present = set(self.wh.columns(schema, table))
        user = "authenticated_user" if "authenticated_user" in present else "null"
        sql = (
            "select decision_id, exception_id, model_unique_id, decision, decided_by, "
            f"decided_at, reason, {user} from {{relation}} "
            "where decision in ('release', 'reject', 'retry', 'override')"
        )
        params: list[Any] = []
        if decision_ids is not None:
            if not decision_ids:
                return []
            sql += f" and decision_id in ({', '.join(['%s'] * len(decision_ids))})"
            params += list(decision_ids)
        rows = self._query(self.decisions_relation, sql, params)
        approvals: dict[str, list[Approval]] = {}
        if self.wh.table_exists(schema, self._approvals_table):
            names = ", ".join(c for c, _ in _APPROVAL_COLUMNS)
            for r in self._query(self.approvals_relation, f"select {names} from {{relation}}"):
                approvals.setdefault(str(r[1]), []).append(
                    Approval(
                        approval_id=str(r[0]),
                        decision_id=str(r[1]),
                        model_unique_id=str(r[2]),
                        action=str(r[3]),
                        approved_by=str(r[4]),
                        approved_at=utc(r[5]) or datetime.min.replace(tzinfo=UTC),
                        reason=str(r[6]),
                        identity=Identity(_text(r[7]), _text(r[8]), str(r[9] or "unknown")),
                    )
                )
        found = [
            Requested(
                decision_id=str(r[0]),
                exception_id=_text(r[1]),
                model_unique_id=str(r[2]),
                decision=str(r[3]),
                decided_by=_text(r[4]),
                decided_at=utc(r[5]),
                reason=_text(r[6]),
                requester=_text(r[7]),
                approvals=tuple(sorted(approvals.get(str(r[0]), []), key=lambda a: a.approved_at)),
            )
            for r in rows
        ]
        return sorted(
            found, key=lambda q: (q.decided_at.isoformat() if q.decided_at else "", q.decision_id)
        )

    def record_approval(self, approval: Approval) -> None:
        """Append an approval or a withdrawal (the table is created if missing)."""
        row = (
            approval.approval_id,
            approval.decision_id,
            approval.model_unique_id,
            approval.action,
            approval.approved_by,
            approval.approved_at.astimezone(UTC).replace(tzinfo=None),
            approval.reason,
            approval.identity.user,
            approval.identity.role,
            approval.identity.source,
        )
        try:
            with self.wh.transaction():
                self.wh.ensure_table(
                    self.project.sluice_schema(), self._approvals_table, _APPROVAL_COLUMNS
                )
                self.wh.insert(self.approvals_relation, [c for c, _ in _APPROVAL_COLUMNS], [row])
        except SluiceError:
            raise
        except Exception as exc:
            raise self._write_failed(
                exc, f"the {approval.action}", self.approvals_relation
            ) from None

    def identity(self) -> Identity:
        """Who the warehouse authenticated on this connection (recorded with each decision)."""
        return authenticated_identity(self.wh)

    def role_member(self, role: str) -> bool | None:
        """Whether the identity authenticated on this connection is a member of the warehouse's
        role ``role`` (None: the engine has no such role)."""
        return role_member(self.wh, role)

    def _decisions(self, exception_id: str) -> tuple[PendingDecision, ...]:
        schema, table = self.project.sluice_schema(), self.project.settings.decisions_table
        if not self.wh.table_exists(schema, table):
            return ()
        present = set(self.wh.columns(schema, table))
        added = ", ".join(
            c if c in present else f"null as {c}" for c in (*_IDENTITY_COLUMNS, "taken_sides")
        )
        rows = self._query(
            self.decisions_relation,
            f"select decision_id, decision, decided_by, decided_at, reason, {added} "
            "from {relation} where exception_id = %s",
            (exception_id,),
        )
        decisions = [
            PendingDecision(
                decision_id=str(r[0]),
                decision=str(r[1]),
                decided_by=_text(r[2]),
                decided_at=utc(r[3]),
                reason=_text(r[4]),
                identity=None
                if r[7] is None
                else Identity(user=_text(r[5]), role=_text(r[6]), source=str(r[7])),
                identity_check=_text(r[8]),
                taken_sides=read_sides(_text(r[9])),
            )
            for r in rows
        ]
        return tuple(
            sorted(
                decisions,
                key=lambda p: (p.decided_at.isoformat() if p.decided_at else "", p.decision_id),
            )
        )

    def load(self, model: str, invocation_id: str | None = None) -> Load:
        """A model's latest load (or the load of one invocation), by model name or unique id;
        an InputError naming the model when there is none."""
        schema = self.project.sluice_schema()
        table = self.project.table_name("sluice_load_states_table", "sluice_load_states")
        if not self.wh.table_exists(schema, table):
            raise InputError(
                f"{self.wh.description}: no {table} table in schema {schema!r}: no load was "
                "recorded yet (run dbt build first)"
            )
        sql = (
            "select invocation_id, model_name, model_unique_id, state, as_of, missing "
            "from {relation} where (model_name = %s or model_unique_id = %s)"
        )
        params: list[Any] = [model, model]
        if invocation_id is not None:
            sql += " and invocation_id = %s"
            params.append(invocation_id)
        rows = self._query(self.wh.relation(schema, table), sql, params)
        if not rows:
            which = f" in invocation {invocation_id}" if invocation_id else ""
            raise InputError(
                f"accept-load refused, nothing recorded: no load of model {model!r}{which}"
            )
        latest = max(rows, key=lambda r: (utc(r[4]) or datetime.min.replace(tzinfo=UTC), str(r[0])))
        return Load(
            invocation_id=str(latest[0]),
            model_name=str(latest[1]),
            model_unique_id=str(latest[2]),
            state=str(latest[3]),
            as_of=utc(latest[4]),
            missing=_text(latest[5]),
        )

    def model_rules(self, model: str) -> ModelRules | None:
        """A sluice model's rules as its latest build recorded them in ``sluice_runs``, by name
        or unique id; None when it never built."""
        table = runs_table(self.wh)
        if not self.wh.table_exists(table.schema, table.table):
            return None
        rows = self._query(
            self.wh.relation(table.schema, table.table),
            "select model_unique_id, model_name, rule_counts_json, "
            "coalesce(finished_at, run_started_at) from {relation} "
            "where model_name = %s or model_unique_id = %s",
            (model, model),
        )
        if not rows:
            return None
        latest = max(rows, key=lambda r: utc(r[3]) or datetime.min.replace(tzinfo=UTC))
        return ModelRules(
            model_name=str(latest[1]),
            model_unique_id=str(latest[0]),
            rules=parse_rule_counts(latest[2], table.name),
        )

    def record(self, decisions: Sequence[Decision]) -> None:
        """Append the decisions in one transaction (the table is created if missing): all of
        them, or none."""
        project = self.project
        schema, table = project.sluice_schema(), project.settings.decisions_table
        rows = [
            (
                d.decision_id,
                d.exception_id,
                d.model_unique_id,
                d.decision,
                d.decided_by,
                d.decided_at.astimezone(UTC).replace(tzinfo=None),
                d.reason,
                d.identity.user,
                d.identity.role,
                d.identity.source,
                d.identity_check,
                d.policy,
                d.required_approvers,
                sides_json(d.taken_sides),
            )
            for d in decisions
        ]
        try:
            with self.wh.transaction():
                self.wh.ensure_table(schema, table, _DECISION_COLUMNS)
                self.wh.insert(self.decisions_relation, [c for c, _ in _DECISION_COLUMNS], rows)
        except SluiceError:
            raise
        except Exception as exc:
            raise self._write_failed(exc, "the decisions", self.decisions_relation) from None

    def _write_failed(self, exc: Exception, what: str, relation: str) -> InputError:
        """Why appending to ``relation`` failed; a missing privilege said as such."""
        reason = describe_error(exc)
        if _PRIVILEGE_DENIED.search(reason):
            return InputError(
                f"{self.wh.description}: refused, nothing written: this connection lacks the "
                f"INSERT privilege on {relation}, needed to record {what} (var sluice_grants, "
                f"key decisions.insert): {reason}"
            )
        return InputError(
            f"{self.wh.description}: recording {what} failed, nothing written: {reason}"
        )


def _pending(
    exception: ExceptionRow, decisions: Sequence[PendingDecision]
) -> tuple[PendingDecision, ...]:
    """The decisions recorded after the exception's last status change (in time order)."""
    changed = exception.status_changed_at
    return tuple(
        d
        for d in decisions
        if d.decided_at is not None and (changed is None or d.decided_at > changed)
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _order(row: ExceptionRow) -> tuple[str, str, str, int, str, str]:
    seen = row.first_seen_at.isoformat() if row.first_seen_at else ""
    return (row.model_name, seen, row.record_key, row.record_copy, row.rule_name, row.exception_id)


def _row(r: tuple[Any, ...]) -> ExceptionRow:
    return ExceptionRow(
        exception_id=str(r[0]),
        model_name=str(r[1]),
        model_unique_id=str(r[2]),
        record_key=str(r[3]),
        record_copy=int(r[4] or 1),
        rule_name=str(r[5]),
        error_class=str(r[6]),
        severity=str(r[7]),
        route=str(r[8]),
        owner=_text(r[9]),
        status=str(r[10]),
        attempt_count=int(r[11] or 0),
        first_seen_at=utc(r[12]),
        last_seen_at=utc(r[13]),
        status_changed_at=utc(r[14]),
        message=_text(r[15]),
        failed_column=_text(r[16]),
        failed_value=_text(r[17]),
        source_system=_text(r[18]),
        target_system=_text(r[19]),
    )


@contextmanager
def open_store(
    project_dir: Path | None = None,
    *,
    profiles_dir: Path | None = None,
    target: str | None = None,
    vars: str | None = None,
    project: Project | None = None,
) -> Iterator[ReviewStore]:
    """The review store of the project's dbt target, through its dbt adapter."""
    from sluice.warehouse import connect

    if project is None:
        project = load_project(
            ProjectFlags(
                project_dir=project_dir, profiles_dir=profiles_dir, target=target, vars=vars
            )
        )
    with connect(project) as wh:
        yield ReviewStore(wh)
