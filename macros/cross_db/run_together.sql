{#- Runs statements in order, in one round trip where the driver takes several statements in one
    call (DuckDB, PostgreSQL), one call each elsewhere (Snowflake's driver splits a call into its
    statements anyway; Spark and BigQuery's jobs take one at a time). An entry may itself be a
    list of statements (a macro that returns several), run in its place. Empty entries are
    skipped. With fetch, returns the last statement's result (an agate table). -#}
{% macro run_together(name, statements, fetch=false) %}
  {{ return(adapter.dispatch('run_together', 'sluice')(name, sluice._sluice_statement_list(statements), fetch)) }}
{% endmacro %}

{% macro _sluice_statement_list(statements) %}
  {%- set out = [] -%}
  {%- for entry in statements if entry is not none -%}
    {%- for sql in ([entry] if entry is string else entry) if sql is not none -%}
      {%- set text = sql | trim -%}
      {%- if text.endswith(';') -%}{%- set text = text[:-1] | trim -%}{%- endif -%}
      {%- if text -%}{%- do out.append(text) -%}{%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}

{% macro default__run_together(name, statements, fetch=false) %}
  {%- for sql in statements -%}
    {% call statement(name ~ '_' ~ loop.index, fetch_result=(fetch and loop.last)) -%}
      {{ sql }}
    {%- endcall %}
  {%- endfor -%}
  {%- if fetch and statements | length > 0 -%}
    {{ return(load_result(name ~ '_' ~ (statements | length)).table) }}
  {%- endif -%}
{% endmacro %}

{% macro _sluice_run_in_one_call(name, statements, fetch) %}
  {%- if statements | length > 0 -%}
    {% call statement(name, fetch_result=fetch) -%}
      {{ statements | join(";\n") }}
    {%- endcall %}
    {%- if fetch -%}{{ return(load_result(name).table) }}{%- endif -%}
  {%- endif -%}
{% endmacro %}

{% macro duckdb__run_together(name, statements, fetch=false) %}
  {{ return(sluice._sluice_run_in_one_call(name, statements, fetch)) }}
{% endmacro %}

{% macro postgres__run_together(name, statements, fetch=false) %}
  {{ return(sluice._sluice_run_in_one_call(name, statements, fetch)) }}
{% endmacro %}
