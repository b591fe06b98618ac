{#- True when a sluice model configured with `meta.sluice.incremental: true` builds on an existing
    table (not a first build, not --full-refresh). Use it in model SQL the way dbt's
    is_incremental() is used in incremental models. -#}
{% macro is_incremental() %}
  {{ return(adapter.dispatch('is_incremental', 'sluice')()) }}
{% endmacro %}

{% macro default__is_incremental() %}
  {%- if not execute or model is not mapping or model.get('resource_type') != 'model' -%}{{ return(false) }}{%- endif -%}
  {%- if model.config.materialized != 'sluice' -%}{{ return(dbt.is_incremental()) }}{%- endif -%}
  {%- set meta = (model.config.meta or {}).get('sluice') or {} -%}
  {%- if not meta.get('incremental', false) or should_full_refresh() -%}{{ return(false) }}{%- endif -%}
  {%- set relation = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
  {{ return(relation is not none and relation.type == 'table') }}
{% endmacro %}
