{#- One row per incident: its exposure, whether it is open, when it opened and closed, how long
    it took to recover, the worst status it reached, and its latest root causes and owners. -#}
with changes as (
    select * from {{ ref('sluice_incident_history') }}
),

ranked as (
    select
        changes.*,
        row_number() over (
            partition by incident_id
            order by changed_at desc,
                case change_type when 'closed' then 2 when 'updated' then 1 else 0 end desc
        ) as _sluice_latest,
        row_number() over (
            partition by incident_id
            order by case when change_type = 'closed' then 1 else 0 end, changed_at desc
        ) as _sluice_latest_open
    from changes
),

totals as (
    select
        incident_id,
        min(opened_at) as opened_at,
        max(case when change_type = 'closed' then closed_at end) as closed_at,
        max(case when change_type = 'closed' then duration_seconds end) as duration_seconds,
        max(case when change_type = 'closed' then close_reason end) as close_reason,
        max(changed_at) as last_changed_at,
        count(*) as changes,
        max(case status
            when 'blocked' then 4 when 'stale' then 3 when 'unknown' then 2
            when 'degraded' then 1 else 0 end) as _sluice_worst_rank
    from changes
    group by incident_id
)

select
    t.incident_id,
    latest.exposure_unique_id,
    latest.exposure_name,
    latest.exposure_label,
    latest.criticality,
    latest.owners,
    case when t.closed_at is null then 'open' else 'closed' end as state,
    latest.status as status,
    case t._sluice_worst_rank
        when 4 then 'blocked' when 3 then 'stale' when 2 then 'unknown' when 1 then 'degraded'
    end as worst_status,
    t.opened_at,
    t.closed_at,
    t.close_reason,
    t.duration_seconds,
    t.duration_seconds / 3600.0 as hours_to_recover,
    t.last_changed_at,
    t.changes,
    last_open.root_cause_ids,
    last_open.fix_owners,
    last_open.rows_held_upstream
from totals as t
inner join ranked as latest
    on latest.incident_id = t.incident_id and latest._sluice_latest = 1
inner join ranked as last_open
    on last_open.incident_id = t.incident_id and last_open._sluice_latest_open = 1
