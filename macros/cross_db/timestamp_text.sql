{#- A timestamp as text with a fixed format, `YYYY-MM-DD HH:MI:SS.ffffff` (microseconds), whatever
    the session's date style: what the audit trail hashes, so that a value hashes alike at the
    seal and at every later verification. -#}
{% macro timestamp_text(expr) %}
  {{ return(adapter.dispatch('timestamp_text', 'sluice')(expr)) }}
{% endmacro %}

{% macro default__timestamp_text(expr) -%}
  to_char({{ expr }}, 'YYYY-MM-DD HH24:MI:SS.US')
{%- endmacro %}

{% macro duckdb__timestamp_text(expr) -%}
  strftime({{ expr }}, '%Y-%m-%d %H:%M:%S.%f')
{%- endmacro %}

{% macro snowflake__timestamp_text(expr) -%}
  to_char({{ expr }}, 'YYYY-MM-DD HH24:MI:SS.FF6')
{%- endmacro %}

{% macro bigquery__timestamp_text(expr) -%}
  format_timestamp('%Y-%m-%d %H:%M:%E6S', {{ expr }})
{%- endmacro %}

{% macro spark__timestamp_text(expr) -%}
  date_format({{ expr }}, 'yyyy-MM-dd HH:mm:ss.SSSSSS')
{%- endmacro %}
