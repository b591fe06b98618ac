{#- A timestamp with a time zone as the UTC wall-clock time, a timestamp without time zone,
    whatever the session's time zone. -#}
{% macro utc_timestamp(expr) %}
  {{ return(adapter.dispatch('utc_timestamp', 'sluice')(expr)) }}
{% endmacro %}

{% macro default__utc_timestamp(expr) -%}
  ({{ expr }} at time zone 'UTC')
{%- endmacro %}

{% macro duckdb__utc_timestamp(expr) -%}
  timezone('UTC', {{ expr }})
{%- endmacro %}

{% macro snowflake__utc_timestamp(expr) -%}
  cast(convert_timezone('UTC', {{ expr }}) as timestamp_ntz)
{%- endmacro %}

{% macro bigquery__utc_timestamp(expr) -%}
  datetime({{ expr }}, 'UTC')
{%- endmacro %}

{% macro spark__utc_timestamp(expr) -%}
  {{ expr }}
{%- endmacro %}
