{#- dbt's generic tests on a sluice model, reading what the materialization recorded instead of
    scanning the model again. They take effect when the project dispatches dbt's (and dbt_utils')
    test macros through sluice:

        dispatch:
          - macro_namespace: dbt
            search_order: ['my_project', 'sluice', 'dbt']

    On any other model, or a sluice model not built yet, each one is dbt's own test unchanged. -#}

{% macro default__test_not_null(model, column_name) %}
  {%- set recorded = sluice._sluice_recorded_failures(model, config.model.name) -%}
  {%- if recorded is not none -%}{{ recorded }}{%- else -%}{{ dbt.default__test_not_null(model, column_name) }}{%- endif -%}
{% endmacro %}

{% macro default__test_unique(model, column_name) %}
  {%- set recorded = sluice._sluice_recorded_failures(model, config.model.name) -%}
  {%- if recorded is not none -%}{{ recorded }}{%- else -%}{{ dbt.default__test_unique(model, column_name) }}{%- endif -%}
{% endmacro %}

{% macro default__test_accepted_values(model, column_name, values, quote=True) %}
  {%- set recorded = sluice._sluice_recorded_failures(model, config.model.name) -%}
  {%- if recorded is not none -%}{{ recorded }}{%- else -%}{{ dbt.default__test_accepted_values(model, column_name, values, quote) }}{%- endif -%}
{% endmacro %}

{% macro default__test_relationships(model, column_name, to, field) %}
  {%- set recorded = sluice._sluice_recorded_failures(model, config.model.name) -%}
  {%- if recorded is not none -%}{{ recorded }}{%- else -%}{{ dbt.default__test_relationships(model, column_name, to, field) }}{%- endif -%}
{% endmacro %}
