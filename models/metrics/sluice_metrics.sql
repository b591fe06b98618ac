{#- Operational metrics, one row per build of a sluice model and rule: the model's rows (in,
    published, held, set aside, flagged; the model's figures, the same on each of its rules'
    rows), what the build did to the rule's exceptions (new, recovered, released, rejected,
    dead-lettered, retried, withdrawn), the queue left behind (open and dead-lettered exceptions,
    the age of the oldest open one) and who and what the rule is about. Computed from the
    package's own history (sluice_runs, sluice_exception_events, and the queue each build
    recorded at its end in sluice_rule_queues), never from a quarantine's current state, so a
    build counted late is counted as it was. Incremental: each run adds the builds not yet
    counted and reads only their events; --full-refresh recomputes it all from the history,
    which is never wiped.

    When every build to count recorded its queue (builds of this version on), the queue (open
    and dead-lettered exceptions, the oldest open one) is read from sluice_rule_queues and the
    events are only counted per build. Otherwise (builds recorded by an earlier version) the
    queue is counted from the events: an incremental run carries it forward from the latest
    row of each model and rule, and reads, for the oldest open exception, the moves into and
    out of `open` since the oldest exception still open at that row (else since that build).
    No window runs over the events: they are counted by hash aggregates, each move out of
    `open` names when its spell began (from_status_at; a move written before it did is paired
    with the exception's latest move into `open`), and the windows run over builds and ended
    spells only. -#}
{#- delete+insert, the strategy every engine's dbt adapter has; its temporary relation is of the
    package's scratch kind: with sluice_scratch_relation_type `transient`, a transient table
    (dbt-snowflake's tmp_relation_type), for engines or emulators without temporary tables -#}
{#- a relation built by an earlier version gains the columns added since (latency), null on the
    rows it already had -#}
{{ config(materialized='incremental', unique_key='metric_id', incremental_strategy='delete+insert', on_schema_change='append_new_columns',
          tmp_relation_type=('transient' if sluice.get_setting('scratch_relation_type') == 'transient' else none)) }}
{%- set runs = sluice._sluice_bookkeeping_relation('runs_table') -%}
{%- set events = sluice._sluice_bookkeeping_relation('events_table') -%}
{%- set queues = sluice._sluice_bookkeeping_relation('rule_queues_table') -%}
{%- set recorded = sluice._sluice_metrics_queues_recorded(runs, queues, this if is_incremental() else none) -%}
{%- set s = dbt.type_string() -%}
{%- set bi = dbt.type_bigint() -%}
with builds as (
    select
        r.invocation_id,
        r.model_unique_id,
        r.model_name,
        r.run_started_at,
        coalesce(r.finished_at, r.run_started_at) as built_at,
        r.gate_status,
        r.rows_in,
        r.rows_published,
        r.rows_held,
        r.rows_set_aside,
        r.rows_flagged,
        r.rows_held_open
    from {{ runs }} as r
    {%- if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as m
        where m.invocation_id = r.invocation_id and m.model_unique_id = r.model_unique_id
    )
    {%- endif %}
),

rules as (
    {{ sluice._sluice_metrics_rules_sql() | indent(4) }}
),

{%- if is_incremental() %}

-- the queue each model and rule had at its latest counted build, and from when its history is
-- read again: every exception still open then opened at or after the oldest of them, so the
-- events before it (or, with nothing open, before that build) cannot reach a new build
carried as (
    select
        model_unique_id,
        rule_name,
        open_at_end,
        dead_letter_at_end,
        case when open_at_end > 0 and oldest_opened_at is not null then oldest_opened_at else built_at end as read_from
    from (
        select
            m.model_unique_id,
            m.rule_name,
            m.open_at_end,
            m.dead_letter_at_end,
            m.oldest_opened_at,
            m.built_at,
            row_number() over (
                partition by m.model_unique_id, m.rule_name order by m.built_at desc, m.invocation_id desc
            ) as _sluice_rn
        from {{ this }} as m
    ) as latest
    where _sluice_rn = 1
),
{%- endif %}

-- what each build did, per model and rule, counted in one pass over the events: the builds'
-- status changes, and the retries the reviewers decided and the build applied; an
-- incremental run reads only the new builds' events
event_counts as (
    select
        e.invocation_id,
        e.model_unique_id,
        e.rule_name,
        {%- set status_event = "coalesce(e.event_type, 'status') = 'status'" %}
        count(case when {{ status_event }} and e.from_status is null then 1 end) as new_exceptions,
        {%- for to_status, column in [('recovered', 'recovered'), ('released', 'released'), ('rejected', 'rejected'), ('dead_letter', 'dead_lettered'), ('withdrawn', 'withdrawn')] %}
        count(case when {{ status_event }} and e.to_status = '{{ to_status }}' then 1 end) as {{ column }},
        {%- endfor %}
        count(case when e.event_type = 'decided' and e.to_status = 'open' then 1 end) as retried
        {%- if not recorded %},
        {%- for status in ['open', 'dead_letter'] %}
        count(case when {{ status_event }} and e.to_status = '{{ status }}' then 1 end)
            - count(case when {{ status_event }} and e.from_status = '{{ status }}' then 1 end) as {{ status }}_change,
        {%- endfor %}
        max(e.severity) as severity,
        max(e.owner) as owner
        {%- endif %}
    from {{ events }} as e
    {%- if is_incremental() %}
    where e.invocation_id in (select invocation_id from builds)
    {%- endif %}
    group by e.invocation_id, e.model_unique_id, e.rule_name
),

-- of the builds recorded
changes as (
    select m.*
    from event_counts as m
    inner join builds as b
        on b.invocation_id = m.invocation_id and b.model_unique_id = m.model_unique_id
),

{%- if recorded %}

-- the queue each build recorded at its end, per rule
queues as (
    select q.invocation_id, q.model_unique_id, q.rule_name, q.open_at_end, q.dead_letter_at_end, q.oldest_opened_at, q.severity, q.owner
    from {{ queues }} as q
    inner join builds as b
        on b.invocation_id = q.invocation_id and b.model_unique_id = q.model_unique_id
    where q.rule_name is not null
),
{%- endif %}

keys as (
    select model_unique_id, rule_name from rules
    union
    select model_unique_id, rule_name from changes
    {%- if recorded %}
    union
    select model_unique_id, rule_name from queues
    {%- endif %}
    {%- if is_incremental() %}
    union
    select model_unique_id, rule_name from carried
    {%- endif %}
),

grid as (
    select b.*, k.rule_name
    from builds as b
    inner join keys as k on k.model_unique_id = b.model_unique_id
),

{%- if not recorded %}

-- the status events into and out of `open` (each status event moves an exception from the
-- status of its previous one, so an open spell ends at the next event out of `open`, which
-- records when the spell began: from_status_at); a first build reads them where they are used
-- rather than keeping them all, an incremental run keeps the few it reads
{%- set open_moves_sql %}
        select e.exception_id, e.model_unique_id, e.rule_name, e.from_status, e.to_status, e.event_at, e.from_status_at
        from {{ events }} as e
        {%- if is_incremental() %}
        left join carried as w on w.model_unique_id = e.model_unique_id and w.rule_name = e.rule_name
        {%- endif %}
        where coalesce(e.event_type, 'status') = 'status'
            and (e.to_status = 'open' or e.from_status = 'open')
            {%- if is_incremental() %}
            and (w.read_from is null or e.event_at >= w.read_from)
            {%- endif %}
{%- endset %}
{%- if is_incremental() %}
open_moves as ({{ open_moves_sql }}
),
{%- set open_moves = 'open_moves' %}
{%- else %}
{%- set open_moves = '(' ~ open_moves_sql ~ '\n    )' %}
{%- endif %}

-- the moves out of `open` written before events recorded when the spell began, each paired
-- with the exception's latest move into `open` before it (none but those before the latest
-- such move are read: with none, nothing is joined)
paired as (
    select c.model_unique_id, c.rule_name, c.event_at as ended_at, max(o.event_at) as opened_at
    from {{ open_moves }} as c
    inner join {{ open_moves }} as o
        on o.exception_id = c.exception_id and o.to_status = 'open' and o.event_at < c.event_at
    where c.from_status = 'open' and c.from_status_at is null
        and o.event_at < (
            select max(u.event_at) from {{ open_moves }} as u where u.from_status = 'open' and u.from_status_at is null
        )
    group by c.model_unique_id, c.rule_name, c.exception_id, c.event_at
),

-- each ended open spell: a move out of `open`, with its start as the event recorded it
ended as (
    select m.model_unique_id, m.rule_name, m.event_at as ended_at, m.from_status_at as opened_at
    from {{ open_moves }} as m
    where m.from_status = 'open' and m.from_status_at is not null
    union all
    select model_unique_id, rule_name, ended_at, opened_at
    from paired
),

-- the spells still open: per model, rule and start, more moves into `open` than out of it
open_now as (
    select model_unique_id, rule_name, opened_at
    from (
        select
            m.model_unique_id,
            m.rule_name,
            case when m.to_status = 'open' then m.event_at else m.from_status_at end as opened_at,
            case when m.to_status = 'open' then 1 else -1 end as moves
        from {{ open_moves }} as m
        where m.to_status = 'open' or m.from_status_at is not null
        union all
        select model_unique_id, rule_name, opened_at, -1
        from paired
    ) as m
    group by model_unique_id, rule_name, opened_at
    having sum(moves) > 0
),

-- the open spells per model and rule, those that end together as one (the earliest opened of
-- them is open whenever any of them is)
spells as (
    select model_unique_id, rule_name, ended_at, min(opened_at) as opened_at
    from ended
    group by model_unique_id, rule_name, ended_at
    union all
    select
        model_unique_id,
        rule_name,
        cast('9999-12-31 00:00:00' as {{ dbt.type_timestamp() }}) as ended_at,
        min(opened_at) as opened_at
    from open_now
    group by model_unique_id, rule_name
),

-- the oldest open exception changes only when it ends: in the order they opened, each spell is
-- the oldest from its opening (or the latest end of those opened before it, if later) to its
-- own end; these spans never overlap, so each build falls in one at most, found by carrying the
-- latest span start forward over the builds (no range join)
spans as (
    select model_unique_id, rule_name, opened_at, span_from, ended_at as span_to
    from (
        select
            ordered.*,
            case when prior_end is null or prior_end < opened_at then opened_at else prior_end end as span_from
        from (
            select
                s.*,
                max(s.ended_at) over (
                    partition by s.model_unique_id, s.rule_name
                    order by s.opened_at, s.ended_at
                    rows between unbounded preceding and 1 preceding
                ) as prior_end
            from spells as s
        ) as ordered
    ) as spanned
    where span_from < ended_at
),

marks as (
    select
        model_unique_id, rule_name, invocation_id, built_at as mark_at, 1 as _sluice_kind,
        cast(null as {{ dbt.type_timestamp() }}) as span_from
    from grid
    union all
    select
        model_unique_id, rule_name, cast(null as {{ s }}), span_from, 0, span_from
    from spans
),

oldest as (
    select c.invocation_id, c.model_unique_id, c.rule_name, sp.opened_at as oldest_opened_at
    from (
        select
            marks.*,
            max(span_from) over (
                partition by model_unique_id, rule_name
                order by mark_at, _sluice_kind
                rows between unbounded preceding and current row
            ) as current_span
        from marks
    ) as c
    inner join spans as sp
        on sp.model_unique_id = c.model_unique_id
        and sp.rule_name = c.rule_name
        and sp.span_from = c.current_span
        and sp.span_to > c.mark_at
    where c._sluice_kind = 1
),

{%- endif %}

-- each build's counts and the queue it left
counted as (
    select
        g.*,
        {%- for column in ['new_exceptions', 'recovered', 'released', 'rejected', 'dead_lettered', 'retried', 'withdrawn'] %}
        cast(coalesce(c.{{ column }}, 0) as {{ bi }}) as {{ column }},
        {%- endfor %}
        {%- if recorded %}
        {%- for status in ['open', 'dead_letter'] %}
        cast(coalesce(q.{{ status }}_at_end, 0) as {{ bi }}) as {{ status }}_at_end,
        {%- endfor %}
        q.oldest_opened_at,
        q.severity as _sluice_event_severity,
        q.owner as _sluice_event_owner
        {%- else %}
        {%- for status in ['open', 'dead_letter'] %}
        cast({% if is_incremental() %}coalesce(q.{{ status }}_at_end, 0) + {% endif %}sum(coalesce(c.{{ status }}_change, 0)) over (
            partition by g.model_unique_id, g.rule_name
            order by g.built_at, g.invocation_id
            rows between unbounded preceding and current row
        ) as {{ bi }}) as {{ status }}_at_end,
        {%- endfor %}
        o.oldest_opened_at,
        c.severity as _sluice_event_severity,
        c.owner as _sluice_event_owner
        {%- endif %}
    from grid as g
    left join changes as c
        on c.invocation_id = g.invocation_id
        and c.model_unique_id = g.model_unique_id
        and c.rule_name = g.rule_name
    {%- if recorded %}
    left join queues as q
        on q.invocation_id = g.invocation_id
        and q.model_unique_id = g.model_unique_id
        and q.rule_name = g.rule_name
    {%- else %}
    left join oldest as o
        on o.invocation_id = g.invocation_id
        and o.model_unique_id = g.model_unique_id
        and o.rule_name = g.rule_name
    {%- if is_incremental() %}
    left join carried as q on q.model_unique_id = g.model_unique_id and q.rule_name = g.rule_name
    {%- endif %}
    {%- endif %}
),

-- each build's duration and its data's freshness lag (macros/metrics/_sluice_metrics_latency_sql.sql)
latency as (
    {{ sluice._sluice_metrics_latency_sql('builds') | indent(4) }}
)

select
    {{ dbt.hash(dbt.concat(['n.invocation_id', "'|'", 'n.model_unique_id', "'|'", 'n.rule_name'])) }} as metric_id,
    n.invocation_id,
    n.model_unique_id,
    n.model_name,
    n.rule_name,
    n.run_started_at,
    n.built_at,
    n.gate_status,
    n.rows_in,
    n.rows_published,
    n.rows_held,
    n.rows_set_aside,
    n.rows_flagged,
    n.rows_held_open,
    n.new_exceptions,
    n.recovered,
    n.released,
    n.rejected,
    n.dead_lettered,
    n.retried,
    n.withdrawn,
    n.open_at_end,
    n.dead_letter_at_end,
    n.oldest_opened_at,
    cast({{ dbt.datediff('n.oldest_opened_at', 'n.built_at', 'second') }} as {{ bi }}) as oldest_open_seconds,
    coalesce(r.severity, n._sluice_event_severity) as severity,
    coalesce(r.owner, n._sluice_event_owner) as owner,
    r.source_system,
    r.target_system,
    r.domain,
    l.build_started_at,
    l.build_duration_seconds,
    l.data_published_at,
    l.freshness_lag_seconds
from counted as n
left join rules as r on r.model_unique_id = n.model_unique_id and r.rule_name = n.rule_name
left join latency as l on l.invocation_id = n.invocation_id and l.model_unique_id = n.model_unique_id
