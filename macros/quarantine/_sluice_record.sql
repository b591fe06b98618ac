{#- Writing the record: quarantine upsert (one row per record and rule, attempt count incremented
    once per invocation), recovery of exceptions that no longer fail, and the run log. -#}

{% macro _sluice_upsert_exceptions(quarantine, exc_rel) %}
  {%- set cols = sluice._sluice_quarantine_columns() | map(attribute=0) | list -%}
  {%- set refreshed = ['rule_name', 'error_class', 'severity', 'route', 'owner', 'source_system', 'target_system', 'message', 'failed_column', 'failed_value', 'row_json', 'last_seen_at', 'invocation_id'] -%}
  {% call statement('sluice_update_exceptions') -%}
    update {{ quarantine }} as q set
      {%- for c in refreshed %}
      {{ c }} = n.{{ c }},
      {%- endfor %}
      attempt_count = q.attempt_count + (case when q.invocation_id = n.invocation_id then 0 else 1 end),
      status_changed_at = (case when q.status = 'open' then q.status_changed_at else n.status_changed_at end),
      status_invocation_id = (case when q.status = 'open' then q.status_invocation_id else n.status_invocation_id end),
      status = 'open'
    from {{ exc_rel }} as n
    where q.exception_id = n.exception_id
      and q.status in ('open', 'recovered')
  {%- endcall %}
  {% call statement('sluice_insert_exceptions') -%}
    insert into {{ quarantine }} ({{ cols | join(', ') }})
    select {% for c in cols %}n.{{ c }}{{ ", " if not loop.last }}{% endfor %}
    from {{ exc_rel }} as n
    where not exists (select 1 from {{ quarantine }} as q where q.exception_id = n.exception_id)
  {%- endcall %}
{% endmacro %}


{#- Open exceptions of this model that were evaluated and no longer fail become `recovered`.
    For incremental builds only the records in this batch were evaluated. -#}
{% macro _sluice_recover_exceptions(spec, quarantine, exc_rel, batch=none) %}
  {%- set now = "cast(" ~ dbt.current_timestamp() ~ " as " ~ dbt.type_timestamp() ~ ")" -%}
  {% call statement('sluice_recover_exceptions') -%}
    update {{ quarantine }} set
      status = 'recovered',
      status_changed_at = {{ now }},
      status_invocation_id = {{ sluice._sluice_lit(invocation_id) }}
    where model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
      and status = 'open'
      and not exists (select 1 from {{ exc_rel }} as n where n.exception_id = {{ quarantine }}.exception_id)
      {%- if batch is not none %}
      and record_key in (
        select {{ sluice._sluice_record_key_sql(spec, 'b') }}
        from (select {% for k in spec.key_sql %}{{ k }} as _sluice_k{{ loop.index0 }}{{ ", " if not loop.last }}{% endfor %} from {{ batch }}) as b
      )
      {%- endif %}
  {%- endcall %}
{% endmacro %}


{% macro _sluice_log_run(spec, runs, quarantine, mode, stats, gate_status, gate_message, rule_counts) %}
  {%- set counts = [] -%}
  {%- for r in spec.rules -%}
    {%- do counts.append({'rule_name': r.name, 'error_class': r.error_class, 'severity': r.severity, 'route': r.route, 'rows': rule_counts[r.name]}) -%}
  {%- endfor -%}
  {%- set now = "cast(" ~ dbt.current_timestamp() ~ " as " ~ dbt.type_timestamp() ~ ")" -%}
  {%- set bi = dbt.type_bigint() -%}
  {% call statement('sluice_log_run') -%}
    insert into {{ runs }} ({{ sluice._sluice_runs_columns() | map(attribute=0) | join(', ') }})
    select
      {{ sluice._sluice_lit(invocation_id) }},
      {{ sluice._sluice_lit(model.unique_id) }},
      {{ sluice._sluice_lit(spec.model_name) }},
      {{ sluice._sluice_lit(this.render()) }},
      {{ sluice._sluice_lit(quarantine.render()) }},
      {{ sluice._sluice_lit(mode) }},
      cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }}),
      {{ now }},
      cast({{ stats.rows_in }} as {{ bi }}),
      cast({{ stats.rows_published }} as {{ bi }}),
      cast({{ stats.rows_held }} as {{ bi }}),
      cast({{ stats.rows_flagged }} as {{ bi }}),
      {{ sluice._sluice_lit(gate_status) }},
      {{ sluice._sluice_lit(gate_message) }},
      {{ sluice._sluice_lit(tojson(counts)) }}
    where not exists (
      select 1 from {{ runs }}
      where invocation_id = {{ sluice._sluice_lit(invocation_id) }}
        and model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
    )
  {%- endcall %}
{% endmacro %}
