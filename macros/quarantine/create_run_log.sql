{#- Creates the shared run log (sluice_runs) once per invocation, before any model runs, from
    the package's on-run-start hook. Sluice models building in parallel then never race to
    create it (DuckDB refuses a second concurrent CREATE with a write-write conflict). -#}
{% macro create_run_log() %}
  {{ return(adapter.dispatch('create_run_log', 'sluice')()) }}
{% endmacro %}

{% macro default__create_run_log() %}
  {%- if not execute or flags.WHICH not in ('build', 'run', 'retry') -%}{{ return('') }}{%- endif -%}
  {%- set runs = sluice._sluice_runs_relation() -%}
  {%- do adapter.create_schema(runs) -%}
  create table if not exists {{ runs }} (
    {%- for name, data_type in sluice._sluice_runs_columns() %}
    {{ name }} {{ data_type }}{{ "," if not loop.last }}
    {%- endfor %}
  )
{% endmacro %}
