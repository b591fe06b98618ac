{#- Record identity. A record is the typed tuple of its key values, encoded as a JSON array:
    strings (and dates, timestamps, other types) as JSON strings, numbers by their exact text
    normalised so that equal values have one encoding whatever their SQL type (2, 2.0 and 2.00
    are all `2`, at any precision or width), a date and a timestamp at its midnight both as the
    date ("2024-01-03"), other timestamps in an explicit format (`YYYY-MM-DD HH:MI:SS`, then the
    fraction of a second without trailing zeros), timestamps with a time zone in UTC (`+00`),
    booleans as true/false, NULL as null: never the session's output formats or time zone. No
    two different tuples share an encoding. A row whose key has a NULL part is identified by its
    values as well: the array is followed by `#v` and a hash of the row's values
    (sluice._sluice_row_values_sql), so that different rows never share a record, and a row keeps
    its record when a column changes type or a column is added. -#}

{#- 'number', 'boolean', 'datetime' (a date, or a timestamp without time zone), 'instant' (a
    timestamp with a time zone) or 'text': how a key column of this data type is encoded. -#}
{% macro _sluice_key_kind(data_type) %}
  {%- set t = (data_type or '') | lower | trim -%}
  {%- set base = t.split('(')[0] | trim -%}
  {%- if base in ('tinyint', 'smallint', 'integer', 'int', 'bigint', 'hugeint', 'utinyint', 'usmallint', 'uinteger', 'ubigint', 'uhugeint', 'int2', 'int4', 'int8', 'int64', 'serial', 'bigserial', 'smallserial', 'numeric', 'decimal', 'number', 'bignumeric', 'double', 'double precision', 'float', 'float4', 'float8', 'float64', 'real') -%}
    {{ return('number') }}
  {%- elif base in ('boolean', 'bool') -%}
    {{ return('boolean') }}
  {%- elif base in ('date', 'timestamp', 'timestamp without time zone', 'datetime', 'timestamp_ntz', 'timestamp_s', 'timestamp_ms', 'timestamp_us', 'timestamp_ns') -%}
    {{ return('datetime') }}
  {%- elif base in ('timestamp with time zone', 'timestamptz', 'timestamp_tz', 'timestamp_ltz') -%}
    {{ return('instant') }}
  {%- else -%}
    {{ return('text') }}
  {%- endif -%}
{% endmacro %}


{#- One value as text, NULL when it is NULL, in a form that depends on the value only: never on
    its SQL type within its kind, nor on the session's formats or time zone. -#}
{% macro _sluice_value_text(expr, kind) -%}
  {%- if kind.startswith('masked_') -%}
  {#- a masked column (sluice._sluice_masked_kind): its text as for its kind, keyed-hashed -#}
  {{ sluice._sluice_mask_sql(sluice._sluice_value_text(expr, kind[7:]), sluice._sluice_mask_key()) }}
  {%- elif kind == 'number' -%}
  {#- the number's own text, exact at any precision and width; a fraction without its trailing
      zeros, then without a trailing point (2, 2.0 and 2.00 are all 2); an exponent form (a
      float's) as the engine writes it -#}
  {%- set t = "cast(" ~ expr ~ " as " ~ dbt.type_string() ~ ")" -%}
  {%- set z = "rtrim(" ~ t ~ ", '0')" -%}
  (case when {{ t }} like '%.%' and lower({{ t }}) not like '%e%'
    then (case when {{ dbt.right(z, '1') }} = '.' then substr({{ z }}, 1, {{ dbt.length(z) }} - 1) else {{ z }} end)
    else {{ t }} end)
  {%- elif kind == 'boolean' -%}
  (case when {{ expr }} is null then null when {{ expr }} then 'true' else 'false' end)
  {%- elif kind == 'datetime' -%}
  {#- a day as its date, whether its column is a date or a timestamp at midnight -#}
  {%- set ts = "cast(" ~ expr ~ " as " ~ dbt.type_timestamp() ~ ")" -%}
  (case when {{ ts }} = cast(cast({{ expr }} as date) as {{ dbt.type_timestamp() }})
    then substr({{ sluice.timestamp_text(ts) }}, 1, 10)
    else {{ sluice._sluice_fraction_trimmed(sluice.timestamp_text(ts)) }} end)
  {%- elif kind == 'instant' -%}
  {{ dbt.concat([sluice._sluice_fraction_trimmed(sluice.timestamp_text(sluice.utc_timestamp(expr))), "'+00'"]) }}
  {%- else -%}
  cast({{ expr }} as {{ dbt.type_string() }})
  {%- endif -%}
{%- endmacro %}


{#- `YYYY-MM-DD HH:MI:SS.ffffff` without the fraction's trailing zeros, nor its point when it is 0.
    Each RTRIM is given text cast as text: fakesnow runs an RTRIM of anything else as a TRIM of
    spaces, which left `10:00:00.` where Snowflake writes `10:00:00`. -#}
{% macro _sluice_fraction_trimmed(text) -%}
  {%- set s = dbt.type_string() -%}
  rtrim(cast(rtrim(cast({{ text }} as {{ s }}), '0') as {{ s }}), '.')
{%- endmacro %}


{#- One key value as JSON text (never NULL). -#}
{% macro _sluice_key_part(expr, kind) -%}
  {%- if kind in ('number', 'boolean') -%}
  coalesce({{ sluice._sluice_value_text(expr, kind) }}, 'null')
  {%- else -%}
  coalesce({{ sluice.json_text(sluice._sluice_value_text(expr, kind)) }}, 'null')
  {%- endif -%}
{%- endmacro %}


{#- A row's values as one text that identifies the row: `"column":"value",` for each column whose
    value is not NULL, the columns in the order of their lower-case names, each value as text
    (sluice._sluice_value_text: equal numbers, days and instants have one text whatever their
    type; a number and the same number written as text are one value). A column changing type,
    a column added (NULL on the row) or the columns reordered leave it as it is. `columns` is a
    list of (quoted column, kind, name). -#}
{% macro _sluice_row_values_sql(columns, alias) -%}
  {%- set pieces = [] -%}
  {%- for quoted, kind, name in columns | sort(attribute=2) -%}
    {%- set col = alias ~ '.' ~ quoted -%}
    {%- do pieces.append("(case when " ~ col ~ " is null then '' else '" ~ sluice.escape_string(tojson(name | lower) ~ ':') ~ "' || " ~ sluice.json_text(sluice._sluice_value_text(col, kind)) ~ " || ',' end)") -%}
  {%- endfor -%}
  ({{ pieces | join(' || ') if pieces else "''" }})
{%- endmacro %}


{#- The record key of a row: `keys` is a list of (quoted column, kind); `row_values` the row's
    values (sluice._sluice_row_values_sql, used only when a key part is NULL). -#}
{% macro _sluice_record_key_expr(keys, alias, row_values=none) -%}
  {%- set parts = ["'['"] -%}
  {%- for quoted, kind in keys -%}
    {%- if not loop.first -%}{%- do parts.append("','") -%}{%- endif -%}
    {%- do parts.append(sluice._sluice_key_part(alias ~ '.' ~ quoted, kind)) -%}
  {%- endfor -%}
  {%- do parts.append("']'") -%}
  {%- if row_values is not none -%}
    {%- do parts.append("(case when " ~ sluice._sluice_any_null_sql(keys, alias) ~ " then " ~ dbt.concat(["'#v'", dbt.hash(row_values)]) ~ " else '' end)") -%}
  {%- endif -%}
  {{ dbt.concat(parts) }}
{%- endmacro %}


{% macro _sluice_any_null_sql(keys, alias) -%}
  ({% for quoted, kind in keys %}{{ alias }}.{{ quoted }} is null{{ " or " if not loop.last }}{% endfor %})
{%- endmacro %}
