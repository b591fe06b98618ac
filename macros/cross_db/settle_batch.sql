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
