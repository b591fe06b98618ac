{#- True when `expr` (any type) can be read as `data_type`, NULL when expr is NULL.
    `data_type` is one of: integer, bigint, numeric, decimal, double, float, date, timestamp,
    boolean (other names are passed to the engine's TRY_CAST where it has one). -#}
{% macro is_castable(expr, data_type) %}
  {{ return(adapter.dispatch('is_castable', 'sluice')(expr, data_type)) }}
{% endmacro %}

{% macro default__is_castable(expr, data_type) -%}
  (try_cast(cast({{ expr }} as {{ dbt.type_string() }}) as {{ data_type }}) is not null)
{%- endmacro %}

{% macro snowflake__is_castable(expr, data_type) -%}
  (try_cast(cast({{ expr }} as varchar) as {{ data_type }}) is not null)
{%- endmacro %}

{% macro bigquery__is_castable(expr, data_type) -%}
  (safe_cast(cast({{ expr }} as string) as {{ data_type }}) is not null)
{%- endmacro %}

{% macro postgres__is_castable(expr, data_type) -%}
  {#- PostgreSQL 15 has no TRY_CAST: match the text form against the type's literal syntax. -#}
  {%- set t = data_type | lower | trim -%}
  {%- set text_expr = "trim(cast(" ~ expr ~ " as text))" -%}
  {%- if t in ('integer', 'int', 'int4', 'bigint', 'int8', 'smallint') -%}
  ({{ text_expr }} ~ '^[-+]?[0-9]{1,18}$')
  {%- elif t.startswith('numeric') or t.startswith('decimal') or t in ('double', 'double precision', 'float', 'float8', 'real') -%}
  ({{ text_expr }} ~ '^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$')
  {%- elif t == 'date' -%}
  (case when {{ text_expr }} ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'
        then {{ sluice._sluice_pg_day_exists(text_expr) }} else false end)
  {%- elif t.startswith('timestamp') -%}
  (case when {{ text_expr }} ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?)?([+-][0-9]{2}(:?[0-9]{2})?|Z)?$'
        then {{ sluice._sluice_pg_day_exists(text_expr) }} else false end)
  {%- elif t in ('boolean', 'bool') -%}
  (lower({{ text_expr }}) in ('true', 'false', 't', 'f', '1', '0', 'yes', 'no', 'y', 'n', 'on', 'off'))
  {%- else -%}
  {{ exceptions.raise_compiler_error("sluice: castable type '" ~ data_type ~ "' is not supported on postgres; use one of integer, bigint, numeric, double, date, timestamp, boolean, or a `pattern`") }}
  {%- endif -%}
{%- endmacro %}

{#- The day of a well-formed 'YYYY-MM-DD...' text exists in its month (no 2024-02-30). -#}
{% macro _sluice_pg_day_exists(text_expr) -%}
  (cast(substr({{ text_expr }}, 9, 2) as integer) <= extract(day from (
      make_date(cast(substr({{ text_expr }}, 1, 4) as integer), cast(substr({{ text_expr }}, 6, 2) as integer), 1)
      + interval '1 month - 1 day')))
{%- endmacro %}
