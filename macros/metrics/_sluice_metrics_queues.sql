{#- Whether every build sluice_metrics is about to count recorded its queue (a row with
    rule_name NULL in sluice_rule_queues, written by builds of this version on): then the
    queue figures are read from there, else counted from the history's events. `counted`: the
    relation of the rows already counted (an incremental run), none for a first build. Asked at
    execution only; at parse time, and with no queue table yet, false. -#}
{% macro _sluice_metrics_queues_recorded(runs, queues, counted=none) %}
  {%- if not execute -%}{{ return(false) }}{%- endif -%}
  {%- for rel in [runs, queues] -%}
    {%- if adapter.get_relation(database=rel.database, schema=rel.schema, identifier=rel.identifier) is none -%}
      {{ return(false) }}
    {%- endif -%}
  {%- endfor -%}
  {%- set unrecorded -%}
    select count(*) from {{ runs }} as r
    where not exists (
      select 1 from {{ queues }} as q
      where q.invocation_id = r.invocation_id and q.model_unique_id = r.model_unique_id and q.rule_name is null
    )
    {%- if counted is not none %}
      and not exists (
        select 1 from {{ counted }} as m
        where m.invocation_id = r.invocation_id and m.model_unique_id = r.model_unique_id
      )
    {%- endif %}
  {%- endset -%}
  {{ return((run_query(unrecorded).columns[0].values()[0] | int) == 0) }}
{% endmacro %}
