{#- A table build's publication: the audited batch takes the published relation's place.
    DuckDB and PostgreSQL: renames inside the model's transaction (the old relation to the backup
    name, dropped after the commit; the batch to the model's name). Snowflake, where each DDL
    statement commits on its own: one atomic statement, ALTER TABLE <batch> SWAP WITH <model>
    (https://docs.snowflake.com/en/sql-reference/sql/alter-table: the two tables are renamed
    in a single transaction), then the batch's name, now holding the old rows, is dropped. A
    first build swaps too, with an empty table of the batch's columns it creates if no other
    build has created the model's table since this one looked (`create table if not exists`):
    two first builds of a model at once both publish, one after the other, where renaming the
    batch failed in the second one (the name taken). Readers see the old table or the new one,
    never none (except when the model was a view before: a view cannot be swapped, it is
    dropped first). -#}
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
    {% call statement('sluice_publish_first') -%}
      create table if not exists {{ target }} as select * from {{ batch }} where 1 = 0
    {%- endcall %}
  {%- elif not existing.is_table -%}
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
