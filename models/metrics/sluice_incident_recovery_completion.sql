{#- Recovery completion per incident: the exceptions the incident's held models (root causes
    rows_held or gate_held) held when it opened (open or dead_letter then), how many have since
    been decided or recovered (their first move after the opening to recovered, released,
    rejected or withdrawn), and once all have, when the last one was and how long it took. -#}
{%- set events = sluice._sluice_bookkeeping_relation('events_table') -%}
with incidents as (
    select incident_id, exposure_unique_id, exposure_name, state, opened_at, closed_at
    from {{ ref('sluice_incident_summary') }}
),

held_models as (
    select distinct incident_id, node_unique_id
    from {{ ref('sluice_incident_cause_history') }}
    where kind in ('rows_held', 'gate_held')
),

statuses as (
    {{ sluice._sluice_status_spells_sql(events) }}
),

held as (
    select distinct i.incident_id, i.opened_at, s.exception_id
    from incidents as i
    inner join held_models as h on h.incident_id = i.incident_id
    inner join statuses as s
        on s.model_unique_id = h.node_unique_id
        and s.to_status in ('open', 'dead_letter')
        and s.started_at <= i.opened_at
        and (s.ended_at is null or s.ended_at > i.opened_at)
),

settled as (
    select h.incident_id, h.exception_id, min(s.started_at) as settled_at
    from held as h
    left join statuses as s
        on s.exception_id = h.exception_id
        and s.to_status in ('recovered', 'released', 'rejected', 'withdrawn')
        and s.started_at > h.opened_at
    group by h.incident_id, h.exception_id
),

completion as (
    select
        incident_id,
        count(*) as exceptions_held,
        count(settled_at) as exceptions_settled,
        case when count(settled_at) = count(*) then max(settled_at) end as completed_at
    from settled
    group by incident_id
)

select
    i.incident_id,
    i.exposure_unique_id,
    i.exposure_name,
    i.state,
    i.opened_at,
    i.closed_at,
    coalesce(c.exceptions_held, 0) as exceptions_held,
    coalesce(c.exceptions_settled, 0) as exceptions_settled,
    c.completed_at,
    {{ dbt.datediff('i.opened_at', 'c.completed_at', 'second') }} / 3600.0 as hours_to_complete
from incidents as i
left join completion as c on c.incident_id = i.incident_id
