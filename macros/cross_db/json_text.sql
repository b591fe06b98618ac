{#- A text expression as a JSON string literal (quotes and control characters escaped by the
    engine's own JSON functions); NULL stays NULL. -#}
{% macro json_text(expr) %}
  {{ return(adapter.dispatch('json_text', 'sluice')(expr)) }}
{% endmacro %}

{% macro default__json_text(expr) -%}
  cast(to_json({{ expr }}) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__json_text(expr) -%}
  cast(to_json(cast({{ expr }} as text)) as text)
{%- endmacro %}

{% macro snowflake__json_text(expr) -%}
  to_json(to_variant(cast({{ expr }} as varchar)))
{%- endmacro %}

{% macro bigquery__json_text(expr) -%}
  to_json_string(cast({{ expr }} as string))
{%- endmacro %}
