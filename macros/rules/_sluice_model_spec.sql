{#- Everything the sluice materialization needs to know about the model being built: its key,
    its rules (collected from the sluice generic tests attached to it in the graph), its gate and
    its systems. Fails at compile time, naming the model, the rule and the key, on bad config. -#}

{% macro _sluice_test_kinds() %}
  {{ return({
    'sluice_not_null': 'not_null',
    'sluice_accepted_values': 'accepted_values',
    'sluice_castable': 'castable',
    'sluice_unique': 'unique',
    'sluice_relationship': 'relationship',
    'sluice_expression': 'expression',
  }) }}
{% endmacro %}


{% macro _sluice_model_meta(node=none) %}
  {%- set meta = (node.config.meta if node is not none else config.get('meta')) or {} -%}
  {%- set sluice_meta = meta.get('sluice') or {} -%}
  {%- if sluice_meta is not mapping -%}
    {{ sluice._sluice_config_error(node.name if node is not none else model.name, none, 'meta.sluice', "expected a mapping of sluice settings") }}
  {%- endif -%}
  {{ return(sluice_meta) }}
{% endmacro %}


{% macro _sluice_model_spec() %}
  {%- set meta = sluice._sluice_model_meta() -%}
  {%- set model_name = model.name -%}
  {%- set known = ['key', 'source_system', 'target_system', 'owner', 'incremental', 'quarantine', 'gate', 'description', 'max_attempts'] -%}
  {%- for k in meta.keys() if k not in known -%}
    {{ sluice._sluice_config_error(model_name, none, 'meta.sluice.' ~ k, "unknown setting (expected one of " ~ (known | join(', ')) ~ ")") }}
  {%- endfor -%}

  {%- set key = meta.get('key') -%}
  {%- if key is string -%}{%- set key = [key] -%}{%- endif -%}
  {%- if not key or key | length == 0 -%}
    {{ sluice._sluice_config_error(model_name, none, 'meta.sluice.key', "a sluice model needs a record key: set config.meta.sluice.key to one or more columns") }}
  {%- endif -%}

  {%- set max_attempts = sluice.get_setting('max_attempts', meta) -%}
  {%- if max_attempts is not number or max_attempts is boolean or max_attempts != (max_attempts | int) or max_attempts < 1 -%}
    {{ sluice._sluice_config_error(model_name, none, 'max_attempts', "expected a whole number of attempts of at least 1, got '" ~ max_attempts ~ "'") }}
  {%- endif -%}
  {%- set kinds = sluice._sluice_test_kinds() -%}
  {%- set rules = [] -%}
  {%- set nodes = graph.nodes.values() | selectattr('resource_type', 'equalto', 'test') | sort(attribute='name') -%}
  {%- for node in nodes -%}
    {%- set tm = node.test_metadata -%}
    {%- if tm and tm.name in kinds and node.attached_node == model.unique_id -%}
      {%- set args = {} -%}
      {%- do args.update(tm.kwargs) -%}
      {%- if kinds[tm.name] == 'relationship' -%}
        {%- set others = node.depends_on.nodes | reject('equalto', model.unique_id) | list -%}
        {%- set target_id = others[0] if others | length > 0 else model.unique_id -%}
        {%- set target_node = graph.nodes.get(target_id) or graph.sources.get(target_id) -%}
        {%- if target_id == model.unique_id -%}
          {%- do args.update({'to': this.render()}) -%}
        {%- elif target_node is not none and target_node.relation_name -%}
          {%- do args.update({'to': target_node.relation_name}) -%}
        {%- endif -%}
      {%- endif -%}
      {%- set rule = sluice._sluice_rule(kinds[tm.name], model_name, node.name, args) -%}
      {%- do rule.update({'index': rules | length, 'owner': rule.owner or meta.get('owner'), 'description': node.description or none, 'max_attempts': (rule.max_attempts or max_attempts) | int}) -%}
      {%- do rules.append(rule) -%}
    {%- endif -%}
  {%- endfor -%}

  {%- set uniques = rules | selectattr('kind', 'equalto', 'unique') | list -%}
  {%- if uniques | length > 1 -%}
    {{ sluice._sluice_config_error(model_name, uniques[1].name, 'sluice_unique', "a sluice model takes one uniqueness rule (found " ~ (uniques | map(attribute='name') | join(', ')) ~ ")") }}
  {%- endif -%}

  {%- set gate = sluice._sluice_parse_gate(model_name, sluice.get_setting('gate', meta)) -%}
  {%- set incremental = meta.get('incremental', false) -%}
  {%- if incremental not in (true, false) -%}
    {{ sluice._sluice_config_error(model_name, none, 'meta.sluice.incremental', "expected true or false, got '" ~ incremental ~ "'") }}
  {%- endif -%}

  {{ return({
    'model_name': model_name,
    'key': key,
    'rules': rules,
    'dedupe': uniques[0] if uniques | length > 0 else none,
    'gate': gate,
    'incremental': incremental,
    'source_system': meta.get('source_system'),
    'target_system': meta.get('target_system'),
    'owner': meta.get('owner'),
  }) }}
{% endmacro %}
