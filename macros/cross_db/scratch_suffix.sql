{#- The end of a scratch relation's name (`suffix`: `__sluice_rows`, `__dbt_tmp`, ...). Where
    builds of one model are serialized for their whole length (PostgreSQL's lock, DuckDB's one
    writer) the name is the model's own, and the next build drops what a killed one left.
    Snowflake serializes only the package's transaction (sluice.transaction_sql), so two builds
    of a model write their batches and create their scratch tables at once: each one's scratch
    names end with its invocation id. -#}
{% macro scratch_suffix(suffix) %}
  {{ return(adapter.dispatch('scratch_suffix', 'sluice')(suffix)) }}
{% endmacro %}

{% macro default__scratch_suffix(suffix) %}
  {{ return(suffix) }}
{% endmacro %}

{% macro snowflake__scratch_suffix(suffix) %}
  {{ return(suffix ~ '_' ~ (invocation_id | replace('-', ''))) }}
{% endmacro %}
