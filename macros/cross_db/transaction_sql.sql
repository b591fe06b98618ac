{#- The statements that begin, commit or roll back the package's own transaction ([] where
    there are none to send). DuckDB and PostgreSQL: none; the model's transaction, which dbt
    begins and commits, holds the whole build. Snowflake: dbt-snowflake's begin and commit send
    nothing and every DDL statement commits on its own, so the package sends `begin
    transaction` and `commit` (or `rollback`) itself around DML only
    (https://docs.snowflake.com/en/sql-reference/transactions). The first statement after
    `begin transaction` updates the model's row of the lock table (sluice.lock_model): a second
    build of the model waits there until this one ends its transaction. `step`: `begin`,
    `commit` or `rollback`. -#}
{% macro transaction_sql(step) %}
  {{ return(adapter.dispatch('transaction_sql', 'sluice')(step)) }}
{% endmacro %}

{% macro default__transaction_sql(step) %}
  {{ return([]) }}
{% endmacro %}

{% macro snowflake__transaction_sql(step) %}
  {%- if step == 'commit' -%}{{ return(['commit']) }}{%- endif -%}
  {%- if step == 'rollback' -%}{{ return(['rollback']) }}{%- endif -%}
  {%- set locks = sluice._sluice_bookkeeping_relation('locks_table') -%}
  {%- set take_lock -%}
    update {{ locks }} set
      invocation_id = {{ sluice._sluice_lit(invocation_id) }},
      locked_at = {{ sluice.utc_now() }}
    where model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
  {%- endset -%}
  {{ return(['begin transaction', take_lock]) }}
{% endmacro %}
