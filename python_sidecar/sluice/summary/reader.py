"""Read the summary's rows through the project's dbt adapter: ``sluice_runs`` for the latest
invocation (by ``finished_at``) and the quarantine tables its rows name. Read-only."""

from __future__ import annotations

from typing import Any

from sluice.errors import InputError
from sluice.impact.model import RuleCount
from sluice.project import Project
from sluice.summary.core import ClassCount, ModelRun, QuarantineCount, Summary, build_summary
from sluice.warehouse import Warehouse, connect, query_relation, read_runs, relation_exists
from sluice.warehouse.sluice_tables import runs_table


def classes(counts: tuple[RuleCount, ...]) -> tuple[ClassCount, ...]:
    """Rule counts summed per error class; classes with no failing rows are left out."""
    rows: dict[str, int] = {}
    routes: dict[str, set[str]] = {}
    severities: dict[str, set[str]] = {}
    for count in counts:
        if count.rows <= 0:
            continue
        rows[count.error_class] = rows.get(count.error_class, 0) + count.rows
        routes.setdefault(count.error_class, set()).add(count.route or "?")
        severities.setdefault(count.error_class, set()).add(count.severity or "?")
    return tuple(
        ClassCount(cls, rows[cls], tuple(sorted(routes[cls])), tuple(sorted(severities[cls])))
        for cls in sorted(rows)
    )


def _quarantine_counts(
    wh: Warehouse, model_name: str, relation: str, invocation_id: str
) -> list[QuarantineCount]:
    if not relation_exists(wh, relation):
        return []
    rows: list[tuple[Any, ...]] = query_relation(
        wh,
        relation,
        "select error_class, "
        "sum(case when status = 'open' then 1 else 0 end), "
        "sum(case when invocation_id = %s then 1 else 0 end) "
        "from {relation} where model_name = %s group by error_class",
        (invocation_id, model_name),
    )
    return [QuarantineCount(model_name, str(r[0]), int(r[1] or 0), int(r[2] or 0)) for r in rows]


def read_summary(project: Project) -> Summary:
    """The summary of the latest invocation recorded in the project's ``sluice_runs``;
    InputError (exit 2) when the warehouse or the table cannot be read."""
    with connect(project) as wh:
        table = runs_table(wh)
        if not wh.table_exists(table.schema, table.table):
            raise InputError(
                f"{wh.description}: has no {table.name} table (no sluice model has been built "
                "into it); run `dbt build` first"
            )
        runs = read_runs(wh, latest_invocation=True)
        if not runs:
            raise InputError(f"{wh.description}: {table.name} is empty; run `dbt build` first")
        invocation_id = runs[0].invocation_id
        finished = [r.finished_at or r.run_started_at for r in runs]
        finished_at = max((f for f in finished if f is not None), default=None)
        models: list[ModelRun] = []
        quarantine: list[QuarantineCount] = []
        for run in runs:
            models.append(
                ModelRun(
                    model_name=run.model_name,
                    relation_name=run.relation_name or "",
                    quarantine_relation=run.quarantine_relation or "",
                    mode=run.mode or "",
                    rows_in=run.rows_in or 0,
                    rows_published=run.rows_published or 0,
                    # held back from publication: held rows and set-aside duplicate copies
                    rows_held=run.rows_held + run.rows_set_aside,
                    rows_flagged=run.rows_flagged,
                    gate_status=run.gate_status or "",
                    gate_message=run.gate_message,
                    classes=classes(run.rule_counts),
                )
            )
            if run.quarantine_relation:
                quarantine += _quarantine_counts(
                    wh, run.model_name, run.quarantine_relation, invocation_id
                )
        return build_summary(wh.description, invocation_id, finished_at, models, quarantine)
