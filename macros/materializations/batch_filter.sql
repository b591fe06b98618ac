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
  {%- set open_keys = "select record_key from " ~ q ~ " where status = 'open' and model_unique_id = '" ~ model.unique_id ~ "'" -%}
  {%- if key | length == 1 -%}
    {#- one key column: compare in its own type, casting the few open keys, not every source row -#}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- set ns = namespace(data_type=none) -%}
    {%- if existing is not none -%}
      {%- for c in adapter.get_columns_in_relation(existing) if c.name | lower == key[0] | lower -%}
        {%- set ns.data_type = c.data_type -%}
      {%- endfor -%}
    {%- endif -%}
    {%- if ns.data_type -%}
      {{ return("((" ~ condition ~ ") or " ~ key[0] ~ " in (select cast(record_key as " ~ ns.data_type ~ ") from (" ~ open_keys ~ ") as o where record_key <> ''))") }}
    {%- endif -%}
  {%- endif -%}
  {%- set key_expr = sluice._sluice_key_text(key) -%}
  {{ return("((" ~ condition ~ ") or " ~ key_expr ~ " in (" ~ open_keys ~ "))") }}
{% endmacro %}
