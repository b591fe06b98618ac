{#- Recurring root causes: per culprit (the breaching sluice rule, else the source, model or
    test), the incidents it caused that were open at some point in the last 7, 30 and 90 days
    and in all, how many are open now, and the exposures they reached. The owner is the one
    named by the culprit's latest incident change. -#}
with causes as (
    select * from {{ ref('sluice_incident_cause_history') }}
),

incidents as (
    select incident_id, closed_at from {{ ref('sluice_incident_summary') }}
),

per_incident as (
    select
        culprit_type,
        culprit_name,
        node_unique_id,
        incident_id,
        exposure_unique_id,
        min(changed_at) as first_seen_at,
        max(changed_at) as last_seen_at
    from causes
    group by culprit_type, culprit_name, node_unique_id, incident_id, exposure_unique_id
),

owners as (
    select
        culprit_type,
        culprit_name,
        node_unique_id,
        owner,
        row_number() over (
            partition by culprit_type, culprit_name, node_unique_id
            order by changed_at desc, owner
        ) as _sluice_rn
    from causes
)

select
    p.culprit_type,
    p.culprit_name,
    p.node_unique_id,
    o.owner,
    {%- for days in [7, 30, 90] %}
    count(distinct case
        when i.closed_at is null
            or i.closed_at >= {{ dbt.dateadd('day', -days, sluice.utc_now()) }}
        then p.incident_id end) as incidents_{{ days }}d,
    {%- endfor %}
    count(distinct p.incident_id) as incidents_total,
    count(distinct case when i.closed_at is null then p.incident_id end) as open_incidents,
    count(distinct p.exposure_unique_id) as exposures,
    min(p.first_seen_at) as first_seen_at,
    max(p.last_seen_at) as last_seen_at
from per_incident as p
inner join incidents as i on i.incident_id = p.incident_id
left join owners as o
    on o.culprit_type = p.culprit_type
    and o.culprit_name = p.culprit_name
    and o.node_unique_id = p.node_unique_id
    and o._sluice_rn = 1
group by p.culprit_type, p.culprit_name, p.node_unique_id, o.owner
