{#- For incremental sluice models: the batch condition, widened to the source rows of the
    model's open and dead-lettered exceptions, so that each incremental build replays them
    (re-reads only those rows, not the whole source): a row fixed at the source in place is
    published and its exception recovered, as in a table build. A dead letter still failing is
    held again and counts no attempt. Use it inside `{% if sluice.is_incremental() %}`:

        where {{ sluice.batch_filter("loaded_at > (select max(loaded_at) from " ~ this ~ ")") }}

    The records are read through the quarantine itself, in the statement: their keys are decoded
    from the record keys and cast to the key columns' types in the published relation, so the
    source is compared with them in its own types (a semi-join), never re-encoded row by row,
    and the statement is the same size whatever the number of open exceptions. The key names in
    the condition are the model's key columns, as the source names them. -#}
{% macro batch_filter(condition) %}
  {{ return(adapter.dispatch('batch_filter', 'sluice')(condition)) }}
{% endmacro %}

{% macro default__batch_filter(condition) %}
  {%- set replay = sluice._sluice_replay_keys() -%}
  {%- if replay is none -%}{{ return('(' ~ condition ~ ')') }}{%- endif -%}
  {%- set lhs = replay.key[0] if replay.key | length == 1 else '(' ~ (replay.key | join(', ')) ~ ')' -%}
  {{ return("((" ~ condition ~ ") or " ~ lhs ~ " in (" ~ replay.sql ~ "))") }}
{% endmacro %}

{#- Snowflake allows no IN (or ANY, or correlated EXISTS) subquery as an argument of OR; a
    correlated scalar subquery that returns one row (an aggregate) is allowed in WHERE. -#}
{% macro snowflake__batch_filter(condition) %}
  {%- set replay = sluice._sluice_replay_keys() -%}
  {%- if replay is none -%}{{ return('(' ~ condition ~ ')') }}{%- endif -%}
  {%- set matches = [] -%}
  {%- for k in replay.key -%}{%- do matches.append('r._sluice_k' ~ loop.index0 ~ ' = ' ~ k) -%}{%- endfor -%}
  {{ return("((" ~ condition ~ ") or (select count(*) from (" ~ replay.sql ~ ") as r where " ~ (matches | join(' and ')) ~ ") > 0)") }}
{% endmacro %}


{#- The replay's parts, or none when there is nothing to replay from: `key` (the key columns)
    and `sql`, a query of the open and dead-lettered records' keys, one typed column
    `_sluice_k<i>` per key column (records with a NULL key part have no key to look up), once
    per exception: the callers only ask whether a key is among them, so nothing deduplicates. -#}
{% macro _sluice_replay_keys() %}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set meta = sluice._sluice_model_meta() -%}
  {%- set key = meta.get('key') -%}
  {%- if key is string -%}{%- set key = [key] -%}{%- endif -%}
  {%- set q = sluice._sluice_quarantine_relation() -%}
  {%- if not key or adapter.get_relation(database=q.database, schema=q.schema, identifier=q.identifier) is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set types = {} -%}
  {%- for column in adapter.get_columns_in_relation(this) -%}
    {%- do types.update({column.name | lower: column.data_type}) -%}
  {%- endfor -%}
  {#- a key column the published relation lacks: its records cannot be this model's any more -#}
  {%- for k in key if (k | lower) not in types -%}{{ return(none) }}{%- endfor -%}
  {%- set n = key | length -%}
  {%- set mid = sluice._sluice_lit(model.unique_id) -%}
  {%- set json_parts = [] -%}
  {%- set legacy_parts = [] -%}
  {%- for k in key -%}
    {%- set data_type = types[k | lower] -%}
    {%- if n == 1 and sluice._sluice_key_kind(data_type) == 'number' -%}
      {#- a number's text exactly as it was encoded, whatever its digits -#}
      {%- set text = "substr(record_key, 2, " ~ dbt.length('record_key') ~ " - 2)" -%}
    {%- else -%}
      {%- set text = sluice.json_array_text('record_key', loop.index0) -%}
    {%- endif -%}
    {%- do json_parts.append(dbt.safe_cast(text, data_type) ~ ' as _sluice_k' ~ loop.index0) -%}
    {#- a record still keyed as 0.1.0 keyed it ('a|b', NULL as ''), until its model's next build
        upgrades it -#}
    {%- set legacy = 'record_key' if n == 1 else dbt.split_part('record_key', "'|'", loop.index) -%}
    {%- do legacy_parts.append(dbt.safe_cast("nullif(" ~ legacy ~ ", '')", data_type) ~ ' as _sluice_k' ~ loop.index0) -%}
  {%- endfor -%}
  {%- set sql -%}
    select {{ json_parts | join(', ') }} from {{ q }}
    where model_unique_id = {{ mid }} and status in ('open', 'dead_letter') and record_key like '[%]'
    union all
    select {{ legacy_parts | join(', ') }} from {{ q }}
    where model_unique_id = {{ mid }} and status in ('open', 'dead_letter') and record_key not like '[%'
      and record_key not like '{{ sluice._sluice_redaction_prefix() }}%'
  {%- endset -%}
  {{ return({'key': key, 'sql': sql}) }}
{% endmacro %}
