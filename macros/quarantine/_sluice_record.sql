{#- Writing the record: quarantine upsert (one row per record and rule, attempt count incremented
    once per invocation), recovery of exceptions that no longer fail, and the run log. -#}

{#- Each rule's value of a per-rule setting, for the exception's rule (`column`): one literal when
    every rule has the same value, else a CASE over the rule name (evaluated for every exception,
    several times per statement). -#}
{% macro _sluice_per_rule(spec, attr, column='n.rule_name') -%}
  {%- set bi = dbt.type_bigint() -%}
  {%- set values = spec.rules | map(attribute=attr) | unique | list -%}
  {%- if values | length == 1 -%}
  cast({{ values[0] if values[0] is not none else 'null' }} as {{ bi }})
  {%- else -%}
  case {{ column }} {% for r in spec.rules %}when {{ sluice._sluice_lit(r.name) }} then cast({{ r[attr] if r[attr] is not none else 'null' }} as {{ bi }}) {% endfor %}else cast(null as {{ bi }}) end
  {%- endif -%}
{%- endmacro %}


{#- The upsert. An attempt is counted once per invocation, and at most once per attempt interval
    (the k-th attempt counts once k-1 intervals have passed since the exception opened; interval
    0: once per build). An exception goes to dead_letter at the attempt limit or, with
    dead_letter_after, once it has been open that long. Routes `flag` (the row is published) and
    `deduplicate` (a set-aside copy) never go to dead_letter, and set-aside copies count no
    attempts. -#}
{% macro _sluice_upsert_exceptions_sql(spec, quarantine, exc_rel) %}
  {%- set cols = sluice._sluice_quarantine_columns() | map(attribute=0) | list -%}
  {%- set refreshed = ['rule_name', 'error_class', 'severity', 'route', 'owner', 'source_system', 'target_system', 'message', 'failed_column', 'failed_value', 'row_json', 'last_seen_at', 'invocation_id'] -%}
  {%- set now = sluice.utc_now() -%}
  {%- set interval = sluice._sluice_per_rule(spec, 'attempt_interval_s') -%}
  {%- set after = sluice._sluice_per_rule(spec, 'dead_letter_after_s') -%}
  {%- set counted -%}
    (n.route <> 'deduplicate' and (q.status <> 'open' or (q.invocation_id <> n.invocation_id
      and {{ now }} >= {{ dbt.dateadd('second', 'q.attempt_count * coalesce(' ~ interval ~ ', 0)', 'q.status_changed_at') }})))
  {%- endset -%}
  {%- set attempts = "q.attempt_count + (case when " ~ counted ~ " then 1 else 0 end)" -%}
  {%- set dead -%}
    (n.route not in ('flag', 'deduplicate') and ({{ attempts }} >= {{ sluice._sluice_per_rule(spec, 'max_attempts') }}
      or ({{ after }} is not null and {{ now }} >= {{ dbt.dateadd('second', after, 'q.first_seen_at') }})))
  {%- endset -%}
  {%- set _sql0 -%}
    update {{ quarantine }} as q set
      {%- for c in refreshed %}
      {{ c }} = n.{{ c }},
      {%- endfor %}
      attempt_count = {{ attempts }},
      status_changed_at = (case when q.status = 'open' and not {{ dead }} then q.status_changed_at else n.status_changed_at end),
      status_invocation_id = (case when q.status = 'open' and not {{ dead }} then q.status_invocation_id else n.status_invocation_id end),
      status = (case when {{ dead }} then 'dead_letter' else 'open' end)
    from {{ exc_rel }} as n
    where q.exception_id = n.exception_id
      and q.status in ('open', 'recovered', 'withdrawn')
  {%- endset -%}
  {%- set _sql1 -%}
    insert into {{ quarantine }} ({{ cols | join(', ') }})
    select {% for c in cols %}{{ "(case when n.route not in ('flag', 'deduplicate') and " ~ sluice._sluice_per_rule(spec, 'max_attempts') ~ " <= 1 then 'dead_letter' else 'open' end)" if c == 'status' else 'n.' ~ c }}{{ ", " if not loop.last }}{% endfor %}
    from {{ exc_rel }} as n
    where n._sluice_status is null
  {%- endset -%}
  {{ return([_sql0, _sql1]) }}
{% endmacro %}


{#- The latest decision per exception that names its author and its reason and was not
    withdrawn; others are refused. `approvers`: how many distinct identities other than the
    requester's approved it (sluice review approve), for the approval policy to judge. -#}
{% macro _sluice_latest_decisions_sql(decisions) %}
  {%- set approvals = sluice._sluice_bookkeeping_relation('approvals_table') -%}
  select exception_id, model_unique_id, decision, decided_by, decided_at, reason, approvers
  from (
    select d.*, coalesce(a.approvers, 0) as approvers,
      row_number() over (partition by d.exception_id order by d.decided_at desc, d.decision_id desc) as _sluice_rn
    from {{ decisions }} as d
    left join (
      select a.decision_id,
        count(distinct case when a.action = 'approve' and a.authenticated_user <> coalesce(r.authenticated_user, '') then a.authenticated_user end) as approvers,
        sum(case when a.action = 'withdraw' then 1 else 0 end) as withdrawals
      from {{ approvals }} as a
      join {{ decisions }} as r on r.decision_id = a.decision_id
      group by a.decision_id
    ) as a on a.decision_id = d.decision_id
    where d.decision in ('release', 'reject', 'retry')
      and coalesce(trim(d.decided_by), '') <> ''
      and coalesce(trim(d.reason), '') <> ''
      and d.decided_at is not null
      and coalesce(a.withdrawals, 0) = 0
  ) as x
  where _sluice_rn = 1
{% endmacro %}


{#- Reviewers' decisions made since the exception last changed: release (published as it is),
    reject (kept out for good), retry (re-opened with its attempts reset). Two statements: each
    decision about to apply is first recorded as a `decided` event (by the reviewer, at the time
    decided, from the status it found to the status it sets), then applied. Recorded here, where
    it applies, the event does not depend on what the rest of the build makes of the exception: a
    retry whose row now passes, has left the source or is at the limit at once keeps its
    `decided` event beside the `status` event of its effect. -#}
{% macro _sluice_apply_decisions_sql(quarantine, decisions) %}
  {%- set now = sluice.utc_now() -%}
  {%- set inv = sluice._sluice_lit(invocation_id) -%}
  {%- set events = sluice._sluice_bookkeeping_relation('events_table') -%}
  {%- set decided_status = "(case d.decision when 'release' then 'released' when 'reject' then 'rejected' else 'open' end)" -%}
  {%- set applies -%}
    q.exception_id = d.exception_id
      and q.model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
      and d.model_unique_id = q.model_unique_id
      and d.decided_at > q.status_changed_at
      and ((d.decision in ('release', 'reject') and q.status = 'open')
        or (d.decision = 'retry' and q.status in ('dead_letter', 'rejected', 'released')))
      and {{ sluice._sluice_policy_accepts_sql('q', 'd') }}
  {%- endset -%}
  {%- set decided_id = dbt.hash(dbt.concat(["q.exception_id", "'|decided|'", "cast(d.decided_at as " ~ dbt.type_string() ~ ")", "'|'", "d.decision"])) -%}
  {%- set _sql0 -%}
    insert into {{ events }} ({{ sluice._sluice_events_columns() | map(attribute=0) | join(', ') }})
    select
      {{ decided_id }}, q.exception_id, q.model_name, q.model_unique_id, {{ sluice._sluice_redaction_sql('q.record_key') }}, q.record_copy,
      q.rule_name, q.error_class, q.severity, q.route, q.owner,
      q.status, {{ decided_status }}, (case when d.decision = 'retry' then 0 else q.attempt_count end), {{ inv }},
      d.decided_at, d.decided_by, d.reason, 'decided', cast(null as {{ dbt.type_timestamp() }})
    from {{ quarantine }} as q
    join ({{ sluice._sluice_latest_decisions_sql(decisions) }}) as d on {{ applies }}
    where not exists (select 1 from {{ events }} as e where e.event_id = {{ decided_id }})
  {%- endset -%}
  {%- set _sql1 -%}
    update {{ quarantine }} as q set
      status = {{ decided_status }},
      attempt_count = (case when d.decision = 'retry' then 0 else q.attempt_count end),
      status_changed_at = {{ now }},
      status_invocation_id = {{ inv }}
    from ({{ sluice._sluice_latest_decisions_sql(decisions) }}) as d
    where {{ applies }}
  {%- endset -%}
  {#- A decision about this model's exception that names another model is refused: never applied,
      and recorded as a `refused` event (sealed with this build's events) naming the decision,
      its author and the model it named, so the evidence stays when the row is later removed. -#}
  {%- set refused_id = dbt.hash(dbt.concat(["q.exception_id", "'|refused|'", "d.decision_id"])) -%}
  {%- set refused_reason = dbt.concat([
    "'refused decision '", "coalesce(d.decision_id, '')", "' ('", "coalesce(d.decision, '')",
    "' by '", "coalesce(d.decided_by, '')", "'): it names '", "coalesce(d.model_unique_id, 'no model')",
    "', not the exception''s model'"]) -%}
  {%- set _sql2 -%}
    insert into {{ events }} ({{ sluice._sluice_events_columns() | map(attribute=0) | join(', ') }})
    select
      {{ refused_id }}, q.exception_id, q.model_name, q.model_unique_id, {{ sluice._sluice_redaction_sql('q.record_key') }}, q.record_copy,
      q.rule_name, q.error_class, q.severity, q.route, q.owner,
      q.status, q.status, q.attempt_count, {{ inv }},
      {{ now }}, 'sluice', {{ refused_reason }}, 'refused', cast(null as {{ dbt.type_timestamp() }})
    from {{ quarantine }} as q
    join {{ decisions }} as d on q.exception_id = d.exception_id
    where q.model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
      and (d.model_unique_id is null or d.model_unique_id <> q.model_unique_id)
      and not exists (select 1 from {{ events }} as e where e.event_id = {{ refused_id }})
  {%- endset -%}
  {{ return([_sql2, _sql0, _sql1]) }}
{% endmacro %}


{#- Open exceptions of this model that were evaluated and no longer fail are closed: `recovered`
    when the record is still in the batch (it now passes and is published), `withdrawn` when it
    has left the source. Incremental builds evaluate only the records in their batch, so there an
    exception not in the batch stays open. Two updates, the recovered ones first: Snowflake takes
    an IN subquery only in a WHERE clause, not in an UPDATE's SET. A row held with the record it
    references (dependency_held) whose parent was rejected is still held, now as an orphan under
    its relationship rule: its dependency exception is withdrawn, before both. -#}
{% macro _sluice_recover_exceptions_sql(spec, quarantine, exc_rel, batch, incremental) %}
  {%- set now = sluice.utc_now() -%}
  {%- set out = [] -%}
  {%- for status in (['recovered'] if incremental else ['recovered', 'withdrawn']) -%}
    {%- set sql -%}
    update {{ quarantine }} set
      status = '{{ status }}',
      status_changed_at = {{ now }},
      status_invocation_id = {{ sluice._sluice_lit(invocation_id) }}
    where model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
      and status in ('open', 'dead_letter')
      and not exists (select 1 from {{ exc_rel }} as n where n.exception_id = {{ quarantine }}.exception_id)
      {%- if status == 'recovered' %}
      and record_key in (select {{ sluice._sluice_record_key_expr(spec.key_parts, 'b') }} from {{ batch }} as b)
      {%- endif %}
    {%- endset -%}
    {%- do out.append(sql) -%}
  {%- endfor -%}
  {%- set dependency_rules = [] -%}
  {%- for r in spec.rules if r.kind == 'dependency' -%}{%- do dependency_rules.append(sluice._sluice_lit(r.name)) -%}{%- endfor -%}
  {%- if dependency_rules | length == 0 -%}{{ return(out) }}{%- endif -%}
  {%- set orphaned -%}
    update {{ quarantine }} set
      status = 'withdrawn',
      status_changed_at = {{ now }},
      status_invocation_id = {{ sluice._sluice_lit(invocation_id) }}
    where model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
      and status in ('open', 'dead_letter')
      and rule_name in ({{ dependency_rules | join(', ') }})
      and not exists (select 1 from {{ exc_rel }} as n where n.exception_id = {{ quarantine }}.exception_id)
      and exists (
        select 1 from {{ exc_rel }} as h
        where h.record_key = {{ quarantine }}.record_key and h.record_copy = {{ quarantine }}.record_copy and h._sluice_blocking
      )
  {%- endset -%}
  {{ return([orphaned] + out) }}
{% endmacro %}


{#- The history, appended once per fact (keyed ids, so reruns never duplicate):
    - `status`: every status change of this build's exceptions, by sluice, at build time, with
      `from_status_at`, the time of the exception's latest status event into the status it
      leaves (NULL for a new exception), so that a spell is read from one event;
    - `published`: the first passing build that publishes a released record's row.
    Every event's `record_key` is the key's redaction marker (sluice._sluice_redaction_sql): the
    history holds no record key in clear, the quarantine does. A reviewer's `decided` event is
    written where the decision is applied (sluice._sluice_apply_decisions_sql). Every statement of the record that changes a status
    sets `status_invocation_id` to this build's invocation, so unless statuses changed before the
    audit (`changed_before_audit`: decisions applied, records moved to a new identity), only those
    exceptions are compared with `before`. -#}
{% macro _sluice_record_events_sql(spec, quarantine, before, events, published=false, changed_before_audit=true) %}
  {%- set inv = sluice._sluice_lit(invocation_id) -%}
  {%- set cols = sluice._sluice_events_columns() | map(attribute=0) | join(', ') -%}
  {%- set base = "q.exception_id, q.model_name, q.model_unique_id, " ~ sluice._sluice_redaction_sql('q.record_key') ~ ", q.record_copy, q.rule_name, q.error_class, q.severity, q.route, q.owner" -%}
  {%- set status_id = dbt.hash(dbt.concat(["q.exception_id", "'|'", inv, "'|'", "q.status"])) -%}
  {%- set published_id = dbt.hash(dbt.concat(["q.exception_id", "'|published|'", "q.status_invocation_id"])) -%}
  {%- set mid = sluice._sluice_lit(model.unique_id) -%}
  {%- set ts = dbt.type_timestamp() -%}
  {%- set _sql0 -%}
    insert into {{ events }} ({{ cols }})
    select
      {{ status_id }}, {{ base }}, q.from_status, q.status, q.attempt_count, {{ inv }},
      {{ sluice.utc_now() }}, 'sluice', cast(null as {{ dbt.type_string() }}), 'status', p.event_at
    from (
      select q.*, b.status as from_status, b.status_invocation_id as from_invocation_id
      from {{ quarantine }} as q
      left join {{ before }} as b on b.exception_id = q.exception_id
      where q.model_unique_id = {{ mid }}
        {%- if not changed_before_audit %}
        and q.status_invocation_id = {{ inv }}
        {%- endif %}
        and (b.exception_id is null or b.status <> q.status)
    ) as q
    {#- when the exception entered the status it leaves: the status event of the build that set
        it (status_invocation_id, kept in `before`), read for the changed exceptions only, so
        that a spell never has to be paired again #}
    left join {{ events }} as p
      on p.exception_id = q.exception_id
      and p.invocation_id = q.from_invocation_id
      and p.to_status = q.from_status
      and coalesce(p.event_type, 'status') = 'status'
    where not exists (select 1 from {{ events }} as e where e.event_id = {{ status_id }})
    {%- if published %}
    union all
    select
      {{ published_id }}, {{ base }}, q.status, q.status, q.attempt_count, {{ inv }},
      {{ sluice.utc_now() }}, 'sluice', cast(null as {{ dbt.type_string() }}), 'published', cast(null as {{ ts }})
    from {{ quarantine }} as q
    where q.model_unique_id = {{ mid }}
      and q.status = 'released'
      and not exists (select 1 from {{ events }} as e where e.event_id = {{ published_id }})
    {%- endif %}
  {%- endset -%}
  {{ return(_sql0) }}
{% endmacro %}


{#- The queue the build leaves (sluice_rule_queues): per rule with exceptions open or
    dead-lettered, or whose status this build changed, how many are open and dead-lettered and
    when the oldest open one last moved to `open` (its status_changed_at), with the rule's
    severity and owner as its exceptions carry them; then one row for the model (rule_name
    NULL), written whatever the quarantine holds: the builds that recorded their queue. After
    the record's status changes, in the same transaction; a build records its queue once. -#}
{% macro _sluice_record_queues_sql(quarantine, queues) %}
  {%- set inv = sluice._sluice_lit(invocation_id) -%}
  {%- set mid = sluice._sluice_lit(model.unique_id) -%}
  {%- set bi = dbt.type_bigint() -%}
  {%- set s = dbt.type_string() -%}
  {%- set columns = sluice._sluice_rule_queues_columns() | map(attribute=0) | list -%}
  {%- set tallies -%}
      cast(coalesce(sum(case when q.status = 'open' then 1 else 0 end), 0) as {{ bi }}) as open_at_end,
      cast(coalesce(sum(case when q.status = 'dead_letter' then 1 else 0 end), 0) as {{ bi }}) as dead_letter_at_end,
      min(case when q.status = 'open' then q.status_changed_at end) as oldest_opened_at
  {%- endset -%}
  {%- set queued -%}
    from {{ quarantine }} as q
    where q.model_unique_id = {{ mid }}
      and (q.status in ('open', 'dead_letter') or q.status_invocation_id = {{ inv }})
  {%- endset -%}
  {%- set _sql0 -%}
    insert into {{ queues }} ({{ columns | join(', ') }})
    select {{ columns | join(', ') }}
    from (
      select {{ inv }} as invocation_id, {{ mid }} as model_unique_id, q.rule_name, {{ tallies }},
        max(q.severity) as severity, max(q.owner) as owner
      {{ queued }}
      group by q.rule_name
      union all
      select {{ inv }}, {{ mid }}, cast(null as {{ s }}), {{ tallies }}, cast(null as {{ s }}), cast(null as {{ s }})
      {{ queued }}
    ) as t
    where not exists (
      select 1 from {{ queues }} as r where r.invocation_id = {{ inv }} and r.model_unique_id = {{ mid }}
    )
  {%- endset -%}
  {{ return(_sql0) }}
{% endmacro %}


{#- The build's run row. `started_at`: when the materialization began (aware UTC, dbt's clock):
    build_duration_seconds runs from it to this record, on the same clock (the record's own
    statements, the swap and the commit follow it). -#}
{% macro _sluice_log_run_sql(spec, runs, quarantine, mode, stats, gate_status, gate_message, rule_counts, started_at) %}
  {%- set recorded_at = modules.datetime.datetime.now(modules.pytz.utc) -%}
  {%- set counts = [] -%}
  {%- for r in spec.rules -%}
    {%- do counts.append({'rule_name': r.name, 'error_class': r.error_class, 'severity': r.severity, 'route': r.route, 'rows': rule_counts[r.name]}) -%}
  {%- endfor -%}
  {%- set now = sluice.utc_now() -%}
  {%- set bi = dbt.type_bigint() -%}
  {%- set _sql0 -%}
    insert into {{ runs }} ({{ sluice._sluice_runs_columns() | map(attribute=0) | join(', ') }})
    select
      {{ sluice._sluice_lit(invocation_id) }},
      {{ sluice._sluice_lit(model.unique_id) }},
      {{ sluice._sluice_lit(spec.model_name) }},
      {{ sluice._sluice_lit(this.render()) }},
      {{ sluice._sluice_lit(quarantine.render()) }},
      {{ sluice._sluice_lit(mode) }},
      cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }}),
      {{ now }},
      cast({{ stats.rows_in }} as {{ bi }}),
      cast({{ stats.rows_published }} as {{ bi }}),
      cast({{ stats.rows_held }} as {{ bi }}),
      cast({{ stats.rows_flagged }} as {{ bi }}),
      cast({{ stats.rows_set_aside }} as {{ bi }}),
      {{ sluice._sluice_lit(gate_status) }},
      {{ sluice._sluice_lit(gate_message) }},
      {{ sluice._sluice_lit(tojson(counts)) }},
      cast({{ stats.rows_held_open }} as {{ bi }}),
      cast('{{ started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }}),
      cast({{ '%.6f' | format((recorded_at - started_at).total_seconds()) }} as {{ dbt.type_numeric() }})
    where not exists (
      select 1 from {{ runs }}
      where invocation_id = {{ sluice._sluice_lit(invocation_id) }}
        and model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
    )
  {%- endset -%}
  {{ return(_sql0) }}
{% endmacro %}
