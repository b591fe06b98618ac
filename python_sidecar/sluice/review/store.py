"""The warehouse side of review: the quarantines named in sluice_runs and the decisions table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluice.errors import InputError
from sluice.report.warehouse import WarehouseTarget, read_project, resolve_target
from sluice.review.core import Decision, ExceptionRow

_COLUMNS = (
    "exception_id, model_name, model_unique_id, record_key, rule_name, error_class, severity, "
    "route, owner, status, attempt_count, first_seen_at, message, failed_value"
)


@dataclass
class ReviewStore:
    target: WarehouseTarget
    connection: Any
    runs_table: str
    decisions_table: str

    @property
    def _p(self) -> str:
        return "?" if self.target.adapter == "duckdb" else "%s"

    def _cursor(self) -> Any:
        return self.connection if self.target.adapter == "duckdb" else self.connection.cursor()

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self._cursor()
        cursor.execute(sql.replace("%s", self._p), params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows

    def _exists(self, schema: str, table: str) -> bool:
        rows = self._query(
            "select count(*) from information_schema.tables "
            "where table_schema = %s and table_name = %s",
            (schema, table),
        )
        return bool(rows[0][0])

    def _relation(self, table: str) -> str:
        schema = self.target.runs_schema.replace('"', '""')
        return f'"{schema}"."{table}"'

    def quarantines(self) -> list[str]:
        if not self._exists(self.target.runs_schema, self.runs_table):
            raise InputError(
                f"{self.target.description}: no {self.runs_table} table in schema "
                f"{self.target.runs_schema!r}: run dbt build first"
            )
        names = [
            str(r[0])
            for r in self._query(
                f"select distinct quarantine_relation from {self._relation(self.runs_table)} "
                "order by 1"
            )
        ]
        present = []
        for name in names:
            parts = [p.strip('"') for p in name.split('"."')]
            if len(parts) >= 2 and self._exists(parts[-2], parts[-1]):
                present.append(name)
        return present

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
                for r in self._query(f"select {_COLUMNS} from {relation} where {where}", params)
            ]
        return sorted(rows, key=lambda r: (r.model_name, str(r.first_seen_at), r.exception_id))

    def find(self, exception_id: str) -> ExceptionRow | None:
        for relation in self.quarantines():
            found = self._query(
                f"select {_COLUMNS} from {relation} where exception_id = %s", (exception_id,)
            )
            if found:
                return _row(found[0])
        return None

    def record(self, decision: Decision) -> None:
        """Append the decision in one transaction (the table is created if missing)."""
        relation = self._relation(self.decisions_table)
        cursor = self._cursor()
        if self.target.adapter == "duckdb":
            cursor.execute("begin transaction")
        try:
            cursor.execute(
                f"create table if not exists {relation} ("
                "decision_id varchar, exception_id varchar, "
                "model_unique_id varchar, decision varchar, decided_by varchar, "
                "decided_at timestamp, reason varchar)"
            )
            cursor.execute(
                f"insert into {relation} (decision_id, exception_id, model_unique_id, decision, "
                "decided_by, decided_at, reason) values "
                "(%s, %s, %s, %s, %s, %s, %s)".replace(
                    "%s", self._p
                ),
                (
                    decision.decision_id,
                    decision.exception_id,
                    decision.model_unique_id,
                    decision.decision,
                    decision.decided_by,
                    # stored in UTC, like every time sluice keeps, whatever the session's zone
                    datetime.now(UTC).replace(tzinfo=None),
                    decision.reason,
                ),
            )
            self.connection.commit()
        except Exception:
            self.connection.rollback()
            raise


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
    project_dir: Path, *, profiles_dir: Path | None = None, target: str | None = None
) -> Iterator[ReviewStore]:
    """The review store of the project's dbt target (DuckDB by default, or PostgreSQL)."""
    project = read_project(project_dir)
    wh = resolve_target(project_dir, profiles_dir=profiles_dir, target=target, project=project)
    project_vars = project.get("vars") or {}
    try:
        if wh.adapter == "duckdb":
            import duckdb

            if wh.path is None or not wh.path.exists():
                raise InputError(f"{wh.description}: database file not found: run dbt build first")
            connection: Any = duckdb.connect(str(wh.path))
        else:
            import psycopg2  # type: ignore[import-untyped]

            connection = psycopg2.connect(**wh.connect_args, connect_timeout=10)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{wh.description}: cannot connect: {exc}") from None
    try:
        yield ReviewStore(
            target=wh,
            connection=connection,
            runs_table=str(project_vars.get("sluice_runs_table") or "sluice_runs"),
            decisions_table=str(project_vars.get("sluice_decisions_table") or "sluice_decisions"),
        )
    finally:
        connection.close()
