{#- Each exception's statuses as spells, from the history's `status` events: the status it moved
    to, when (started_at), and when it next moved (ended_at; null while it holds). -#}
{% macro _sluice_status_spells_sql(events) %}
  {{ return(
    "select e.exception_id, e.model_unique_id, e.rule_name, e.to_status, e.event_at as started_at, "
    ~ "lead(e.event_at) over (partition by e.exception_id order by e.event_at) as ended_at "
    ~ "from " ~ events ~ " as e where coalesce(e.event_type, 'status') = 'status'"
  ) }}
{% endmacro %}
