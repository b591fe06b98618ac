{#- Serializes builds of one model: taken at the start of the model's transaction, released when
    it ends. PostgreSQL: a transaction-scoped advisory lock keyed on the model. DuckDB needs none
    (a database file has one writing process). Engines without such a lock rely on their own
    table locks; see the README's Engines section. -#}
{% macro lock_model(key) %}
  {{ return(adapter.dispatch('lock_model', 'sluice')(key)) }}
{% endmacro %}

{% macro default__lock_model(key) %}
{% endmacro %}

{% macro postgres__lock_model(key) %}
  {% call statement('sluice_lock') -%}
    select pg_advisory_xact_lock(hashtext({{ sluice._sluice_lit('sluice:' ~ key) }}))
  {%- endcall %}
{% endmacro %}
