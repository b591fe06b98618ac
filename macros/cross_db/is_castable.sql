{#- True when `expr` (any type) can be read as `data_type`, NULL when expr is NULL.
    `data_type` is one of: integer, bigint, numeric, decimal, double, float, date, timestamp,
    boolean (other names are passed to the engine's TRY_CAST where it has one). A date or a
    timestamp is castable in ISO 8601 form only (`YYYY-MM-DD`; a timestamp also `YYYY-MM-DD
    HH:MI[:SS[.f]]`, `T` for the space, an optional `Z` or offset), the day existing in its
    month, on every engine alike: an engine's own casts accept other forms (Snowflake's
    AUTO-detected formats, which follow the session's input formats; DuckDB's timestamps where a
    date is asked), which would hold different rows on different engines. -#}
{% macro is_castable(expr, data_type) %}
  {{ return(adapter.dispatch('is_castable', 'sluice')(expr, data_type)) }}
{% endmacro %}

{#- The ISO 8601 form of a date or a timestamp (sluice.is_castable), or none for other types. -#}
{% macro _sluice_iso_pattern(data_type) %}
  {%- set t = data_type | lower | trim -%}
  {%- set day = '[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])' -%}
  {%- if t == 'date' -%}
    {{ return('^' ~ day ~ '$') }}
  {%- elif t.startswith('timestamp') -%}
    {{ return('^' ~ day ~ '([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?)?([+-][0-9]{2}(:?[0-9]{2})?|Z)?$') }}
  {%- endif -%}
  {{ return(none) }}
{% endmacro %}

{#- A date or timestamp: its trimmed text in ISO form, and its day in its month (the first ten
    characters read as a date in that one explicit format). -#}
{% macro _sluice_iso_castable(expr, data_type) -%}
  {%- set text_expr = "trim(cast(" ~ expr ~ " as " ~ dbt.type_string() ~ "))" -%}
  (case when {{ sluice.regex_matches(text_expr, sluice._sluice_iso_pattern(data_type)) }}
    then {{ sluice._sluice_day_exists(text_expr) }} else false end)
{%- endmacro %}

{#- The first ten characters of a well-formed `YYYY-MM-DD...` text name a day that exists
    (no 2024-02-30). -#}
{% macro _sluice_day_exists(text_expr) %}
  {{ return(adapter.dispatch('_sluice_day_exists', 'sluice')(text_expr)) }}
{% endmacro %}

{% macro default___sluice_day_exists(text_expr) -%}
  (try_cast(substr({{ text_expr }}, 1, 10) as date) is not null)
{%- endmacro %}

{% macro snowflake___sluice_day_exists(text_expr) -%}
  (try_to_date(substr({{ text_expr }}, 1, 10), 'YYYY-MM-DD') is not null)
{%- endmacro %}

{% macro bigquery___sluice_day_exists(text_expr) -%}
  (safe.parse_date('%Y-%m-%d', substr({{ text_expr }}, 1, 10)) is not null)
{%- endmacro %}

{% macro postgres___sluice_day_exists(text_expr) -%}
  (cast(substr({{ text_expr }}, 9, 2) as integer) <= extract(day from (
      make_date(cast(substr({{ text_expr }}, 1, 4) as integer), cast(substr({{ text_expr }}, 6, 2) as integer), 1)
      + interval '1 month - 1 day')))
{%- endmacro %}

{% macro default__is_castable(expr, data_type) -%}
  {%- if sluice._sluice_iso_pattern(data_type) -%}
  {{ sluice._sluice_iso_castable(expr, data_type) }}
  {%- else -%}
  (try_cast(cast({{ expr }} as {{ dbt.type_string() }}) as {{ data_type }}) is not null)
  {%- endif -%}
{%- endmacro %}

{% macro snowflake__is_castable(expr, data_type) -%}
  {%- if sluice._sluice_iso_pattern(data_type) -%}
  {{ sluice._sluice_iso_castable(expr, data_type) }}
  {%- else -%}
  (try_cast(cast({{ expr }} as varchar) as {{ data_type }}) is not null)
  {%- endif -%}
{%- endmacro %}

{% macro bigquery__is_castable(expr, data_type) -%}
  {%- if sluice._sluice_iso_pattern(data_type) -%}
  {{ sluice._sluice_iso_castable(expr, data_type) }}
  {%- else -%}
  (safe_cast(cast({{ expr }} as string) as {{ data_type }}) is not null)
  {%- endif -%}
{%- endmacro %}

{% macro postgres__is_castable(expr, data_type) -%}
  {#- PostgreSQL 15 has no TRY_CAST: match the text form against the type's literal syntax. -#}
  {%- set t = data_type | lower | trim -%}
  {%- set text_expr = "trim(cast(" ~ expr ~ " as text))" -%}
  {%- if t in ('integer', 'int', 'int4', 'bigint', 'int8', 'smallint') -%}
  ({{ text_expr }} ~ '^[-+]?[0-9]{1,18}$')
  {%- elif t.startswith('numeric') or t.startswith('decimal') or t in ('double', 'double precision', 'float', 'float8', 'real') -%}
  ({{ text_expr }} ~ '^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$')
  {%- elif sluice._sluice_iso_pattern(t) -%}
  {{ sluice._sluice_iso_castable(expr, t) }}
  {%- elif t in ('boolean', 'bool') -%}
  (lower({{ text_expr }}) in ('true', 'false', 't', 'f', '1', '0', 'yes', 'no', 'y', 'n', 'on', 'off'))
  {%- else -%}
  {{ exceptions.raise_compiler_error("sluice: castable type '" ~ data_type ~ "' is not supported on postgres; use one of integer, bigint, numeric, double, date, timestamp, boolean, or a `pattern`") }}
  {%- endif -%}
{%- endmacro %}
