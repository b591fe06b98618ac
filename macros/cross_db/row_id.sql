{#- A row's physical address in a table, for taking a few audited rows back out of the batch
    without reading it again: PostgreSQL's ctid, DuckDB's rowid. Both stay put for the rest of
    the build: nothing updates the batch between the audit that reads them and the delete that
    uses them. None where the engine has no such address, or where one of the table's `columns`
    takes its name (DuckDB's rowid then reads the column): the caller deletes by key instead. -#}
{% macro row_id(alias, columns) %}
  {{ return(adapter.dispatch('row_id', 'sluice')(alias, columns)) }}
{% endmacro %}

{% macro default__row_id(alias, columns) %}
  {{ return(none) }}
{% endmacro %}

{#- PostgreSQL refuses a column named ctid, so the name is always the address. -#}
{% macro postgres__row_id(alias, columns) %}
  {{ return(alias ~ '.ctid') }}
{% endmacro %}

{% macro duckdb__row_id(alias, columns) %}
  {%- for c in columns if c | lower == 'rowid' -%}{{ return(none) }}{%- endfor -%}
  {{ return(alias ~ '.rowid') }}
{% endmacro %}


{#- Deletes the rows of `relation` whose address (sluice.row_id) the query `ids_sql` returns. -#}
{% macro delete_row_ids_sql(relation, ids_sql) %}
  {{ return(adapter.dispatch('delete_row_ids_sql', 'sluice')(relation, ids_sql)) }}
{% endmacro %}

{% macro default__delete_row_ids_sql(relation, ids_sql) %}
  {{ exceptions.raise_compiler_error("sluice: " ~ adapter.type() ~ " has no row address (sluice.row_id)") }}
{% endmacro %}

{#- = any(array(...)): the planner reads the few addresses with a TID scan, not the whole table. -#}
{% macro postgres__delete_row_ids_sql(relation, ids_sql) %}
  {{ return("delete from " ~ relation ~ " where ctid = any(array(" ~ ids_sql ~ "))") }}
{% endmacro %}

{% macro duckdb__delete_row_ids_sql(relation, ids_sql) %}
  {{ return("delete from " ~ relation ~ " where rowid in (" ~ ids_sql ~ ")") }}
{% endmacro %}


{#- The number of rows a statement wrote or deleted, as the engine reported it with the statement
    (the result's response, from load_result), or none where the driver does not say. PostgreSQL
    reports it for CREATE TABLE AS, INSERT and DELETE; the materialization then takes the batch's
    row count from its creation and the published count from the delete of the held rows,
    instead of counting the batch again. -#}
{% macro written_rows(result) %}
  {{ return(adapter.dispatch('written_rows', 'sluice')(result)) }}
{% endmacro %}

{% macro default__written_rows(result) %}
  {{ return(none) }}
{% endmacro %}

{% macro postgres__written_rows(result) %}
  {%- set n = result.response.rows_affected if result is not none and result.response is not none else none -%}
  {{ return(n if n is number and n >= 0 else none) }}
{% endmacro %}
