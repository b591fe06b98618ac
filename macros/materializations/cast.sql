{#- In a sluice model's select list, in place of `cast(column as data_type)`: the value read as
    `data_type`, or NULL when it cannot be read, plus its raw text in a column of its own,
    `<alias>__sluice_raw`. The sluice materialization holds every row whose raw value does not
    cast (rule `sluice_cast_<alias>`, error class schema_violation, the raw value as evidence)
    and never publishes the raw column. One line per column:

        select order_id, {{ sluice.cast('order_date', 'date') }}, amount from ...

    On another materialization the raw column is an ordinary column. -#}
{% macro cast(column, data_type, alias=none) %}
  {{ return(adapter.dispatch('cast', 'sluice')(column, data_type, alias)) }}
{% endmacro %}

{% macro default__cast(column, data_type, alias=none) -%}
  {%- set name = alias or column.split('.')[-1] -%}
  {{ sluice._sluice_try_cast(column, data_type) }} as {{ name }}, cast({{ column }} as {{ dbt.type_string() }}) as {{ name }}__sluice_raw
{%- endmacro %}


{#- `expr` read as `data_type`, NULL when it cannot be. -#}
{% macro _sluice_try_cast(expr, data_type) %}
  {{ return(adapter.dispatch('_sluice_try_cast', 'sluice')(expr, data_type)) }}
{% endmacro %}

{% macro default___sluice_try_cast(expr, data_type) -%}
  try_cast(cast({{ expr }} as {{ dbt.type_string() }}) as {{ data_type }})
{%- endmacro %}

{% macro bigquery___sluice_try_cast(expr, data_type) -%}
  safe_cast(cast({{ expr }} as string) as {{ data_type }})
{%- endmacro %}

{#- PostgreSQL 15 has no TRY_CAST: the value is cast only when its text has the type's literal
    syntax (sluice.is_castable). -#}
{% macro postgres___sluice_try_cast(expr, data_type) -%}
  (case when {{ sluice.is_castable(expr, data_type) }} then cast(trim(cast({{ expr }} as text)) as {{ data_type }}) end)
{%- endmacro %}


{#- The raw columns sluice.cast added to the batch, as (raw column, typed column) pairs of
    column objects. -#}
{% macro _sluice_raw_columns(columns) %}
  {%- set by_lower = {} -%}
  {%- for c in columns -%}{%- do by_lower.update({c.name | lower: c}) -%}{%- endfor -%}
  {%- set out = [] -%}
  {%- for c in columns if (c.name | lower).endswith('__sluice_raw') -%}
    {%- set typed = by_lower.get((c.name | lower)[:-12]) -%}
    {%- if typed is not none -%}{%- do out.append((c, typed)) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}
