{#- Record identity. A record is the typed tuple of its key values, encoded as a JSON array:
    strings (and dates, timestamps, other types) as JSON strings, numbers normalised so that equal
    values have one encoding whatever their SQL type (2, 2.0 and 2.00 are all `2`; numbers are read
    as decimal(38,9)), booleans as true/false, NULL as null. No two different tuples share an
    encoding. A row whose key has a NULL part is identified by its content as well: the array is
    followed by `#` and a hash of the row's JSON, so that different rows never share a record. -#}

{#- 'number', 'boolean' or 'text': how a key column of this data type is encoded. -#}
{% macro _sluice_key_kind(data_type) %}
  {%- set t = (data_type or '') | lower | trim -%}
  {%- set base = t.split('(')[0] | trim -%}
  {%- if base in ('tinyint', 'smallint', 'integer', 'int', 'bigint', 'hugeint', 'utinyint', 'usmallint', 'uinteger', 'ubigint', 'uhugeint', 'int2', 'int4', 'int8', 'int64', 'serial', 'bigserial', 'smallserial', 'numeric', 'decimal', 'number', 'bignumeric', 'double', 'double precision', 'float', 'float4', 'float8', 'float64', 'real') -%}
    {{ return('number') }}
  {%- elif base in ('boolean', 'bool') -%}
    {{ return('boolean') }}
  {%- else -%}
    {{ return('text') }}
  {%- endif -%}
{% endmacro %}


{#- One key value as JSON text (never NULL). -#}
{% macro _sluice_key_part(expr, kind) -%}
  {%- if kind == 'number' -%}
  {#- the decimal's text without its trailing zeros, then without a trailing point -#}
  {%- set t = "rtrim(cast(cast(" ~ expr ~ " as decimal(38, 9)) as " ~ dbt.type_string() ~ "), '0')" -%}
  coalesce(case when {{ dbt.right(t, '1') }} = '.' then substr({{ t }}, 1, {{ dbt.length(t) }} - 1) else {{ t }} end, 'null')
  {%- elif kind == 'boolean' -%}
  (case when {{ expr }} is null then 'null' when {{ expr }} then 'true' else 'false' end)
  {%- else -%}
  coalesce({{ sluice.json_text("cast(" ~ expr ~ " as " ~ dbt.type_string() ~ ")") }}, 'null')
  {%- endif -%}
{%- endmacro %}


{#- The record key of a row: `keys` is a list of (quoted column, kind); `row_json` the row's JSON
    text (used only when a key part is NULL). -#}
{% macro _sluice_record_key_expr(keys, alias, row_json=none) -%}
  {%- set parts = ["'['"] -%}
  {%- for quoted, kind in keys -%}
    {%- if not loop.first -%}{%- do parts.append("','") -%}{%- endif -%}
    {%- do parts.append(sluice._sluice_key_part(alias ~ '.' ~ quoted, kind)) -%}
  {%- endfor -%}
  {%- do parts.append("']'") -%}
  {%- if row_json is not none -%}
    {%- do parts.append("(case when " ~ sluice._sluice_any_null_sql(keys, alias) ~ " then " ~ dbt.concat(["'#'", dbt.hash(row_json)]) ~ " else '' end)") -%}
  {%- endif -%}
  {{ dbt.concat(parts) }}
{%- endmacro %}


{% macro _sluice_any_null_sql(keys, alias) -%}
  ({% for quoted, kind in keys %}{{ alias }}.{{ quoted }} is null{{ " or " if not loop.last }}{% endfor %})
{%- endmacro %}
