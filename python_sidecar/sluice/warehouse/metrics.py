"""The operational metrics read from the package's history: ``sluice_exception_events`` (var
``sluice_events_table``) per model and rule, ``sluice_runs`` (var ``sluice_runs_table``) and
``sluice_load_states`` (var ``sluice_load_states_table``) per model, and the queue each build
recorded at its end, ``sluice_rule_queues`` (var ``sluice_rule_queues_table``), all in
``sluice_schema`` (else the target schema).

Each counter is one aggregate over the append-only history, so the counters only grow. The
queue (open and dead-lettered exceptions per rule, the oldest open one) is the one each model's
latest build recorded; when a model's latest build recorded none (built by an earlier version),
every queue is counted from the events instead: the status changes into ``open`` less those out
of it (the same rule as the package's ``sluice_metrics``), the oldest open exception the
earliest of the exceptions whose latest status change was into ``open``. Plain SQL for DuckDB,
PostgreSQL and Snowflake. No table yet (no sluice build) reads as no metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from sluice.errors import InputError, SluiceError
from sluice.escalate.metrics import ModelFreshness, ModelMetrics, OperationalMetrics, RuleMetrics
from sluice.escalate.trends import BuildRate
from sluice.warehouse import Warehouse
from sluice.warehouse.connection import describe_error

_STATUS: Final = "coalesce(e.event_type, 'status') = 'status'"
_TO: Final = (
    ("recovered", "recovered"),
    ("released", "released"),
    ("rejected", "rejected"),
    ("dead_letter", "dead_lettered"),
    ("withdrawn", "withdrawn"),
)


def _rules_sql(events: str) -> str:
    moved = "".join(
        f"sum(case when {_STATUS} and e.to_status = '{s}' then 1 else 0 end) as {name},\n"
        for s, name in _TO
    )
    return f"""
        select e.model_unique_id, max(e.model_name), e.rule_name, max(e.severity), max(e.owner),
            sum(case when {_STATUS} and e.from_status is null then 1 else 0 end) as new,
            {moved}
            sum(case when e.event_type = 'decided' and e.to_status = 'open' then 1 else 0 end)
                as retried
        from {events} as e
        group by e.model_unique_id, e.rule_name
    """


def _oldest_sql(events: str) -> str:
    return f"""
        select e.model_unique_id, e.rule_name, min(e.event_at)
        from (
            select e.exception_id, max(e.event_at) as last_at
            from {events} as e
            where {_STATUS}
            group by e.exception_id
        ) as x
        inner join {events} as e
            on e.exception_id = x.exception_id and e.event_at = x.last_at
        where {_STATUS} and e.to_status = 'open'
        group by e.model_unique_id, e.rule_name
    """


def _ranked_runs_sql(runs: str) -> str:
    """Each run of ``runs`` with its model's ``built_at`` (when it recorded the run) and its
    rank among the model's runs, newest first (``sluice_rn`` 1: the latest)."""
    return f"""
        select r.*, coalesce(r.finished_at, r.run_started_at) as built_at,
            row_number() over (
                partition by r.model_unique_id
                order by coalesce(r.finished_at, r.run_started_at) desc, r.invocation_id desc
            ) as sluice_rn
        from {runs} as r
    """


def _queues_sql(runs: str, queues: str) -> str:
    """Per model, the queue its latest build recorded: one row per rule (model, rule, open,
    dead-lettered, when the oldest open one opened), and the model's own row (rule NULL) that
    every build recording its queue writes; a model whose latest build recorded none, one row
    of NULLs but the model."""
    return f"""
        select r.model_unique_id, q.rule_name, q.open_at_end, q.dead_letter_at_end,
            q.oldest_opened_at, q.invocation_id
        from ({_ranked_runs_sql(runs)}) as r
        left join {queues} as q
            on q.model_unique_id = r.model_unique_id and q.invocation_id = r.invocation_id
        where r.sluice_rn = 1
    """


