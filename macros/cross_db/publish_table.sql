{#- A table build's publication: the audited batch takes the published relation's place.
    DuckDB and PostgreSQL: renames inside the model's transaction (the old relation to the backup
    name, dropped after the commit; the batch to the model's name). Snowflake, where each DDL
    statement commits on its own: one atomic statement, ALTER TABLE <batch> SWAP WITH <model>
    (https://docs.snowflake.com/en/sql-reference/sql/alter-table: the two tables are renamed
    in a single transaction), then the batch's name, now holding the old rows, is dropped; a
    first build renames the batch. Readers see the old table or the new one, never none (except
    when the model was a view before: a view cannot be swapped, it is dropped first). -#}
{% macro publish_table(batch, target, existing, backup) %}
  {{ return(adapter.dispatch('publish_table', 'sluice')(batch, target, existing, backup)) }}
{% endmacro %}

{% macro default__publish_table(batch, target, existing, backup) %}
  {%- if existing is not none -%}
    {{ adapter.rename_relation(existing, backup) }}
  {%- endif -%}
  {{ adapter.rename_relation(batch, target) }}
{% endmacro %}

{% macro snowflake__publish_table(batch, target, existing, backup) %}
  {%- if existing is none -%}
    {{ adapter.rename_relation(batch, target) }}
    {{ return('') }}
  {%- endif -%}
  {%- if not existing.is_table -%}
    {#- SWAP WITH takes two tables: a view the model was before (a project adopting sluice) is
        dropped and the batch renamed, the one build where readers can find no relation -#}
    {{ adapter.drop_relation(existing) }}
    {{ adapter.rename_relation(batch, target) }}
    {{ return('') }}
  {%- endif -%}
  {% call statement('sluice_publish') -%}
    alter table {{ batch }} swap with {{ target }}
  {%- endcall %}
  {% call statement('sluice_drop_swapped_out') -%}
    drop table if exists {{ batch }}
  {%- endcall %}
{% endmacro %}
