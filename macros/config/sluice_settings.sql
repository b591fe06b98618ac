{#- The one place sluice's defaults live. Every setting is read through sluice.get_setting(),
    which layers: the defaults below < the project var `sluice_<name>` < (for per-model settings)
    the model's `config.meta.sluice.<name>`. -#}
{% macro _sluice_defaults() %}
  {{ return({
    'severities': ['critical', 'high', 'medium', 'low'],
    'routes': ['quarantine', 'manual_review', 'deduplicate', 'flag'],
    'statuses': ['open', 'recovered', 'released', 'rejected', 'dead_letter', 'withdrawn'],
    'error_classes': {
      'missing_required_field': {'severity': 'high', 'route': 'quarantine'},
      'invalid_value': {'severity': 'medium', 'route': 'quarantine'},
      'schema_violation': {'severity': 'high', 'route': 'quarantine'},
      'duplicate_event': {'severity': 'low', 'route': 'deduplicate'},
      'reference_mismatch': {'severity': 'medium', 'route': 'manual_review'},
      'business_rule_violation': {'severity': 'medium', 'route': 'quarantine'},
      'dependency_held': {'severity': 'low', 'route': 'quarantine'},
      'conflicting_record': {'severity': 'medium', 'route': 'manual_review'},
      'conflicting_identifier': {'severity': 'medium', 'route': 'manual_review'},
    },
    'gate': {'critical': 0, 'high': '10%', 'medium': '50%', 'low': none},
    'dbt_severity': {'critical': 'error', 'high': 'error', 'medium': 'warn', 'low': 'warn'},
    'quarantine_suffix': '__quarantine',
    'schema': none,
    'runs_table': 'sluice_runs',
    'events_table': 'sluice_exception_events',
    'decisions_table': 'sluice_decisions',
    'approvals_table': 'sluice_decision_approvals',
    'approval_policy': [],
    'grants': none,
    'load_states_table': 'sluice_load_states',
    'rule_queues_table': 'sluice_rule_queues',
    'audit_chain_table': 'sluice_audit_chain',
    'audit_records_table': 'sluice_audit_records',
    'locks_table': 'sluice_locks',
    'max_attempts': 5,
    'attempt_interval': '1 hour',
    'dead_letter_after': none,
    'full_refresh_quarantine': false,
    'scratch_relation_type': 'temporary',
    'mask': [],
  }) }}
{% endmacro %}


{% macro get_setting(name, model_meta=none) %}
  {{ return(adapter.dispatch('get_setting', 'sluice')(name, model_meta)) }}
{% endmacro %}

{% macro default__get_setting(name, model_meta=none) %}
  {%- set defaults = sluice._sluice_defaults() -%}
  {%- if name not in defaults -%}
    {{ exceptions.raise_compiler_error("sluice: unknown setting '" ~ name ~ "'") }}
  {%- endif -%}
  {%- set layers = [defaults[name], var('sluice_' ~ name, none)] -%}
  {%- if model_meta is mapping and name in model_meta -%}
    {%- do layers.append(model_meta[name]) -%}
  {%- endif -%}
  {%- set ns = namespace(value=none, started=false) -%}
  {%- for layer in layers -%}
    {%- if loop.first or layer is not none -%}
      {%- if ns.value is mapping and layer is mapping -%}
        {%- set merged = {} -%}
        {%- do merged.update(ns.value) -%}
        {%- do merged.update(layer) -%}
        {%- set ns.value = merged -%}
      {%- else -%}
        {%- set ns.value = layer -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(ns.value) }}
{% endmacro %}
