{#- A one-time override of a model's gate (sluice review override MODEL): a decision row
    (decision `override`, no exception, the model's id). The next build of the model that finds
    it accepted by the approval policy publishes despite its gate: the rows its rules hold stay
    in the quarantine, its load state is `overridden`. That build spends it, whether its gate
    held or passed: it appends an `applied` row for it to sluice_decision_approvals (sealed with
    the build's other records), and the build after publishes only if its own gate passes. -#}


{#- What an override of this model needs: of the policy entries that cover a failure of each
    of its rules (the first per rule, as for an exception), the strictest: the most approvers,
    then the one that does not count the requester, then the first. None: one approver, the
    requester. The sidecar's review.policy.policy_for_model is the same rule. -#}
{% macro _sluice_override_entry(spec) %}
  {%- set ns = namespace(entry={'name': 'default', 'approvers': 1, 'self_approval': true}) -%}
  {%- set entries = sluice._sluice_approval_policy() -%}
  {%- for r in spec.rules -%}
    {%- set found = namespace(entry=none) -%}
    {%- for e in entries -%}
      {%- set m = e.match -%}
      {%- if found.entry is none
          and (m.get('model') is none or model.name in m.model or model.unique_id in m.model)
          and (m.get('severity') is none or r.severity in m.severity)
          and (m.get('rule') is none or r.name in m.rule)
          and (m.get('route') is none or r.route in m.route) -%}
        {%- set found.entry = e -%}
      {%- endif -%}
    {%- endfor -%}
    {%- set e = found.entry if found.entry is not none else {'name': 'default', 'approvers': 1, 'self_approval': true} -%}
    {%- if e.approvers > ns.entry.approvers or (e.approvers == ns.entry.approvers and not e.self_approval and ns.entry.self_approval) -%}
      {%- set ns.entry = e -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(ns.entry) }}
{% endmacro %}


{#- The model's overrides the policy accepts now and no build spent or anyone withdrew, the
    latest first: a list of mappings (decision_id, decided_by, reason). -#}
{% macro _sluice_accepted_overrides(spec, decisions) %}
  {%- set approvals = sluice._sluice_bookkeeping_relation('approvals_table') -%}
  {%- set mid = sluice._sluice_lit(model.unique_id) -%}
  {%- set entry = sluice._sluice_override_entry(spec) -%}
  {%- set sql -%}
    select d.decision_id, d.decided_by, d.reason
    from {{ decisions }} as d
    left join (
      select a.decision_id,
        count(distinct case when a.action = 'approve' and a.authenticated_user <> coalesce(r.authenticated_user, '') then a.authenticated_user end) as approvers,
        sum(case when a.action in ('withdraw', 'applied') then 1 else 0 end) as closed
      from {{ approvals }} as a
      join {{ decisions }} as r on r.decision_id = a.decision_id
      where r.model_unique_id = {{ mid }} and r.decision = 'override'
      group by a.decision_id
    ) as a on a.decision_id = d.decision_id
    where d.model_unique_id = {{ mid }} and d.decision = 'override'
      and coalesce(trim(d.decided_by), '') <> ''
      and coalesce(trim(d.reason), '') <> ''
      and d.decided_at is not null
      and coalesce(a.closed, 0) = 0
      and coalesce(a.approvers, 0) + {{ 1 if entry.self_approval else 0 }} >= {{ entry.approvers }}
    order by d.decided_at desc, d.decision_id desc
  {%- endset -%}
  {%- set out = [] -%}
  {%- for row in run_query(sql).rows -%}
    {%- do out.append({'decision_id': row[0], 'decided_by': row[1], 'reason': row[2]}) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}


{#- The gate's message when an override publishes despite it. -#}
{% macro _sluice_override_message(override, gate_message) %}
  {{ return("sluice gate overridden by decision " ~ override.decision_id ~ " (" ~ override.decided_by ~ ": " ~ override.reason ~ "); published despite: " ~ gate_message) }}
{% endmacro %}


{#- The statement that spends the overrides: one `applied` row each, keyed on the decision, so
    a rerun adds nothing. `note`: what the build did with it. -#}
{% macro _sluice_spend_overrides_sql(overrides, decisions, note) %}
  {%- set approvals = sluice._sluice_bookkeeping_relation('approvals_table') -%}
  {%- set s = dbt.type_string() -%}
  {%- set ids = [] -%}
  {%- for o in overrides -%}{%- do ids.append(sluice._sluice_lit(o.decision_id)) -%}{%- endfor -%}
  {%- set applied_id = dbt.hash(dbt.concat(["d.decision_id", "'|applied'"])) -%}
  {%- set _sql0 -%}
    insert into {{ approvals }} ({{ sluice._sluice_approvals_columns() | map(attribute=0) | join(', ') }})
    select {{ applied_id }}, d.decision_id, d.model_unique_id, 'applied', 'sluice', {{ sluice.utc_now() }},
      {{ sluice._sluice_lit("invocation " ~ invocation_id ~ ": " ~ note) }},
      cast(null as {{ s }}), cast(null as {{ s }}), 'build'
    from {{ decisions }} as d
    where d.decision_id in ({{ ids | join(', ') }})
      and d.model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
      and not exists (select 1 from {{ approvals }} as x where x.approval_id = {{ applied_id }})
  {%- endset -%}
  {{ return(_sql0) }}
{% endmacro %}