Queue = tuple[int, int, Any]
"""Open, dead-lettered, when the oldest open one opened (None with none open)."""


def _recorded_queues(wh: Warehouse, schema: str, events: str) -> dict[tuple[str, str], Queue]:
    """{(model unique id, rule): its queue} as each model's latest build recorded it; every
    queue counted from the events instead when some model's latest build recorded none."""
    table = wh.project.table_name("sluice_rule_queues_table", "sluice_rule_queues")
    runs_table = wh.project.settings.runs_table
    if wh.table_exists(schema, table) and wh.table_exists(schema, runs_table):
        rows = wh.query(_queues_sql(wh.relation(schema, runs_table), wh.relation(schema, table)))
        if all(invocation is not None for *_, invocation in rows):
            return {
                (str(m), str(r)): (int(o or 0), int(d or 0), at)
                for m, r, o, d, at, _ in rows
                if r is not None
            }
    oldest = {(str(m), str(r)): at for m, r, at in wh.query(_oldest_sql(events))}
    return {
        (str(m), str(r)): (int(o or 0), int(d or 0), oldest.get((str(m), str(r))))
        for m, r, o, d in wh.query(_queue_from_events_sql(events))
    }


def _queue_from_events_sql(events: str) -> str:
    """Per model and rule: the exceptions open and dead-lettered now, from the status events."""
    queue = ",\n".join(
        f"sum(case when e.to_status = '{s}' then 1 else 0 end)"
        f" - sum(case when e.from_status = '{s}' then 1 else 0 end)"
        for s in ("open", "dead_letter")
    )
    return f"""
        select e.model_unique_id, e.rule_name, {queue}
        from {events} as e
        where {_STATUS}
            and (e.to_status in ('open', 'dead_letter') or e.from_status in ('open', 'dead_letter'))
        group by e.model_unique_id, e.rule_name
    """


def _models_sql(runs: str, with_duration: bool = True) -> str:
    """Per model: its builds' rows, its latest build's time and duration (``with_duration``
    false: a table written before ``build_duration_seconds``)."""
    duration = "build_duration_seconds" if with_duration else "null"
    return f"""
        select model_unique_id, max(model_name), sum(rows_in), sum(rows_published),
            sum(rows_held), sum(rows_set_aside), sum(rows_flagged), max(built_at),
            max(case when sluice_rn = 1 then {duration} end)
        from ({_ranked_runs_sql(runs)}) as r
        group by model_unique_id
    """


def _loads_sql(states: str) -> str:
    """Per model: its latest load (by ``as_of``, then invocation, as the load state reads it)."""
    return f"""
        select model_name, as_of, published_at
        from (
            select t.model_name, t.as_of, t.published_at,
                row_number() over (
                    partition by t.model_unique_id order by t.as_of desc, t.invocation_id desc
                ) as sluice_rn
            from {states} as t
        ) as t
        where sluice_rn = 1
    """


