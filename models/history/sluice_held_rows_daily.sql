{#- Rows held back per sluice model and UTC day, from the package's run log (sluice_runs): the
    rows held by the day's last build, the day's most, the builds and the gates held. -#}
with runs as (
    select
        model_unique_id,
        model_name,
        coalesce(finished_at, run_started_at) as built_at,
        rows_held,
        gate_status
    from {{ sluice._sluice_bookkeeping_relation('runs_table') }}
),

dated as (
    select
        runs.*,
        cast({{ dbt.date_trunc('day', 'built_at') }} as date) as build_date
    from runs
    where built_at is not null
),

ranked as (
    select
        dated.*,
        row_number() over (
            partition by model_unique_id, build_date order by built_at desc
        ) as _sluice_rn
    from dated
)

select
    model_unique_id,
    max(model_name) as model_name,
    build_date,
    max(case when _sluice_rn = 1 then rows_held end) as rows_held,
    max(rows_held) as max_rows_held,
    count(*) as builds,
    sum(case when gate_status = 'held' then 1 else 0 end) as gates_held
from ranked
group by model_unique_id, build_date
