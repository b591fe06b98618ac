{#- CREATE of a table that keeps no recovery data, from a query: a scratch table that the build
    drops at its end. Where the engine has no such kind, a plain table. -#}
{% macro transient_table_sql(relation, sql) %}
  {{ return(adapter.dispatch('transient_table_sql', 'sluice')(relation, sql)) }}
{% endmacro %}

{% macro default__transient_table_sql(relation, sql) -%}
  drop table if exists {{ relation }};
  create table {{ relation }} as (
{{ sql }}
  )
{%- endmacro %}

{#- https://docs.snowflake.com/en/sql-reference/sql/create-table: a TRANSIENT table has no
    fail-safe period. The model's own table settings (clustering, grants, tags) are not applied. -#}
{% macro snowflake__transient_table_sql(relation, sql) -%}
  create or replace transient table {{ relation }} as (
{{ sql }}
  )
{%- endmacro %}
