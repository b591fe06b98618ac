{#- Rules: normalizing and validating one rule's arguments, and the SQL predicate that is TRUE
    (never NULL) when a row fails it. Shared by the generic tests and the sluice materialization. -#}

{% macro _sluice_kind_classes() %}
  {{ return({
    'not_null': 'missing_required_field',
    'accepted_values': 'invalid_value',
    'range': 'invalid_value',
    'castable': 'schema_violation',
    'unique': 'duplicate_event',
    'relationship': 'reference_mismatch',
    'expression': 'business_rule_violation',
    'conflict': 'conflicting_record',
    'identity_conflict': 'conflicting_identifier',
  }) }}
{% endmacro %}


{% macro _sluice_config_error(model_name, rule_name, key, problem) %}
  {%- set where = "sluice: model '" ~ model_name ~ "'" ~ (", rule '" ~ rule_name ~ "'" if rule_name else "") -%}
  {{ exceptions.raise_compiler_error(where ~ ", key '" ~ key ~ "': " ~ problem) }}
{% endmacro %}


{#- A duration setting in seconds: a whole number of seconds, or text like '1 hour', '3 days',
    '30 minutes'; none stays none. -#}
{% macro _sluice_duration(model_name, rule_name, key, value) %}
  {%- if value is none or (value is string and value | trim | lower in ('', 'none', 'null')) -%}{{ return(none) }}{%- endif -%}
  {%- if value is number and value is not boolean and value == (value | int) and value >= 0 -%}{{ return(value | int) }}{%- endif -%}
  {%- set units = {'second': 1, 'minute': 60, 'hour': 3600, 'day': 86400, 'week': 604800} -%}
  {%- set m = modules.re.match('^\s*([0-9]+)\s*(second|minute|hour|day|week)s?\s*$', value | string | lower) if value is string else none -%}
  {%- if not m -%}
    {{ sluice._sluice_config_error(model_name, rule_name, key, "expected a duration like '1 hour', '3 days' or a number of seconds, got '" ~ value ~ "'") }}
  {%- endif -%}
  {{ return((m.group(1) | int) * units[m.group(2)]) }}
{% endmacro %}


{% macro _sluice_rule(kind, model_name, rule_name, args) %}
  {%- set defaults = sluice._sluice_defaults() -%}
  {%- set classes = defaults['error_classes'] -%}
  {%- set error_class = args.get('error_class') or sluice._sluice_kind_classes()[kind] -%}
  {%- if error_class not in classes -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'error_class', "unknown error class '" ~ error_class ~ "' (expected one of " ~ (classes.keys() | list | join(', ')) ~ ")") }}
  {%- endif -%}
  {%- set severity = args.get('sluice_severity') or classes[error_class]['severity'] -%}
  {%- if severity not in defaults['severities'] -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'sluice_severity', "unknown severity '" ~ severity ~ "' (expected one of " ~ (defaults['severities'] | join(', ')) ~ ")") }}
  {%- endif -%}
  {%- set route = args.get('route') or (classes[error_class]['route'] if kind == 'unique' or classes[error_class]['route'] != 'deduplicate' else 'quarantine') -%}
  {%- if route == 'dead_letter' -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'route', "'dead_letter' is reached after the attempt limit, it cannot be chosen (expected one of " ~ (defaults['routes'] | join(', ')) ~ ")") }}
  {%- elif route not in defaults['routes'] -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'route', "unknown route '" ~ route ~ "' (expected one of " ~ (defaults['routes'] | join(', ')) ~ ")") }}
  {%- endif -%}
  {%- if route == 'deduplicate' and kind != 'unique' -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'route', "route 'deduplicate' needs a uniqueness rule (sluice_unique)") }}
  {%- endif -%}

  {%- set columns = args.get('columns') or ([args.get('column_name')] if args.get('column_name') else []) -%}
  {%- if columns is string -%}{%- set columns = [columns] -%}{%- endif -%}
  {%- set conflict = none -%}
  {%- if kind == 'conflict' -%}
    {%- set conflict = sluice._sluice_conflict_args(model_name, rule_name, args) -%}
    {%- set columns = conflict.columns -%}
  {%- endif -%}
  {%- set identity = none -%}
  {%- if kind == 'identity_conflict' -%}
    {%- set identity = sluice._sluice_identity_conflict_args(model_name, rule_name, args) -%}
    {%- set columns = identity.columns -%}
  {%- endif -%}
  {%- if kind in ('not_null', 'accepted_values', 'range', 'castable', 'relationship', 'unique') and columns | length == 0 -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'column_name', "this rule needs a column (declare it under a column, or pass `columns`)") }}
  {%- endif -%}
  {%- if kind == 'accepted_values' and (args.get('values') is none or args.get('values') is string or args.get('values') | length == 0) -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'values', "accepted values need a non-empty list") }}
  {%- endif -%}
  {%- if kind == 'castable' and not args.get('data_type') and not args.get('pattern') -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'data_type', "a castable rule needs `data_type` or `pattern`") }}
  {%- endif -%}
  {%- if kind == 'relationship' and (not args.get('to') or not args.get('field')) -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'to' if not args.get('to') else 'field', "a relationship rule needs `to` (a ref or source) and `field`") }}
  {%- endif -%}
  {%- if kind == 'expression' and not args.get('expression') -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'expression', "a business rule needs an `expression` that is true for valid rows") }}
  {%- endif -%}
  {%- if kind == 'range' and args.get('min_value') is none and args.get('max_value') is none -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'min_value', "a range rule needs `min_value`, `max_value` or both") }}
  {%- endif -%}
  {%- set max_attempts = args.get('max_attempts') -%}
  {%- if max_attempts is not none and (max_attempts is not number or max_attempts is boolean or max_attempts != (max_attempts | int) or max_attempts < 1) -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'max_attempts', "expected a whole number of attempts of at least 1, got '" ~ max_attempts ~ "'") }}
  {%- endif -%}
  {%- if args.get('hold_with_parent', true) not in (true, false) -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'hold_with_parent', "expected true or false, got '" ~ args.get('hold_with_parent') ~ "'") }}
  {%- endif -%}
  {%- set order_by = args.get('order_by') or [] -%}
  {%- if order_by is string -%}{%- set order_by = [order_by] -%}{%- endif -%}

  {{ return({
    'name': rule_name,
    'kind': kind,
    'columns': columns,
    'column': columns[0] if columns | length > 0 else none,
    'error_class': error_class,
    'severity': severity,
    'route': route,
    'owner': args.get('owner'),
    'description': args.get('description'),
    'values': args.get('values') or [],
    'quote': args.get('quote', true),
    'data_type': args.get('data_type'),
    'pattern': args.get('pattern'),
    'to': args.get('with') if kind == 'conflict' else args.get('to'),
    'field': args.get('field'),
    'expression': args.get('expression'),
    'min_value': args.get('min_value'),
    'max_value': args.get('max_value'),
    'inclusive': args.get('inclusive', true),
    'where': args.get('where'),
    'error_if': args.get('error_if'),
    'order_by': order_by,
    'count_in_gate': args.get('count_in_gate', false),
    'hold_with_parent': args.get('hold_with_parent', true),
    'held_parent': none,
    'blocking': route != 'flag',
    'max_attempts': max_attempts,
    'attempt_interval': args.get('attempt_interval'),
    'dead_letter_after': args.get('dead_letter_after'),
    'conflict': conflict,
    'identity': identity,
    'source_system': args.get('source_system'),
    'target_system': args.get('target_system'),
  }) }}
{% endmacro %}


