{#- Publication gate: thresholds per severity, as a row count (a whole number: the most rows
    allowed) or a share of the model's rows ('5%'); none means no limit. -#}

{% macro _sluice_parse_gate(model_name, gate) %}
  {%- if gate is not mapping -%}
    {{ sluice._sluice_config_error(model_name, none, 'gate', "expected a mapping of severity to threshold") }}
  {%- endif -%}
  {%- set severities = sluice._sluice_defaults()['severities'] -%}
  {%- set parsed = {} -%}
  {%- for severity, t in gate.items() -%}
    {%- set key = 'gate.' ~ severity -%}
    {%- if severity not in severities -%}
      {{ sluice._sluice_config_error(model_name, none, key, "unknown severity (expected one of " ~ (severities | join(', ')) ~ ")") }}
    {%- endif -%}
    {%- if t is none or (t is string and t | lower | trim in ('none', 'null', '')) -%}
      {%- do parsed.update({severity: none}) -%}
    {%- elif t is boolean -%}
      {{ sluice._sluice_config_error(model_name, none, key, "threshold '" ~ t ~ "' is neither a row count nor a share like '5%'") }}
    {%- elif t is number -%}
      {%- if t != (t | int) or t < 0 -%}
        {{ sluice._sluice_config_error(model_name, none, key, "threshold '" ~ t ~ "' is not a whole row count; write a share as a percentage, like '5%'") }}
      {%- endif -%}
      {%- do parsed.update({severity: {'kind': 'rows', 'value': t | int, 'text': (t | int) ~ ' rows'}}) -%}
    {%- elif t is string and modules.re.match('^\s*[0-9]+(\.[0-9]+)?\s*%\s*$', t) -%}
      {#- A share is kept as an exact fraction num / den of the rows: never a float. -#}
      {%- set digits = t | replace('%', '') | trim -%}
      {%- set whole, frac = (digits.split('.') + [''])[:2] -%}
      {%- set num = (whole ~ frac) | int -%}
      {%- set den = 100 * (10 ** (frac | length)) -%}
      {%- if num > den -%}
        {{ sluice._sluice_config_error(model_name, none, key, "share '" ~ t ~ "' is over 100%") }}
      {%- endif -%}
      {%- do parsed.update({severity: {'kind': 'share', 'num': num, 'den': den, 'text': (t | trim) ~ ' of rows'}}) -%}
    {%- else -%}
      {{ sluice._sluice_config_error(model_name, none, key, "threshold '" ~ t ~ "' is neither a row count nor a share like '5%'") }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(parsed) }}
{% endmacro %}


