{#- The current time in UTC as a timestamp without time zone, whatever the session's time zone:
    every time sluice stores goes through it. -#}
{% macro utc_now() %}
  {{ return(adapter.dispatch('utc_now', 'sluice')()) }}
{% endmacro %}

{% macro default__utc_now() -%}
  {{ dbt.current_timestamp_in_utc_backcompat() }}
{%- endmacro %}

{% macro duckdb__utc_now() -%}
  cast(timezone('UTC', now()) as timestamp)
{%- endmacro %}
