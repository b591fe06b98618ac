{#- Creates the shared run-history table (sluice_runs) once, before any model runs.

    Without it, the first sluice models that build in parallel each try to create the table in
    their own transaction; on DuckDB the second one fails with "Catalog write-write conflict on
    create ... sluice_runs" (or does not see the table yet). Creating it up front, with the
    package's own column list, keeps every sluice model free to build on any thread. -#}
{% macro create_sluice_runs() %}
  {%- if not execute or flags.WHICH not in ('build', 'run', 'retry') -%}{{ return('') }}{%- endif -%}
  {%- set runs = sluice._sluice_runs_relation() -%}
  {%- do adapter.create_schema(runs) -%}
  create table if not exists {{ runs }} (
    {%- for name, data_type in sluice._sluice_runs_columns() %}
    {{ name }} {{ data_type }}{{ "," if not loop.last }}
    {%- endfor %}
  )
{% endmacro %}
