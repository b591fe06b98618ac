{#- After the audit writes a scratch table, before anything reads it: the statement that gives
    the planner the table's statistics ('' where none is needed). PostgreSQL: `analyze`. Its
    autovacuum never sees a table created and read in one transaction, so without it the planner
    guesses the size of each scratch table, and the guesses chose nested loops over the
    quarantine's replayed exceptions (minutes for a status-events insert at 50,000 of them).
    ANALYZE reads a sample of at most 30,000 rows per table and may run inside the model's
    transaction. With `columns` (the columns the audit joins and filters on), only those
    columns' statistics are computed: the wide ones (a row's JSON, messages) are not read into
    them, and the table's size is estimated either way. Elsewhere: DuckDB keeps exact counts of
    its tables, Snowflake's metadata has them. -#}
{% macro analyze_scratch_sql(relations, columns=none) %}
  {{ return(adapter.dispatch('analyze_scratch_sql', 'sluice')(relations, columns)) }}
{% endmacro %}

{% macro default__analyze_scratch_sql(relations, columns=none) %}
  {{ return('') }}
{% endmacro %}

{% macro postgres__analyze_scratch_sql(relations, columns=none) %}
  {%- set listed = (' (' ~ (columns | join(', ')) ~ ')') if columns else '' -%}
  {%- set out = [] -%}
  {%- for relation in relations -%}{%- do out.append('analyze ' ~ relation ~ listed) -%}{%- endfor -%}
  {{ return(out) }}
{% endmacro %}