def _freshness(wh: Warehouse, schema: str) -> tuple[ModelFreshness, ...]:
    """Each model's latest load: the lag from the publication of the data its relation held to
    that load. No table yet reads as none."""
    table = wh.project.table_name("sluice_load_states_table", "sluice_load_states")
    if not wh.table_exists(schema, table):
        return ()
    return tuple(
        ModelFreshness(
            model=str(model),
            lag_seconds=(
                (_utc(as_of) - _utc(published_at)).total_seconds()
                if published_at is not None and as_of is not None
                else None
            ),
        )
        for model, as_of, published_at in wh.query(_loads_sql(wh.relation(schema, table)))
    )


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_operational_metrics(
    wh: Warehouse, systems: Mapping[str, str] | None = None, *, now: datetime | None = None
) -> OperationalMetrics:
    """Every sluice model's and rule's metrics. ``systems``: model unique id -> its
    ``source_system`` (from the manifest); ``now`` (aware, default the current time) dates the
    oldest open exceptions."""
    project = wh.project
    schema = project.sluice_schema()
    systems = systems or {}
    when = now or datetime.now(UTC)
    events_table, runs_table = project.settings.events_table, project.settings.runs_table
    try:
        rules: list[RuleMetrics] = []
        if wh.table_exists(schema, events_table):
            events = wh.relation(schema, events_table)
            queues = _recorded_queues(wh, schema, events)
            for row in wh.query(_rules_sql(events)):
                model_id, model, rule, severity, owner = row[:5]
                new, *moved, retried = (int(v or 0) for v in row[5:])
                counts = dict(zip([n for _, n in _TO], moved, strict=True))
                counts.update(new=new, retried=retried)
                open_now, dead_now, opened = queues.get((str(model_id), str(rule)), (0, 0, None))
                rules.append(
                    RuleMetrics(
                        model=str(model),
                        rule=str(rule),
                        severity=str(severity or ""),
                        owner=str(owner or ""),
                        system=systems.get(model_id, ""),
                        counts=counts,
                        open=open_now,
                        dead_letter=dead_now,
                        oldest_open_seconds=(
                            max(0.0, (when - _utc(opened)).total_seconds())
                            if opened is not None and open_now > 0
                            else None
                        ),
                    )
                )
        models: list[ModelMetrics] = []
        if wh.table_exists(schema, runs_table):
            timed = "build_duration_seconds" in wh.columns(schema, runs_table)
            for row in wh.query(_models_sql(wh.relation(schema, runs_table), timed)):
                model_id, model, *rows, last_at, duration = row
                models.append(
                    ModelMetrics(
                        model=str(model),
                        system=systems.get(model_id, ""),
                        rows=dict(
                            zip(
                                ("in", "published", "held", "set_aside", "flagged"),
                                (int(v or 0) for v in rows),
                                strict=True,
                            )
                        ),
                        last_build_timestamp=_utc(last_at).timestamp() if last_at else 0.0,
                        last_build_duration_seconds=(None if duration is None else float(duration)),
                    )
                )
        freshness = _freshness(wh, schema)
    except SluiceError:
        raise
    except Exception as exc:
        raise InputError(
            f"{wh.description}: cannot read the sluice history in {schema}: {describe_error(exc)}"
        ) from None
    return OperationalMetrics(rules=tuple(rules), models=tuple(models), freshness=freshness)


RECENT_BUILDS: Final = 1000
"""How many of each model's latest builds the trend alerts read (``rising`` looks no further)."""


def read_recent_builds(
    wh: Warehouse, *, now: datetime | None = None, limit: int = RECENT_BUILDS
) -> dict[str, tuple[BuildRate, ...]]:
    """Each sluice model's latest builds in ``sluice_runs``, newest first: rows read, rows held
    and how long ago the build finished (from ``now``, default the current time)."""
    project = wh.project
    schema, runs_table = project.sluice_schema(), project.settings.runs_table
    when = now or datetime.now(UTC)
    found: dict[str, list[BuildRate]] = {}
    try:
        if not wh.table_exists(schema, runs_table):
            return {}
        rows = wh.query(f"""
            select model_unique_id, rows_in, rows_held, built_at
            from ({_ranked_runs_sql(wh.relation(schema, runs_table))}) as r
            where sluice_rn <= {int(limit)}
            order by model_unique_id, sluice_rn
        """)
    except SluiceError:
        raise
    except Exception as exc:
        raise InputError(
            f"{wh.description}: cannot read {runs_table} in {schema}: {describe_error(exc)}"
        ) from None
    for model_id, rows_in, rows_held, built_at in rows:
        age = max(0.0, (when - _utc(built_at)).total_seconds()) if built_at else 0.0
        found.setdefault(str(model_id), []).append(
            BuildRate(int(rows_in or 0), int(rows_held or 0), age)
        )
    return {uid: tuple(builds) for uid, builds in found.items()}