{#- Whether a rule's failures count toward the gate. Duplicates routed to `deduplicate` do only
    with count_in_gate; an adopted test with `error_if` counts only when its condition holds
    (as dbt would fail it). -#}
{% macro _sluice_rule_counts_in_gate(rule, n) %}
  {%- if rule.route == 'deduplicate' and not rule.count_in_gate -%}{{ return(false) }}{%- endif -%}
  {%- set m = sluice._sluice_error_if_condition(rule) -%}
  {%- if not m -%}{{ return(n > 0) }}{%- endif -%}
  {%- set op, v = m.group(1), m.group(2) | int -%}
  {{ return((op == '>' and n > v) or (op == '>=' and n >= v) or (op in ('!=', '<>') and n != v) or (op in ('=', '==') and n == v)) }}
{% endmacro %}


{#- Whether a rule counts toward the gate whatever its number of failures (none counts
    nothing): its rows are then counted once per severity, however many such rules they break. -#}
{% macro _sluice_rule_counts_always(rule) %}
  {%- if rule.route == 'deduplicate' and not rule.count_in_gate -%}{{ return(false) }}{%- endif -%}
  {{ return(not sluice._sluice_error_if_condition(rule)) }}
{% endmacro %}


{#- An adopted test's `error_if` as a comparison with a whole number (a regex match: operator,
    number), or none when it has none dbt would apply that way. -#}
{% macro _sluice_error_if_condition(rule) %}
  {{ return(modules.re.match('^(>=|>|!=|<>|=|==)([0-9]+)$', (rule.error_if or '') | replace(' ', ''))) }}
{% endmacro %}


{#- [(severity, [rule name literals])] for each severity with a threshold: the rules that count
    toward it whatever their number of failures. -#}
{% macro _sluice_gate_rules_by_severity(spec) %}
  {%- set out = [] -%}
  {%- for severity, threshold in spec.gate.items() | sort if threshold is not none -%}
    {%- set names = [] -%}
    {%- for rule in spec.rules if rule.severity == severity and sluice._sluice_rule_counts_always(rule) -%}
      {%- do names.append(sluice._sluice_lit(rule.name, dbt.type_string())) -%}
    {%- endfor -%}
    {%- if names -%}{%- do out.append((severity, names)) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}


{#- Decide the gate: returns a list of breaches (empty when publication may go ahead). All
    arithmetic is on whole numbers: a share threshold num/den is breached when
    rows * den > num * total_rows. severity_rows, when given, holds per severity the distinct
    rows failing the rules that always count (_sluice_gate_rules_by_severity); a rule counted
    only under its error_if condition adds its own count. -#}
{% macro _sluice_evaluate_gate(spec, rule_counts, total_rows, severity_rows=none) %}
  {%- set breaches = [] -%}
  {%- for severity, threshold in spec.gate.items() if threshold is not none -%}
    {%- set counted = [] -%}
    {%- for rule in spec.rules if rule.severity == severity -%}
      {%- if sluice._sluice_rule_counts_in_gate(rule, rule_counts[rule.name]) -%}{%- do counted.append(rule) -%}{%- endif -%}
    {%- endfor -%}
    {%- set ns = namespace(n=0) -%}
    {%- for rule in counted -%}
      {%- if severity_rows is none or not sluice._sluice_rule_counts_always(rule) -%}{%- set ns.n = ns.n + rule_counts[rule.name] -%}{%- endif -%}
    {%- endfor -%}
    {%- if severity_rows is not none -%}{%- set ns.n = ns.n + severity_rows.get(severity, 0) -%}{%- endif -%}
    {%- if threshold.kind == 'rows' -%}
      {%- set breached = ns.n > threshold.value -%}
    {%- else -%}
      {%- set breached = ns.n * threshold.den > threshold.num * total_rows -%}
    {%- endif -%}
    {%- if breached -%}
      {%- do breaches.append({'severity': severity, 'threshold': threshold, 'rows': ns.n, 'rules': counted}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(breaches) }}
{% endmacro %}


{#- n of total as a percentage with two decimals, rounded half up, in whole-number arithmetic. -#}
{% macro _sluice_pct(n, total) %}
  {%- if total <= 0 -%}{{ return('0.00') }}{%- endif -%}
  {%- set hundredths = (n * 10000 * 2 + total) // (2 * total) -%}
  {{ return((hundredths // 100) ~ '.' ~ ('%02d' % (hundredths % 100))) }}
{% endmacro %}


{% macro _sluice_gate_message(spec, breaches, rule_counts, total_rows) %}
  {%- set parts = [] -%}
  {%- for b in breaches -%}
    {%- set rule_parts = [] -%}
    {%- for rule in b.rules -%}
      {%- set n = rule_counts[rule.name] -%}
      {%- do rule_parts.append("rule '" ~ rule.name ~ "' (" ~ rule.error_class ~ ") " ~ n ~ " rows, " ~ sluice._sluice_pct(n, total_rows) ~ "%") -%}
    {%- endfor -%}
    {%- do parts.append(b.severity ~ ": " ~ b.rows ~ " rows (" ~ sluice._sluice_pct(b.rows, total_rows) ~ "% of " ~ total_rows ~ ") over the threshold of " ~ b.threshold.text ~ " [" ~ (rule_parts | join('; ')) ~ "]") -%}
  {%- endfor -%}
  {{ return("sluice gate held publication of model '" ~ spec.model_name ~ "': " ~ (parts | join(' | ')) ~ ". The last published data stays in place; the failing rows are in the quarantine.") }}
{% endmacro %}
