{#- sluice_metrics per model, rule and UTC day: the day's builds, the sums of the builds' figures,
    and the queue as the day's last build left it (open, dead-lettered, oldest open age) with the
    day's deepest queue; the builds' time (total and longest) and the data's freshness lag at the
    day's last build and at its worst. -#}
with ranked as (
    select
        m.*,
        cast({{ dbt.date_trunc('day', 'm.built_at') }} as date) as build_date,
        row_number() over (
            partition by m.model_unique_id, m.rule_name, cast({{ dbt.date_trunc('day', 'm.built_at') }} as date)
            order by m.built_at desc, m.invocation_id desc
        ) as _sluice_rn
    from {{ ref('sluice_metrics') }} as m
)

select
    model_unique_id,
    max(model_name) as model_name,
    rule_name,
    build_date,
    count(*) as builds,
    sum(case when gate_status = 'held' then 1 else 0 end) as gates_held,
    {%- for column in ['rows_in', 'rows_published', 'rows_held', 'rows_set_aside', 'rows_flagged', 'new_exceptions', 'recovered', 'released', 'rejected', 'dead_lettered', 'retried', 'withdrawn'] %}
    sum({{ column }}) as {{ column }},
    {%- endfor %}
    max(case when _sluice_rn = 1 then open_at_end end) as open_at_end,
    max(case when _sluice_rn = 1 then dead_letter_at_end end) as dead_letter_at_end,
    max(case when _sluice_rn = 1 then oldest_open_seconds end) as oldest_open_seconds,
    max(open_at_end) as max_open,
    sum(build_duration_seconds) as build_duration_seconds,
    max(build_duration_seconds) as max_build_duration_seconds,
    max(case when _sluice_rn = 1 then freshness_lag_seconds end) as freshness_lag_seconds,
    max(freshness_lag_seconds) as max_freshness_lag_seconds,
    max(severity) as severity,
    max(owner) as owner,
    max(source_system) as source_system,
    max(target_system) as target_system,
    max(domain) as domain
from ranked
group by model_unique_id, rule_name, build_date
