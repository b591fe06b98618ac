{#- The rules of every sluice model in the project, as a SELECT the metrics models join on: one
    row per model and rule with the rule's severity and owner (the rule's, else the model's) and
    the model's source_system, target_system and domain (the model's `config.meta.domain` tag).
    Read from the graph at compile time; a project without sluice models gives no rows. -#}
{% macro _sluice_metrics_rules_sql() %}
  {%- set names = ['model_unique_id', 'rule_name', 'severity', 'owner', 'source_system', 'target_system', 'domain'] -%}
  {%- set selects = [] -%}
  {%- if execute -%}
    {%- for node, spec in sluice._sluice_model_specs() -%}
      {%- set domain = (node.config.meta or {}).get('domain') -%}
      {%- for rule in spec.rules -%}
        {%- set values = [node.unique_id, rule.name, rule.severity, rule.owner or spec.owner,
          spec.source_system, spec.target_system, domain if domain is string else none] -%}
        {%- set out = [] -%}
        {%- for name in names -%}{%- do out.append(sluice._sluice_lit(values[loop.index0]) ~ ' as ' ~ name) -%}{%- endfor -%}
        {%- do selects.append('select ' ~ (out | join(', '))) -%}
      {%- endfor -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if selects | length == 0 -%}
    {%- set empty = [] -%}
    {%- for name in names -%}{%- do empty.append(sluice._sluice_lit(none) ~ ' as ' ~ name) -%}{%- endfor -%}
    {%- do selects.append('select ' ~ (empty | join(', ')) ~ ' where 1 = 0') -%}
  {%- endif -%}
  {{ return(selects | join('\nunion all ')) }}
{% endmacro %}
