{#- After the batch of a table build is written, before it is audited. DuckDB commits it on its
    own: a table created and then deleted from in one DuckDB transaction is written again, row
    by row, at commit (a large create is otherwise written once, as it is built), which doubled
    the cost of a build that holds rows. The batch is scratch under the intermediate name: nothing
    is published or recorded by this commit, and the next build drops a batch a killed build left
    behind. Elsewhere the batch stays in the model's one transaction. -#}
{% macro settle_batch(batch) %}
  {{ return(adapter.dispatch('settle_batch', 'sluice')(batch)) }}
{% endmacro %}

{% macro default__settle_batch(batch) %}
{% endmacro %}

{% macro duckdb__settle_batch(batch) %}
  {%- do adapter.commit() -%}
{% endmacro %}


{#- Settings for the rest of the model's transaction, once the model's own SQL has run: SQL the
    audit's first statement begins with ('' for none). PostgreSQL:
    - no JIT compilation. The audit's statements read the batch once or touch a few thousand
      rows, but scratch tables have no statistics when they are read, so the planner's estimates
      pass the JIT threshold and compiling took over a second per statement (more than the
      statement itself);
    - no nested-loop joins. The package's tables have no indexes, so a nested loop rescans its
      inner table once per outer row. A quarantine just filled has no statistics until autovacuum
      reaches it, the planner then expects one open exception where there are 20,000, and the
      replay's recovery update and status events took minutes instead of milliseconds. Hash
      joins cost the same when the guess is right.
    `set local` ends with the transaction; the model's SQL ran before it, with the server's
    settings. -#}
{% macro audit_settings_sql() %}
  {{ return(adapter.dispatch('audit_settings_sql', 'sluice')()) }}
{% endmacro %}

{% macro default__audit_settings_sql() %}
  {{ return('') }}
{% endmacro %}

{% macro postgres__audit_settings_sql() %}
  {{ return('set local jit = off; set local enable_nestloop = off;') }}
{% endmacro %}
