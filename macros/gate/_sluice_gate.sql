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
      {%- set pct = t | replace('%', '') | trim | float -%}
      {%- if pct > 100 -%}
        {{ sluice._sluice_config_error(model_name, none, key, "share '" ~ t ~ "' is over 100%") }}
      {%- endif -%}
      {%- do parsed.update({severity: {'kind': 'share', 'value': pct / 100.0, 'text': (t | trim) ~ ' of rows'}}) -%}
    {%- else -%}
      {{ sluice._sluice_config_error(model_name, none, key, "threshold '" ~ t ~ "' is neither a row count nor a share like '5%'") }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(parsed) }}
{% endmacro %}


{#- Decide the gate: returns a list of breaches (empty when publication may go ahead). -#}
{% macro _sluice_evaluate_gate(spec, rule_counts, total_rows) %}
  {%- set breaches = [] -%}
  {%- for severity, threshold in spec.gate.items() if threshold is not none -%}
    {%- set counted = [] -%}
    {%- for rule in spec.rules if rule.severity == severity and (rule.route != 'deduplicate' or rule.count_in_gate) -%}
      {%- if rule_counts[rule.name] > 0 -%}{%- do counted.append(rule) -%}{%- endif -%}
    {%- endfor -%}
    {%- set ns = namespace(n=0) -%}
    {%- for rule in counted -%}{%- set ns.n = ns.n + rule_counts[rule.name] -%}{%- endfor -%}
    {%- set share = (ns.n / total_rows) if total_rows > 0 else 0 -%}
    {%- set breached = (threshold.kind == 'rows' and ns.n > threshold.value) or (threshold.kind == 'share' and share > threshold.value) -%}
    {%- if breached -%}
      {%- do breaches.append({'severity': severity, 'threshold': threshold, 'rows': ns.n, 'share': share, 'rules': counted}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(breaches) }}
{% endmacro %}


{% macro _sluice_gate_message(spec, breaches, rule_counts, total_rows) %}
  {%- set parts = [] -%}
  {%- for b in breaches -%}
    {%- set rule_parts = [] -%}
    {%- for rule in b.rules -%}
      {%- set n = rule_counts[rule.name] -%}
      {%- do rule_parts.append("rule '" ~ rule.name ~ "' (" ~ rule.error_class ~ ") " ~ n ~ " rows, " ~ '%.2f' % (100.0 * n / total_rows if total_rows > 0 else 0) ~ "%") -%}
    {%- endfor -%}
    {%- do parts.append(b.severity ~ ": " ~ b.rows ~ " rows (" ~ '%.2f' % (100.0 * b.share) ~ "% of " ~ total_rows ~ ") over the threshold of " ~ b.threshold.text ~ " [" ~ (rule_parts | join('; ')) ~ "]") -%}
  {%- endfor -%}
  {{ return("sluice gate held publication of model '" ~ spec.model_name ~ "': " ~ (parts | join(' | ')) ~ ". The last published data stays in place; the failing rows are in the quarantine.") }}
{% endmacro %}
