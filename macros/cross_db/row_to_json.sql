{#- The original row as JSON text, built from explicit columns so bookkeeping columns never leak in.
    NULLs stay JSON nulls; quotes, unicode and JSON-looking text are escaped by the engine. -#}
{% macro row_to_json(columns, alias, masked={}) %}
  {{ return(adapter.dispatch('row_to_json', 'sluice')(columns, alias, masked)) }}
{% endmacro %}


{#- A column's value for row_to_json: its masked text when `masked` names it, else the column. -#}
{% macro _sluice_json_value(col, alias, masked) -%}
  {{ masked[col] if col in masked else alias ~ '.' ~ adapter.quote(col) }}
{%- endmacro %}

{% macro default__row_to_json(columns, alias, masked={}) -%}
  cast(json_object(
    {%- for col in columns %}
    '{{ col | replace("'", "''") }}', {{ sluice._sluice_json_value(col, alias, masked) }}{{ "," if not loop.last }}
    {%- endfor %}
  ) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__row_to_json(columns, alias, masked={}) -%}
  {#- json_build_object takes at most 100 arguments: build 50-column chunks and merge them. -#}
  {%- set chunks = columns | batch(50) | list -%}
  {%- if chunks | length == 1 -%}
  cast(json_build_object(
    {%- for col in columns %}
    '{{ col | replace("'", "''") }}', {{ sluice._sluice_json_value(col, alias, masked) }}{{ "," if not loop.last }}
    {%- endfor %}
  ) as text)
  {%- else -%}
  cast(
    {%- for chunk in chunks %}
    jsonb_build_object(
      {%- for col in chunk %}
      '{{ col | replace("'", "''") }}', {{ sluice._sluice_json_value(col, alias, masked) }}{{ "," if not loop.last }}
      {%- endfor %}
    ){{ " ||" if not loop.last }}
    {%- endfor %}
  as text)
  {%- endif -%}
{%- endmacro %}

{#- Snowflake documents the order of an object's keys in TO_JSON's text as not predictable: the
    object is written column by column, each value by TO_JSON of the value alone. -#}
{% macro snowflake__row_to_json(columns, alias, masked={}) -%}
  ('{'
    {%- for col in columns %}
    || '{{ (tojson(col) ~ ":") | replace("'", "''") }}' || coalesce(to_json(to_variant({{ sluice._sluice_json_value(col, alias, masked) }})), 'null'){{ " || ','" if not loop.last }}
    {%- endfor %}
  || '}')
{%- endmacro %}

{% macro bigquery__row_to_json(columns, alias, masked={}) -%}
  to_json_string(struct(
    {%- for col in columns %}
    {{ sluice._sluice_json_value(col, alias, masked) }} as {{ adapter.quote(col) }}{{ "," if not loop.last }}
    {%- endfor %}
  ))
{%- endmacro %}

{% macro spark__row_to_json(columns, alias, masked={}) -%}
  to_json(named_struct(
    {%- for col in columns %}
    '{{ col | replace("'", "\\'") }}', {{ sluice._sluice_json_value(col, alias, masked) }}{{ "," if not loop.last }}
    {%- endfor %}
  ))
{%- endmacro %}


{#- The row's JSON as sluice.row_to_json wrote it before Snowflake's was written in a fixed key
    order (TO_JSON of the whole object): what the identities of rows with a NULL key part
    hashed until then (sluice._sluice_rekey_null_keys_sql). -#}
{% macro _sluice_row_json_v1(columns, alias) %}
  {{ return(adapter.dispatch('_sluice_row_json_v1', 'sluice')(columns, alias)) }}
{% endmacro %}

{% macro default___sluice_row_json_v1(columns, alias) -%}
  {{ sluice.row_to_json(columns, alias) }}
{%- endmacro %}

{% macro snowflake___sluice_row_json_v1(columns, alias) -%}
  to_json(object_construct_keep_null(
    {%- for col in columns %}
    '{{ col | replace("'", "''") }}', {{ alias }}.{{ adapter.quote(col) }}{{ "," if not loop.last }}
    {%- endfor %}
  ))
{%- endmacro %}
