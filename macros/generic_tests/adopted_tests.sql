{#- dbt's generic tests on a sluice model, reading what the materialization recorded instead of
    scanning the model again. They take effect when the project dispatches dbt's (and dbt_utils')
    test macros through sluice:

        dispatch:
          - macro_namespace: dbt
            search_order: ['my_project', 'sluice', 'dbt']

    (and, for dbt_utils' row tests, the same with `macro_namespace: dbt_utils`). On any other
    model, or a sluice model not built yet, each one is the original test unchanged. -#}

{% macro default__test_not_null(model, column_name) %}
  {%- set recorded = sluice._sluice_recorded_failures(model, config.model.name) -%}
  {%- if recorded is not none -%}{{ recorded }}{%- else -%}{{ dbt.default__test_not_null(model, column_name) }}{%- endif -%}
{% endmacro %}

{% macro default__test_unique(model, column_name) %}
  {%- set recorded = sluice._sluice_recorded_failures(model, config.model.name, unique=true) -%}
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

{#- dbt_utils' row tests, for a project that dispatches the `dbt_utils` namespace through sluice
    (only then are they looked up here, so dbt_utils is installed whenever the fallback runs). -#}
{% macro default__test_expression_is_true(model, expression, column_name=none) %}
  {%- set recorded = sluice._sluice_recorded_failures(model, config.model.name) -%}
  {%- if recorded is not none -%}{{ recorded }}{%- else -%}{{ dbt_utils.default__test_expression_is_true(model, expression, column_name) }}{%- endif -%}
{% endmacro %}

{% macro default__test_accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
  {%- set recorded = sluice._sluice_recorded_failures(model, config.model.name) -%}
  {%- if recorded is not none -%}{{ recorded }}{%- else -%}{{ dbt_utils.default__test_accepted_range(model, column_name, min_value, max_value, inclusive) }}{%- endif -%}
{% endmacro %}

{% macro default__test_unique_combination_of_columns(model, combination_of_columns, quote_columns=false) %}
  {%- set recorded = sluice._sluice_recorded_failures(model, config.model.name, unique=true) -%}
  {%- if recorded is not none -%}{{ recorded }}{%- else -%}{{ dbt_utils.default__test_unique_combination_of_columns(model, combination_of_columns, quote_columns) }}{%- endif -%}
{% endmacro %}


{#- Whether dbt looks up the test macros of `namespace` (dbt or dbt_utils) in sluice first, as the
    `dispatch:` block above makes it: only then do adopted tests read what was recorded. -#}
{% macro _sluice_tests_dispatched(namespace) %}
  {%- if namespace == 'dbt_utils' -%}
    {%- set found = adapter.dispatch('test_expression_is_true', 'dbt_utils') -%}
  {%- else -%}
    {%- set found = adapter.dispatch('test_not_null', 'dbt') -%}
  {%- endif -%}
  {{ return(found.macro.package_name == 'sluice') }}
{% endmacro %}
