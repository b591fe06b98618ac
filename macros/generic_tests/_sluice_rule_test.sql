{#- The body shared by every sluice generic test.

    On an ordinary model the rule scans the model like any dbt test (so `where`, `store_failures`,
    `warn_if`, `error_if` behave as usual). On a model materialized `sluice`, the materialization
    has already evaluated every rule in its single pass: the test reads what it recorded instead
    of scanning the model again. Rows held back (routes quarantine, manual_review, deduplicate)
    are not in the published relation: the test says how many as a warning and does not fail on
    them. It fails on the rows of the published relation that break the rule: those routed
    `flag` (published, but recorded) and those a reviewer released. -#}
{% macro _sluice_rule_test(kind, model, args) %}
  {%- set test_node = graph.nodes.get(config.model.unique_id) if execute else none -%}
  {%- set attached = test_node.attached_node if test_node else (config.model.attached_node if config.model.attached_node is defined else none) -%}
  {%- set file_key = config.model.file_key_name if config.model.file_key_name is defined else none -%}
  {%- set model_name = attached.split('.')[-1] if attached else (file_key.split('.', 1)[-1] if file_key else model | string) -%}
  {%- set rule = sluice._sluice_rule(kind, model_name, config.model.name, args) -%}
  {%- set dbt_severity = sluice.get_setting('dbt_severity')[rule.severity] -%}
  {{ config(severity=dbt_severity) }}

  {%- set recorded = sluice._sluice_recorded_relation(attached, model) if execute else none -%}
  {%- if recorded is not none -%}
    {%- do sluice._sluice_warn_held(recorded, config.model.name, model_name) -%}
    {{ sluice._sluice_published_failures_sql(recorded, config.model.name, kind == 'unique') }}
  {%- else -%}
    {{ sluice._sluice_rule_scan(rule, model) }}
  {%- endif -%}
{% endmacro %}


{#- Says, as a dbt warning, how many rows this rule held back in this build and on which route:
    the test itself passes when the gate did (held rows are not published), but `dbt build`
    output still shows them. -#}
{% macro _sluice_warn_held(recorded, rule_name, model_name) %}
  {%- set held_sql -%}
    select route, count(*) from {{ recorded }}
    where rule_name = {{ sluice._sluice_lit(rule_name) }}
      and invocation_id = {{ sluice._sluice_lit(invocation_id) }}
      and status in ('open', 'dead_letter')
      and route <> 'flag'
    group by route
    order by route
  {%- endset -%}
  {%- for row in run_query(held_sql).rows -%}
    {%- do exceptions.warn("sluice: rule '" ~ rule_name ~ "' held " ~ row[1] ~ " row(s) of model '" ~ model_name ~ "' in this build (route " ~ row[0] ~ "); they are in " ~ recorded) -%}
  {%- endfor -%}
{% endmacro %}


{#- What an adopted dbt test reports on a built sluice model, as a sluice rule does: a warning
    with the rows the rule held in this build, and as failures the rows of the published
    relation that break it; none when the model is not a built sluice model. -#}
{% macro _sluice_recorded_failures(model, rule_name, unique=false) %}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set test_node = graph.nodes.get(config.model.unique_id) -%}
  {%- set attached = test_node.attached_node if test_node else none -%}
  {%- set recorded = sluice._sluice_recorded_relation(attached, model) -%}
  {%- if recorded is none -%}{{ return(none) }}{%- endif -%}
  {%- do sluice._sluice_warn_held(recorded, rule_name, attached.split('.')[-1]) -%}
  {{ return(sluice._sluice_published_failures_sql(recorded, rule_name, unique)) }}
{% endmacro %}


{#- The exceptions of a rule whose rows are in the published relation, breaking it: routed
    `flag` and still open, or released by a reviewer; unless another exception of the same
    record and copy holds the row (open or dead-lettered on a holding route, or rejected). A
    released duplicate breaks no uniqueness rule: it is published in place of the kept copy. -#}
{% macro _sluice_published_failures_sql(recorded, rule_name, unique=false) %}
  select *
  from {{ recorded }} as q
  where q.rule_name = {{ sluice._sluice_lit(rule_name) }}
    and ((q.status = 'open' and q.route = 'flag'){{ "" if unique else " or q.status = 'released'" }})
    and not exists (
      select 1 from {{ recorded }} as held
      where held.record_key = q.record_key
        and held.record_copy = q.record_copy
        and ((held.status in ('open', 'dead_letter') and held.route <> 'flag') or held.status = 'rejected')
    )
{% endmacro %}


{#- The quarantine relation of the attached model when it is materialized `sluice` and its
    quarantine exists; none otherwise (a plain model, a `where`-filtered test, or a sluice model
    that has never been built). Looked up by name: package bookkeeping is never ref()'d. -#}
{% macro _sluice_recorded_relation(attached, model) %}
  {%- if not attached or attached not in graph.nodes or model is string -%}{{ return(none) }}{%- endif -%}
  {%- set node = graph.nodes[attached] -%}
  {%- if node.config.materialized != 'sluice' -%}{{ return(none) }}{%- endif -%}
  {%- set q = sluice._sluice_quarantine_relation(node) -%}
  {{ return(adapter.get_relation(database=q.database, schema=q.schema, identifier=q.identifier)) }}
{% endmacro %}


{#- A direct scan returning the failing rows of one rule. -#}
{% macro _sluice_rule_scan(rule, model) %}
  {%- set cols = {} -%}
  {%- for c in rule.columns -%}{%- do cols.update({c: c}) -%}{%- endfor -%}
  {%- if rule.kind == 'unique' -%}
    select {{ rule.columns | join(', ') }}, count(*) as n_records
    from {{ model }}
    where {% for c in rule.columns %}{{ c }} is not null{{ " and " if not loop.last }}{% endfor %}
    group by {{ rule.columns | join(', ') }}
    having count(*) > 1
  {%- elif rule.kind in ('conflict', 'identity_conflict') -%}
    {{ sluice._sluice_conflict_scan(rule, model) }}
  {%- elif rule.kind == 'relationship' -%}
    select s.*
    from (select * from {{ model }}) as s
    left join (select distinct {{ rule.field }} as _sluice_ref_k from {{ rule.to }}) as r
      on r._sluice_ref_k = s.{{ rule.column }}
    where {{ sluice._sluice_failure_predicate(rule, 's', cols, 'r._sluice_ref_k') }}
  {%- else -%}
    select *
    from (select * from {{ model }}) as s
    where {{ sluice._sluice_failure_predicate(rule, 's', cols) }}
  {%- endif -%}
{% endmacro %}
