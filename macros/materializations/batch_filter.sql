{#- For incremental sluice models: the batch condition, widened to the source rows of the
    model's open and dead-lettered exceptions, so that each incremental build replays them
    (re-reads only those rows, not the whole source): a row fixed at the source in place is
    published and its exception recovered, as in a table build. A dead letter still failing is
    held again and counts no attempt. Use it inside `{% if sluice.is_incremental() %}`:

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
  {#- The open and dead-lettered records' keys, decoded here and written as literals: the source
      is compared with those keys in its own types, never re-encoded row by row. The keys come
      back as one JSON list (one fromjson, no macro call per key: thousands of keys cost
      milliseconds), plus any key still in 0.1.0's 'a|b' form on a row of its own. A key with a
      NULL part has no key to look up. -#}
  {%- set open_keys -%}
    select 'json' as form, {{ dbt.listagg('k.record_key', "','") }} as record_keys
    from (
      select distinct record_key from {{ q }}
      where status in ('open', 'dead_letter') and model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
        and record_key like '[%]'
    ) as k
    union all
    select distinct 'legacy' as form, record_key from {{ q }}
    where status in ('open', 'dead_letter') and model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
      and record_key not like '[%'
  {%- endset -%}
  {%- set decoded = [] -%}
  {%- for row in run_query(open_keys).rows if row[1] is not none -%}
    {%- if row[0] == 'json' -%}
      {%- do decoded.extend(fromjson('[' ~ row[1] ~ ']')) -%}
    {%- else -%}
      {%- do decoded.append(row[1].split('|') if key | length > 1 else [row[1]]) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set texts = [] -%}
  {%- for values in decoded if values | length == key | length and none not in values -%}
    {%- for v in values -%}
      {%- do texts.append(('true' if v else 'false') if v is boolean else (v | string)) -%}
    {%- endfor -%}
  {%- endfor -%}
  {#- escaped in one call when a separator occurs in no value; one call per value otherwise -#}
  {%- set sep = '~|sluice|~' -%}
  {%- set joined = texts | join(sep) -%}
  {%- if texts and joined.count(sep) == texts | length - 1 -%}
    {%- set escaped = sluice.escape_string(joined).split(sep) -%}
  {%- else -%}
    {%- set escaped = [] -%}
    {%- for t in texts -%}{%- do escaped.append(sluice.escape_string(t)) -%}{%- endfor -%}
  {%- endif -%}
  {%- set n = key | length -%}
  {%- set tuples = [] -%}
  {%- for i in range(0, escaped | length, n) -%}
    {%- set literals = [] -%}
    {%- for v in escaped[i:i + n] -%}{%- do literals.append("'" ~ v ~ "'") -%}{%- endfor -%}
    {%- do tuples.append(literals[0] if n == 1 else '(' ~ (literals | join(', ')) ~ ')') -%}
  {%- endfor -%}
  {%- if tuples | length == 0 -%}{{ return('(' ~ condition ~ ')') }}{%- endif -%}
  {%- set lhs = key[0] if key | length == 1 else '(' ~ (key | join(', ')) ~ ')' -%}
  {{ return("((" ~ condition ~ ") or " ~ lhs ~ " in (" ~ (tuples | join(', ')) ~ "))") }}
{% endmacro %}
