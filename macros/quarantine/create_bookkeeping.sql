{#- Creates the shared bookkeeping tables (sluice_runs, sluice_exception_events,
    sluice_decisions) once per invocation, before any model runs, from the package's
    on-run-start hook. Sluice models building in parallel then never race to create them
    (DuckDB refuses a second concurrent CREATE with a write-write conflict). -#}
{% macro create_bookkeeping() %}
  {{ return(adapter.dispatch('create_bookkeeping', 'sluice')()) }}
{% endmacro %}

{% macro default__create_bookkeeping() %}
  {%- if not execute or flags.WHICH not in ('build', 'run', 'retry') -%}{{ return('') }}{%- endif -%}
  {%- set tables = [
    ('runs_table', sluice._sluice_runs_columns()),
    ('events_table', sluice._sluice_events_columns()),
    ('decisions_table', sluice._sluice_decisions_columns()),
  ] -%}
  {%- set statements = [] -%}
  {%- for setting, columns in tables -%}
    {%- set relation = sluice._sluice_bookkeeping_relation(setting) -%}
    {%- if loop.first -%}
      {%- do statements.append('create schema if not exists ' ~ adapter.quote(relation.schema)) -%}
    {%- endif -%}
    {%- set ddl -%}
      create table if not exists {{ relation }} (
        {%- for name, data_type in columns %}
        {{ name }} {{ data_type }}{{ "," if not loop.last }}
        {%- endfor %}
      )
    {%- endset -%}
    {%- do statements.append(ddl) -%}
    {#- columns added since 0.1.0 -#}
    {%- if setting == 'runs_table' -%}
      {%- do statements.append('alter table ' ~ relation ~ ' add column if not exists rows_set_aside ' ~ dbt.type_bigint()) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(statements | join(';\n')) }}
{% endmacro %}
