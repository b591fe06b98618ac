{#- The latency of each build `sluice_metrics` counts, one row per build of a model: when the
    build began and how many seconds it took (sluice_runs: dbt's clock, from the start of the
    materialization to the build's record), and how fresh the data its relation held after it
    was (sluice_load_states: when that data was published, and its age at the build's load,
    in whole seconds: 0 when the build published, the time since the last good load when the
    gate held, null when the relation was never published). `builds` is the CTE of the builds
    being counted (invocation_id, model_unique_id): an incremental run reads only theirs. -#}
{% macro _sluice_metrics_latency_sql(builds) %}
  {%- set runs = sluice._sluice_bookkeeping_relation('runs_table') -%}
  {%- set loads = sluice._sluice_bookkeeping_relation('load_states_table') -%}
  {%- set _sql0 -%}
    select
        b.invocation_id,
        b.model_unique_id,
        r.build_started_at,
        r.build_duration_seconds,
        l.published_at as data_published_at,
        cast({{ dbt.datediff('l.published_at', 'l.as_of', 'second') }} as {{ dbt.type_bigint() }}) as freshness_lag_seconds
    from {{ builds }} as b
    inner join {{ runs }} as r
        on r.invocation_id = b.invocation_id and r.model_unique_id = b.model_unique_id
    left join {{ loads }} as l
        on l.invocation_id = b.invocation_id and l.model_unique_id = b.model_unique_id
  {%- endset -%}
  {{ return(_sql0) }}
{% endmacro %}
