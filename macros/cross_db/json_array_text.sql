{#- The text of element `index` (from 0) of a JSON array held as text: a string without its
    quotes and escapes, a number or boolean as its JSON text; NULL for a JSON null. -#}
{% macro json_array_text(expr, index) %}
  {{ return(adapter.dispatch('json_array_text', 'sluice')(expr, index)) }}
{% endmacro %}

{% macro default__json_array_text(expr, index) -%}
  json_extract_string({{ expr }}, '$[{{ index }}]')
{%- endmacro %}

{% macro postgres__json_array_text(expr, index) -%}
  (cast({{ expr }} as json) ->> {{ index }})
{%- endmacro %}

{% macro snowflake__json_array_text(expr, index) -%}
  cast(parse_json({{ expr }})[{{ index }}] as varchar)
{%- endmacro %}

{% macro bigquery__json_array_text(expr, index) -%}
  json_value({{ expr }}, '$[{{ index }}]')
{%- endmacro %}
