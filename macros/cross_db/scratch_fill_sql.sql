{#- A scratch table of the audit, written from a query: {ddl, dml}, the statements that create
    it and those that fill it. DuckDB and PostgreSQL: no `ddl`, one CREATE TABLE AS in `dml`,
    run in the model's transaction. Snowflake, where DDL commits the open transaction: the
    table created empty from the query (`ddl`, sent before the package's transaction begins),
    then filled by INSERT (`dml`, inside it), so that the reviewers' decisions applied before
    the audit and the record written after it are one transaction
    (https://docs.snowflake.com/en/sql-reference/transactions). -#}
{% macro scratch_fill_sql(relation, sql) %}
  {{ return(adapter.dispatch('scratch_fill_sql', 'sluice')(relation, sql)) }}
{% endmacro %}

{% macro default__scratch_fill_sql(relation, sql) %}
  {{ return({'ddl': [], 'dml': [sluice._sluice_create_scratch_sql(relation, sql)]}) }}
{% endmacro %}

{% macro snowflake__scratch_fill_sql(relation, sql) %}
  {{ return({
    'ddl': [sluice._sluice_create_scratch_sql(relation, "select * from (" ~ sql ~ ") as x where 1 = 0")],
    'dml': ["insert into " ~ relation ~ " select * from (" ~ sql ~ ") as x"],
  }) }}
{% endmacro %}
