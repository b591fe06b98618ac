{#- The statement(s) that publish an incremental build: the published relation's rows with the
    batch's keys deleted, the batch inserted (dbt's delete+insert strategy), run by
    sluice.run_atomically with the rest of the record. Snowflake: dbt's own statements without
    dbt-snowflake's BEGIN/COMMIT around them, since they run inside the package's transaction. -#}
{% macro merge_batch_sql(target, batch, key, dest_columns) %}
  {{ return(adapter.dispatch('merge_batch_sql', 'sluice')(target, batch, key, dest_columns)) }}
{% endmacro %}

{% macro default__merge_batch_sql(target, batch, key, dest_columns) %}
  {{ return(get_delete_insert_merge_sql(target, batch, key, dest_columns, none)) }}
{% endmacro %}

{% macro snowflake__merge_batch_sql(target, batch, key, dest_columns) %}
  {{ return(dbt.default__get_delete_insert_merge_sql(target, batch, key, dest_columns, none)) }}
{% endmacro %}
