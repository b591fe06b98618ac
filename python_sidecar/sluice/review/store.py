"""The warehouse side of review: the quarantines named in sluice_runs and the decisions table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluice.errors import InputError, SluiceError
from sluice.project import Project, ProjectFlags, load_project
from sluice.review.core import Decision, ExceptionRow
from sluice.warehouse.sluice_tables import quarantine_relations, query_relation, runs_table

_COLUMNS = (
    "exception_id, model_name, model_unique_id, record_key, rule_name, error_class, severity, "
    "route, owner, status, attempt_count, first_seen_at, message, failed_value"
)


@dataclass
class ReviewStore:
    """The quarantines named in ``sluice_runs`` and the decisions table, through the project's
    dbt adapter (:mod:`sluice.warehouse`)."""

    wh: Any
    """A :class:`sluice.warehouse.Warehouse`."""

    @property
    def decisions_relation(self) -> str:
        project: Project = self.wh.project
        return str(self.wh.relation(project.sluice_schema(), project.settings.decisions_table))

    def quarantines(self) -> list[str]:
        table = runs_table(self.wh)
        if not self.wh.table_exists(table.schema, table.table):
            raise InputError(
                f"{self.wh.description}: no {table.table} table in schema {table.schema!r}: "
                "run dbt build first"
            )
        return quarantine_relations(self.wh)

    def _query(
        self, relation: str, sql: str, params: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        return query_relation(self.wh, relation, sql, params)

    def exceptions(self, *, all_open: bool = False, model: str | None = None) -> list[ExceptionRow]:
        rows: list[ExceptionRow] = []
        for relation in self.quarantines():
            where = "status = 'open'" + ("" if all_open else " and route = 'manual_review'")
            params: tuple[Any, ...] = ()
            if model:
                where += " and model_name = %s"
                params = (model,)
            rows += [
                _row(r)
                for r in self._query(
                    relation, f"select {_COLUMNS} from {{relation}} where {where}", params
                )
            ]
        return sorted(rows, key=lambda r: (r.model_name, str(r.first_seen_at), r.exception_id))

    def find(self, exception_id: str) -> ExceptionRow | None:
        for relation in self.quarantines():
            found = self._query(
                relation,
                f"select {_COLUMNS} from {{relation}} where exception_id = %s",
                (exception_id,),
            )
            if found:
                return _row(found[0])
        return None

    def record(self, decision: Decision) -> None:
        """Append the decision in one transaction (the table is created if missing)."""
        project: Project = self.wh.project
        schema, table = project.sluice_schema(), project.settings.decisions_table
        try:
            with self.wh.transaction():
                self.wh.ensure_table(
                    schema,
                    table,
                    (
                        ("decision_id", "text"),
                        ("exception_id", "text"),
                        ("model_unique_id", "text"),
                        ("decision", "text"),
                        ("decided_by", "text"),
                        ("decided_at", "timestamp"),
                        ("reason", "text"),
                    ),
                )
                self.wh.execute(
                    f"insert into {self.decisions_relation} (decision_id, exception_id, "
                    "model_unique_id, decision, decided_by, decided_at, reason) values "
                    "(%s, %s, %s, %s, %s, %s, %s)",
                    (
                        decision.decision_id,
                        decision.exception_id,
                        decision.model_unique_id,
                        decision.decision,
                        decision.decided_by,
                        datetime.now(UTC).replace(tzinfo=None),
                        decision.reason,
                    ),
                )
        except SluiceError:
            raise
        except Exception as exc:
            raise InputError(
                f"{self.wh.description}: recording the decision failed, nothing written: {exc}"
            ) from None


def _row(r: tuple[Any, ...]) -> ExceptionRow:
    return ExceptionRow(
        exception_id=str(r[0]),
        model_name=str(r[1]),
        model_unique_id=str(r[2]),
        record_key=str(r[3]),
        rule_name=str(r[4]),
        error_class=str(r[5]),
        severity=str(r[6]),
        route=str(r[7]),
        owner=None if r[8] is None else str(r[8]),
        status=str(r[9]),
        attempt_count=int(r[10] or 0),
        first_seen_at=r[11],
        message=None if r[12] is None else str(r[12]),
        failed_value=None if r[13] is None else str(r[13]),
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
