{#- True when the text form of `expr` matches the regular expression `pattern`. -#}
{% macro regex_matches(expr, pattern) %}
  {{ return(adapter.dispatch('regex_matches', 'sluice')(expr, pattern)) }}
{% endmacro %}

{% macro default__regex_matches(expr, pattern) -%}
  regexp_matches(cast({{ expr }} as {{ dbt.type_string() }}), '{{ pattern | replace("'", "''") }}')
{%- endmacro %}

{% macro postgres__regex_matches(expr, pattern) -%}
  (cast({{ expr }} as text) ~ '{{ pattern | replace("'", "''") }}')
{%- endmacro %}

{% macro snowflake__regex_matches(expr, pattern) -%}
  (regexp_instr(cast({{ expr }} as varchar), '{{ pattern | replace("\\", "\\\\") | replace("'", "''") }}') > 0)
{%- endmacro %}

{% macro bigquery__regex_matches(expr, pattern) -%}
  regexp_contains(cast({{ expr }} as string), r'{{ pattern }}')
{%- endmacro %}

{% macro spark__regex_matches(expr, pattern) -%}
  (cast({{ expr }} as string) rlike '{{ pattern | replace("'", "\\'") }}')
{%- endmacro %}
