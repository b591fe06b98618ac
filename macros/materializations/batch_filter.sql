{#- For incremental sluice models: the batch condition, widened to the source rows of the
    model's open exceptions, so that each incremental build replays them (re-reads only those
    rows, not the whole source). Use it inside `{% if sluice.is_incremental() %}`:

        where {{ sluice.batch_filter("loaded_at > (select max(loaded_at) from " ~ this ~ ")") }}
-#}
{% macro batch_filter(condition) %}
  {{ return(adapter.dispatch('batch_filter', 'sluice')(condition)) }}
{% endmacro %}

{% macro default__batch_filter(condition) %}
  {%- if not execute -%}{{ return('(' ~ condition ~ ')') }}{%- endif -%}
  {%- set meta = sluice._sluice_model_meta() -%}
  {%- set key = meta.get('key') -%}
  {%- if key is string -%}{%- set key = [key] -%}{%- endif -%}
  {%- set q = sluice._sluice_quarantine_relation() -%}
  {%- if not key or adapter.get_relation(database=q.database, schema=q.schema, identifier=q.identifier) is none -%}
    {{ return('(' ~ condition ~ ')') }}
  {%- endif -%}
  {#- The open records' keys, decoded here and written as literals: the source is compared with
      the few open keys in its own types, never re-encoded row by row. -#}
  {%- set open_keys -%}
    select distinct record_key from {{ q }}
    where status = 'open' and model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
  {%- endset -%}
  {%- set tuples = [] -%}
  {%- for row in run_query(open_keys).rows -%}
    {%- set values = sluice._sluice_decode_record_key(row[0], key | length) -%}
    {%- if values is not none -%}
      {%- set literals = [] -%}
      {%- for v in values -%}{%- do literals.append("'" ~ dbt.escape_single_quotes(v) ~ "'") -%}{%- endfor -%}
      {%- do tuples.append(literals[0] if key | length == 1 else '(' ~ (literals | join(', ')) ~ ')') -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if tuples | length == 0 -%}{{ return('(' ~ condition ~ ')') }}{%- endif -%}
  {%- set lhs = key[0] if key | length == 1 else '(' ~ (key | join(', ')) ~ ')' -%}
  {{ return("((" ~ condition ~ ") or " ~ lhs ~ " in (" ~ (tuples | join(', ')) ~ "))") }}
{% endmacro %}


{#- The key values of a record key as text, or none for a record with a NULL key part (it has
    no key to look up). Reads 0.1.0's 'a|b' keys too. -#}
{% macro _sluice_decode_record_key(record_key, n) %}
  {%- if record_key is none -%}{{ return(none) }}{%- endif -%}
  {%- if record_key.startswith('[') -%}
    {%- if '#' in record_key and not record_key.endswith(']') -%}{{ return(none) }}{%- endif -%}
    {%- set values = fromjson(record_key) -%}
  {%- else -%}
    {%- set values = record_key.split('|') if n > 1 else [record_key] -%}
  {%- endif -%}
  {%- if values | length != n -%}{{ return(none) }}{%- endif -%}
  {%- set out = [] -%}
  {%- for v in values -%}
    {%- if v is none -%}{{ return(none) }}{%- endif -%}
    {%- do out.append(('true' if v else 'false') if v is boolean else (v | string)) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}
