{#- `value` as the text between the single quotes of a SQL string literal: dbt's
    escape_single_quotes, plus the engine's own escape character where it has one. -#}
{% macro escape_string(value) %}
  {{ return(adapter.dispatch('escape_string', 'sluice')(value)) }}
{% endmacro %}

{% macro default__escape_string(value) -%}
  {{ dbt.escape_single_quotes(value | string) }}
{%- endmacro %}

{#- Snowflake reads a backslash in a single-quoted string as the start of an escape sequence
    (https://docs.snowflake.com/en/sql-reference/data-types-text#escape-sequences-in-single-quoted-string-constants);
    dbt's snowflake__escape_single_quotes escapes only the quote. -#}
{% macro snowflake__escape_string(value) -%}
  {{ dbt.escape_single_quotes(value | string | replace("\\", "\\\\")) }}
{%- endmacro %}
