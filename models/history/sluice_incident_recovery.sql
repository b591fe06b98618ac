{#- Time to recovery per exposure and its owners: incidents in all and open now, and for the
    incidents that recovered (closed because the exposure is healthy again), in all and in the
    last 30 days, how many and how long they took in hours (mean and longest). For open
    incidents, how long the oldest has been open. For other groupings (per owner of the fix,
    per week) use sluice_incident_summary, one row per incident. -#}
with incidents as (
    select * from {{ ref('sluice_incident_summary') }}
),

measured as (
    select
        incidents.*,
        case when close_reason = 'recovered' then hours_to_recover end as _sluice_recovered_hours,
        case when close_reason = 'recovered'
            and closed_at >= {{ dbt.dateadd('day', -30, sluice.utc_now()) }}
            then hours_to_recover end as _sluice_recovered_hours_30d,
        case when state = 'open'
            then {{ dbt.datediff('opened_at', sluice.utc_now(), 'second') }} / 3600.0
            end as _sluice_open_hours
    from incidents
)

select
    exposure_unique_id,
    exposure_name,
    exposure_label,
    owners,
    count(*) as incidents,
    sum(case when state = 'open' then 1 else 0 end) as open_incidents,
    count(_sluice_recovered_hours) as recovered,
    avg(_sluice_recovered_hours) as avg_hours_to_recover,
    max(_sluice_recovered_hours) as max_hours_to_recover,
    count(_sluice_recovered_hours_30d) as recovered_30d,
    avg(_sluice_recovered_hours_30d) as avg_hours_to_recover_30d,
    max(_sluice_recovered_hours_30d) as max_hours_to_recover_30d,
    max(_sluice_open_hours) as open_longest_hours,
    max(opened_at) as last_opened_at
from measured
group by exposure_unique_id, exposure_name, exposure_label, owners
