{#- A date or timestamp key value as an earlier release wrote it into a record key: the engine's
    own cast to text, which follows the session's output formats (sluice._sluice_identity.sql
    now writes one explicit format). `kind`: `datetime` (a day written as its date, whether its
    column is a date or a timestamp at midnight) or `instant` (a timestamp with a time zone,
    then keyed as text). The first build with this release finds the records stored that way
    among the rows of its batch and moves them (sluice._sluice_rekey_time_formats_sql).
    Default: the cast itself, in this session. Snowflake: the documented default output
    formats, written explicitly (https://docs.snowflake.com/en/sql-reference/parameters:
    DATE_OUTPUT_FORMAT `YYYY-MM-DD`, TIMESTAMP_NTZ_OUTPUT_FORMAT `YYYY-MM-DD HH24:MI:SS.FF3`,
    TIMESTAMP_LTZ_OUTPUT_FORMAT and TIMESTAMP_TZ_OUTPUT_FORMAT empty, so TIMESTAMP_OUTPUT_FORMAT
    `YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM`, a local time in the session's TIMEZONE). -#}
{% macro session_time_text(expr, kind) %}
  {{ return(adapter.dispatch('session_time_text', 'sluice')(expr, kind)) }}
{% endmacro %}

{% macro default__session_time_text(expr, kind) -%}
  {%- set s = dbt.type_string() -%}
  {%- if kind == 'instant' -%}
  cast({{ expr }} as {{ s }})
  {%- else -%}
  {%- set day = "cast(" ~ expr ~ " as date)" -%}
  (case when {{ expr }} = cast({{ day }} as {{ dbt.type_timestamp() }}) then cast({{ day }} as {{ s }}) else cast({{ expr }} as {{ s }}) end)
  {%- endif -%}
{%- endmacro %}

{% macro snowflake__session_time_text(expr, kind) -%}
  {%- if kind == 'instant' -%}
  to_char(cast({{ expr }} as timestamp_tz), 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM')
  {%- else -%}
  {%- set ts = "cast(" ~ expr ~ " as timestamp_ntz)" -%}
  (case when {{ ts }} = cast(cast({{ expr }} as date) as timestamp_ntz)
    then to_char(cast({{ expr }} as date), 'YYYY-MM-DD')
    else to_char({{ ts }}, 'YYYY-MM-DD HH24:MI:SS.FF3') end)
  {%- endif -%}
{%- endmacro %}
