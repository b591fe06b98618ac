{#- Runs the statements that record a build (the quarantine, its events, the run row, the load
    state, the seals; for an incremental build also the publication) so that all of them or none
    take effect, then the statements in `after` (scratch tables dropped). On DuckDB and
    PostgreSQL they are part of the model's transaction, which dbt commits (sluice.run_together).
    Snowflake: one explicit transaction the package sends itself (dbt-snowflake's begin and
    commit send nothing), holding DML only, since DDL commits an open transaction
    (https://docs.snowflake.com/en/sql-reference/transactions). Its first statement updates
    the model's row of the lock table (sluice.lock_model): a second build of the model waits
    there until this one commits, so builds of one model record one after the other. -#}
{% macro run_atomically(name, statements, after=[]) %}
  {{ return(adapter.dispatch('run_atomically', 'sluice')(name, statements, after)) }}
{% endmacro %}

{% macro default__run_atomically(name, statements, after=[]) %}
  {%- do sluice.run_together(name, [statements, after]) -%}
{% endmacro %}

{% macro snowflake__run_atomically(name, statements, after=[]) %}
  {%- set locks = sluice._sluice_bookkeeping_relation('locks_table') -%}
  {%- set take_lock -%}
    update {{ locks }} set
      invocation_id = {{ sluice._sluice_lit(invocation_id) }},
      locked_at = {{ sluice.utc_now() }}
    where model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
  {%- endset -%}
  {%- do sluice.run_together(name, ['begin transaction', take_lock, statements, 'commit', after]) -%}
{% endmacro %}
