{#- Record identity. A record is the typed tuple of its key values, encoded as a JSON array:
    strings (and dates, timestamps, other types) as JSON strings, numbers by their exact text
    normalised so that equal values have one encoding whatever their SQL type (2, 2.0 and 2.00
    are all `2`, at any precision or width), a date and a timestamp at its midnight both as the date ("2024-01-03"),
    booleans as true/false, NULL as null. No two different tuples share an
    encoding. A row whose key has a NULL part is identified by its content as well: the array is
    followed by `#` and a hash of the row's JSON, so that different rows never share a record. -#}

{#- 'number', 'boolean', 'datetime' (a date, or a timestamp without time zone) or 'text': how a
    key column of this data type is encoded. -#}
{% macro _sluice_key_kind(data_type) %}
  {%- set t = (data_type or '') | lower | trim -%}
  {%- set base = t.split('(')[0] | trim -%}
  {%- if base in ('tinyint', 'smallint', 'integer', 'int', 'bigint', 'hugeint', 'utinyint', 'usmallint', 'uinteger', 'ubigint', 'uhugeint', 'int2', 'int4', 'int8', 'int64', 'serial', 'bigserial', 'smallserial', 'numeric', 'decimal', 'number', 'bignumeric', 'double', 'double precision', 'float', 'float4', 'float8', 'float64', 'real') -%}
    {{ return('number') }}
  {%- elif base in ('boolean', 'bool') -%}
    {{ return('boolean') }}
  {%- elif base in ('date', 'timestamp', 'timestamp without time zone', 'datetime', 'timestamp_ntz', 'timestamp_s', 'timestamp_ms', 'timestamp_us', 'timestamp_ns') -%}
    {{ return('datetime') }}
  {%- else -%}
    {{ return('text') }}
  {%- endif -%}
{% endmacro %}


{#- One key value as JSON text (never NULL). -#}
{% macro _sluice_key_part(expr, kind) -%}
  {%- if kind == 'number' -%}
  {#- the number's own text, exact at any precision and width; a fraction without its trailing
      zeros, then without a trailing point (2, 2.0 and 2.00 are all 2); an exponent form (a
      float's) as the engine writes it -#}
  {%- set t = "cast(" ~ expr ~ " as " ~ dbt.type_string() ~ ")" -%}
  {%- set z = "rtrim(" ~ t ~ ", '0')" -%}
  coalesce(case when {{ t }} like '%.%' and lower({{ t }}) not like '%e%'
    then (case when {{ dbt.right(z, '1') }} = '.' then substr({{ z }}, 1, {{ dbt.length(z) }} - 1) else {{ z }} end)
    else {{ t }} end, 'null')
  {%- elif kind == 'boolean' -%}
  (case when {{ expr }} is null then 'null' when {{ expr }} then 'true' else 'false' end)
  {%- elif kind == 'datetime' -%}
  {#- a day as its date, whether its column is a date or a timestamp at midnight -#}
  {%- set day = "cast(" ~ expr ~ " as date)" -%}
  coalesce({{ sluice.json_text("case when " ~ expr ~ " = cast(" ~ day ~ " as " ~ dbt.type_timestamp() ~ ") then cast(" ~ day ~ " as " ~ dbt.type_string() ~ ") else cast(" ~ expr ~ " as " ~ dbt.type_string() ~ ") end") }}, 'null')
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
