{#- Serializes builds of one model. Called at the start of the model's transaction.
    PostgreSQL: a transaction-scoped advisory lock keyed on the model, released when the
    transaction ends. DuckDB needs none (a database file has one writing process).
    Snowflake: DDL commits any open transaction and dbt-snowflake's begin/commit send nothing,
    so no lock can be held for the whole build. Here the model's row of the lock table
    (var sluice_locks_table) is made sure to exist, with autocommitted statements; the lock
    itself is taken on that row by the first statement of the package's transaction
    (sluice.transaction_sql), which Snowflake holds until COMMIT. -#}
{% macro lock_model(key) %}
  {{ return(adapter.dispatch('lock_model', 'sluice')(key)) }}
{% endmacro %}

{% macro default__lock_model(key) %}
{% endmacro %}

{% macro postgres__lock_model(key) %}
  {% call statement('sluice_lock') -%}
    select pg_advisory_xact_lock(hashtext({{ sluice._sluice_lit('sluice:' ~ key) }}))
  {%- endcall %}
{% endmacro %}

{% macro snowflake__lock_model(key) %}
  {%- set locks = sluice._sluice_bookkeeping_relation('locks_table') -%}
  {%- do sluice._sluice_ensure_table(locks, sluice._sluice_locks_columns()) -%}
  {% call statement('sluice_lock_row') -%}
    insert into {{ locks }} (model_unique_id, invocation_id, locked_at)
    select {{ sluice._sluice_lit(key) }}, cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_timestamp() }})
    where not exists (select 1 from {{ locks }} where model_unique_id = {{ sluice._sluice_lit(key) }})
  {%- endcall %}
{% endmacro %}
