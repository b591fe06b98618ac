{#- After the audit writes a scratch table, before anything reads it: the statement that gives
    the planner the table's statistics ('' where none is needed). PostgreSQL: `analyze`. Its
    autovacuum never sees a table created and read in one transaction, so without it the planner
    guesses the size of each scratch table, and the guesses chose nested loops over the
    quarantine's replayed exceptions (minutes for a status-events insert at 50,000 of them).
    ANALYZE reads a sample of at most 30,000 rows per table and may run inside the model's
    transaction. Elsewhere: DuckDB keeps exact counts of its tables, Snowflake's metadata has
    them. -#}
{% macro analyze_scratch_sql(relations) %}
  {{ return(adapter.dispatch('analyze_scratch_sql', 'sluice')(relations)) }}
{% endmacro %}

{% macro default__analyze_scratch_sql(relations) %}
  {{ return('') }}
{% endmacro %}

{% macro postgres__analyze_scratch_sql(relations) %}
  {%- set out = [] -%}
  {%- for relation in relations -%}{%- do out.append('analyze ' ~ relation) -%}{%- endfor -%}
  {{ return(out) }}
{% endmacro %}
