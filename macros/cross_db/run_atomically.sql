{#- Runs the statements that record a build (the quarantine, its events, the run row, the load
    state, the seals; for an incremental build also the publication) so that all of them or none
    take effect, then the statements in `after` (scratch tables dropped). On DuckDB and
    PostgreSQL they are part of the model's transaction, which dbt commits (sluice.run_together).
    Snowflake: one explicit transaction the package sends itself (sluice.transaction_sql),
    holding DML only, since DDL commits an open transaction; its first statement takes the
    model's lock row, so builds of one model record one after the other. `begun`: the
    transaction was begun earlier by the caller (sluice.transaction_sql('begin')), with the
    audit's statements in it; these statements end it. -#}
{% macro run_atomically(name, statements, after=[], begun=false) %}
  {{ return(adapter.dispatch('run_atomically', 'sluice')(name, statements, after, begun)) }}
{% endmacro %}

{% macro default__run_atomically(name, statements, after=[], begun=false) %}
  {%- set begin = [] if begun else sluice.transaction_sql('begin') -%}
  {%- do sluice.run_together(name, [begin, statements, sluice.transaction_sql('commit'), after]) -%}
{% endmacro %}