{#- The failure predicate over row alias `alias`. `cols` maps rule column names to SQL (already
    quoted/resolved); `ref_key` is the joined reference key for relationship rules. -#}
{% macro _sluice_failure_predicate(rule, alias, cols, ref_key=none) %}
  {%- set c = alias ~ '.' ~ cols[rule.column] if rule.column else none -%}
  {%- if rule.kind == 'not_null' -%}
    ({{ c }} is null)
  {%- elif rule.kind == 'accepted_values' -%}
    ({{ c }} is not null and {{ c }} not in (
      {%- for v in rule['values'] -%}
        {%- if rule.quote -%}'{{ sluice.escape_string(v) }}'{%- else -%}{{ v }}{%- endif -%}{{ ", " if not loop.last }}
      {%- endfor -%}))
  {%- elif rule.kind == 'castable' -%}
    {%- if rule.data_type -%}
    ({{ c }} is not null and not coalesce({{ sluice.is_castable(c, rule.data_type) }}, false))
    {%- else -%}
    ({{ c }} is not null and not coalesce({{ sluice.regex_matches(c, rule.pattern) }}, false))
    {%- endif -%}
  {%- elif rule.kind == 'range' -%}
    {%- set op_lo = '>=' if rule.inclusive else '>' -%}
    {%- set op_hi = '<=' if rule.inclusive else '<' -%}
    ({{ c }} is not null and not (
      {%- if rule.min_value is not none %}{{ c }} {{ op_lo }} {{ rule.min_value }}{% endif -%}
      {%- if rule.min_value is not none and rule.max_value is not none %} and {% endif -%}
      {%- if rule.max_value is not none %}{{ c }} {{ op_hi }} {{ rule.max_value }}{% endif -%}
    ))
  {%- elif rule.kind == 'relationship' -%}
    ({{ c }} is not null and {{ ref_key }} is null)
  {%- elif rule.kind == 'expression' -%}
    coalesce(not ({{ rule.expression }}), false)
  {%- else -%}
    {{ exceptions.raise_compiler_error("sluice: rule kind '" ~ rule.kind ~ "' has no row predicate") }}
  {%- endif -%}
{% endmacro %}


{#- A readable, static message for a rule's failures. -#}
{% macro _sluice_rule_message(rule) %}
  {%- if rule.description -%}{{ return(rule.description) }}{%- endif -%}
  {%- set cols = rule.columns | join(', ') -%}
  {%- if rule.kind == 'not_null' -%}{{ return(cols ~ " is missing") }}
  {%- elif rule.kind == 'accepted_values' -%}{{ return(cols ~ " is not one of: " ~ (rule['values'] | join(', '))) }}
  {%- elif rule.kind == 'castable' -%}{{ return(cols ~ (" cannot be read as " ~ rule.data_type if rule.data_type else " does not match " ~ rule.pattern)) }}
  {%- elif rule.kind == 'unique' -%}{{ return("duplicate of " ~ cols ~ " (an earlier copy is kept)") }}
  {%- elif rule.kind == 'range' -%}{{ return(cols ~ " is outside the range " ~ (rule.min_value if rule.min_value is not none else '') ~ ".." ~ (rule.max_value if rule.max_value is not none else '')) }}
  {%- elif rule.kind == 'record_key' -%}{{ return("the record key (" ~ cols ~ ") has a NULL part") }}
  {%- elif rule.kind == 'relationship' -%}{{ return(cols ~ " has no match in " ~ rule.to ~ "." ~ rule.field) }}
  {%- elif rule.kind == 'dependency' -%}{{ return(cols ~ " references a held record of " ~ rule.parent.name) }}
  {%- else -%}{{ return("business rule failed: " ~ rule.expression) }}
  {%- endif -%}
{% endmacro %}
