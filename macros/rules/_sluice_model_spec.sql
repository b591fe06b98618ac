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
    'sluice_conflict': 'conflict',
    'sluice_identity_conflict': 'identity_conflict',
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


{#- dbt's generic tests (and dbt_utils', recognised by name and arguments, without depending on
    dbt_utils) that a sluice model adopts as rules: test name -> (namespace, rule kind). -#}
{% macro _sluice_adoptable_tests() %}
  {{ return({
    'not_null': (none, 'not_null'),
    'unique': (none, 'unique'),
    'accepted_values': (none, 'accepted_values'),
    'relationships': (none, 'relationship'),
    'expression_is_true': ('dbt_utils', 'expression'),
    'accepted_range': ('dbt_utils', 'range'),
    'unique_combination_of_columns': ('dbt_utils', 'unique'),
  }) }}
{% endmacro %}


{#- Model-level checks that are not row rules: left to run as the ordinary tests they are. -#}
{% macro _sluice_model_level_tests() %}
  {{ return(['not_null_proportion', 'equal_rowcount', 'fewer_rows_than', 'recency', 'at_least_one', 'cardinality_equality', 'equality']) }}
{% endmacro %}


{#- The settings an adopted (or left alone) dbt test takes in its `config.meta.sluice`. -#}
{% macro _sluice_adopted_test_settings() %}
  {{ return(['adopt', 'severity', 'route', 'owner', 'error_class', 'max_attempts', 'attempt_interval', 'dead_letter_after', 'hold_with_parent']) }}
{% endmacro %}


{#- A dbt test's `config.meta.sluice` on a sluice model: a mapping of known settings, else a
    compile error naming the model, the test and the key. -#}
{% macro _sluice_test_meta(model_name, node) %}
  {%- set sm = (node.config.meta or {}).get('sluice') or {} -%}
  {%- if sm is not mapping -%}
    {{ sluice._sluice_config_error(model_name, node.name, 'meta.sluice', "expected a mapping of sluice settings") }}
  {%- endif -%}
  {%- set known = sluice._sluice_adopted_test_settings() -%}
  {%- for k in sm.keys() if k not in known -%}
    {{ sluice._sluice_config_error(model_name, node.name, 'meta.sluice.' ~ k, "unknown setting for an adopted test (expected one of " ~ (known | join(', ')) ~ ")") }}
  {%- endfor -%}
  {{ return(sm) }}
{% endmacro %}


{#- The rule arguments of an adopted test: its own arguments, its `where`, its severity mapped
    (dbt `error` -> high, `warn` -> low) and its config.meta.sluice overrides. -#}
{% macro _sluice_adopted_args(node, kind, tm) %}
  {%- set kw = tm.kwargs or {} -%}
  {%- set cfg = node.config -%}
  {%- set sm = (cfg.meta or {}).get('sluice') or {} -%}
  {%- set args = {} -%}
  {%- if tm.name == 'unique_combination_of_columns' -%}
    {%- do args.update({'columns': kw.get('combination_of_columns')}) -%}
  {%- elif kw.get('column_name') -%}
    {%- do args.update({'column_name': kw.get('column_name')}) -%}
  {%- endif -%}
  {%- if kind == 'accepted_values' -%}{%- do args.update({'values': kw.get('values'), 'quote': kw.get('quote', true)}) -%}{%- endif -%}
  {%- if kind == 'relationship' -%}{%- do args.update({'to': kw.get('to'), 'field': kw.get('field')}) -%}{%- endif -%}
  {%- if kind == 'range' -%}{%- do args.update({'min_value': kw.get('min_value'), 'max_value': kw.get('max_value'), 'inclusive': kw.get('inclusive', true)}) -%}{%- endif -%}
  {%- if kind == 'expression' -%}
    {%- set expr = kw.get('expression') -%}
    {%- if kw.get('column_name') -%}{%- set expr = kw.get('column_name') ~ ' ' ~ expr -%}{%- endif -%}
    {%- do args.update({'expression': expr}) -%}
  {%- endif -%}
  {%- set dbt_severity = (cfg.severity or 'error') | lower -%}
  {%- do args.update({
    'sluice_severity': sm.get('severity') or ('high' if dbt_severity == 'error' else 'low'),
    'route': sm.get('route'),
    'owner': sm.get('owner'),
    'error_class': sm.get('error_class'),
    'max_attempts': sm.get('max_attempts'),
    'attempt_interval': sm.get('attempt_interval'),
    'dead_letter_after': sm.get('dead_letter_after'),
    'hold_with_parent': sm.get('hold_with_parent', true),
    'where': cfg.where,
    'error_if': cfg.error_if if dbt_severity == 'error' else none,
  }) -%}
  {{ return(args) }}
{% endmacro %}


{#- `tests`: the test nodes attached to the model, when the caller has them already (the
    start-of-build check indexes the graph's tests once for every model). -#}
{% macro _sluice_model_spec(node=none, tests=none) %}
  {%- set meta = sluice._sluice_model_meta(node) -%}
  {%- set current = node if node is not none else model -%}
  {%- set model_name = current.name -%}
  {%- set known = ['key', 'source_system', 'target_system', 'owner', 'incremental', 'quarantine', 'gate', 'description', 'max_attempts', 'adopt_tests', 'deduplicate', 'attempt_interval', 'dead_letter_after', 'accepts', 'batch_id_column', 'mask', 'retention', 'grants', 'alerts'] -%}
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
  {%- set interval_s = sluice._sluice_duration(model_name, none, 'attempt_interval', sluice.get_setting('attempt_interval', meta)) or 0 -%}
  {%- set after_s = sluice._sluice_duration(model_name, none, 'dead_letter_after', sluice.get_setting('dead_letter_after', meta)) -%}
  {%- set adopt = meta.get('adopt_tests', true) -%}
  {%- if adopt not in (true, false) -%}
    {{ sluice._sluice_config_error(model_name, none, 'meta.sluice.adopt_tests', "expected true or false, got '" ~ adopt ~ "'") }}
  {%- endif -%}
  {%- do sluice._sluice_check_alerts(model_name, meta.get('alerts')) -%}
  {%- set kinds = sluice._sluice_test_kinds() -%}
  {%- set adoptable = sluice._sluice_adoptable_tests() -%}
  {%- set rules = [] -%}
  {%- set not_adopted = [] -%}
  {%- set adopted_namespaces = [] -%}
  {%- set nodes = (tests if tests is not none else graph.nodes.values() | selectattr('resource_type', 'equalto', 'test')) | sort(attribute='name') -%}
  {%- for node in nodes if node.attached_node == current.unique_id and node.test_metadata -%}
    {%- set tm = node.test_metadata -%}
    {%- set native = tm.name in kinds and tm.namespace in (none, 'sluice') -%}
    {%- set test_sluice = {} if native else sluice._sluice_test_meta(model_name, node) -%}
    {%- set kind = none -%}
    {%- set args = {} -%}
    {%- if native -%}
      {%- set kind = kinds[tm.name] -%}
      {%- do args.update(tm.kwargs) -%}
      {%- do args.update({'where': node.config.where}) -%}
    {%- elif adopt and test_sluice.get('adopt', true) and tm.name in adoptable and tm.namespace == adoptable[tm.name][0] -%}
      {%- set kind = adoptable[tm.name][1] -%}
      {%- set args = sluice._sluice_adopted_args(node, kind, tm) -%}
      {%- if (adoptable[tm.name][0] or 'dbt') not in adopted_namespaces -%}{%- do adopted_namespaces.append(adoptable[tm.name][0] or 'dbt') -%}{%- endif -%}
      {%- if kind == 'unique' and (rules | selectattr('kind', 'equalto', 'unique') | list | length) > 0 -%}
        {%- do not_adopted.append(node.name ~ " (a sluice model deduplicates on one uniqueness rule)") -%}
        {%- set kind = none -%}
      {%- elif kind == 'unique' and not args.get('route') -%}
        {%- do args.update({'route': 'deduplicate' if meta.get('deduplicate', false) else 'quarantine'}) -%}
      {%- endif -%}
    {%- elif adopt and test_sluice.get('adopt', true) and tm.name not in sluice._sluice_model_level_tests() -%}
      {%- do not_adopted.append(node.name ~ " (" ~ ((tm.namespace ~ '.') if tm.namespace else '') ~ tm.name ~ " is not a row rule sluice knows)") -%}
    {%- endif -%}
    {%- if kind is not none -%}
      {%- if kind in ('relationship', 'conflict') -%}
        {%- set reads = 'to' if kind == 'relationship' else 'with' -%}
        {%- set others = node.depends_on.nodes | reject('equalto', current.unique_id) | list -%}
        {%- set target_id = others[0] if others | length > 0 else current.unique_id -%}
        {%- set target_node = graph.nodes.get(target_id) or graph.sources.get(target_id) -%}
        {%- if target_id == current.unique_id -%}
          {%- do args.update({reads: this.render() if node is none else current.relation_name}) -%}
        {%- elif target_node is not none and target_node.relation_name -%}
          {%- do args.update({reads: target_node.relation_name}) -%}
        {%- endif -%}
        {%- if target_id in graph.nodes and target_id != current.unique_id -%}
          {%- do sluice._sluice_check_reads_upstream(current, node.name, graph.nodes[target_id]) -%}
        {%- endif -%}
      {%- endif -%}
      {%- set rule = sluice._sluice_rule(kind, model_name, node.name, args) -%}
      {%- do rule.update({'index': rules | length, 'owner': rule.owner or meta.get('owner'), 'description': node.description or none, 'max_attempts': (rule.max_attempts or max_attempts) | int}) -%}
      {%- do rule.update({
        'attempt_interval_s': sluice._sluice_duration(model_name, node.name, 'attempt_interval', rule.attempt_interval) if rule.attempt_interval is not none else interval_s,
        'dead_letter_after_s': sluice._sluice_duration(model_name, node.name, 'dead_letter_after', rule.dead_letter_after) if rule.dead_letter_after is not none else after_s,
      }) -%}
      {%- do rules.append(rule) -%}
      {%- if kind == 'relationship' -%}
        {%- set dependency = sluice._sluice_dependency_rule(current, rule, target_node if target_id in graph.nodes and target_id != current.unique_id else none) -%}
        {%- if dependency is not none -%}
          {%- do dependency.update({'index': rules | length}) -%}
          {%- do rules.append(dependency) -%}
        {%- endif -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}

  {%- set uniques = rules | selectattr('kind', 'equalto', 'unique') | list -%}
  {%- if uniques | length > 1 -%}
    {{ sluice._sluice_config_error(model_name, uniques[1].name, 'sluice_unique', "a sluice model takes one uniqueness rule (found " ~ (uniques | map(attribute='name') | join(', ')) ~ ")") }}
  {%- endif -%}

  {#- Every row needs an identity: a row whose key has a NULL part is held under this rule. -#}
  {%- set key_rule = sluice._sluice_rule('not_null', model_name, 'sluice_record_key', {'columns': key}) -%}
  {%- do key_rule.update({'kind': 'record_key', 'index': rules | length, 'owner': meta.get('owner'), 'max_attempts': max_attempts | int, 'attempt_interval_s': interval_s, 'dead_letter_after_s': after_s}) -%}
  {%- do rules.append(key_rule) -%}

  {%- do sluice._sluice_accepts(current) -%}
  {%- set batch_id_column = meta.get('batch_id_column') -%}
  {%- if batch_id_column is not none and (batch_id_column is not string or not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', batch_id_column)) -%}
    {{ sluice._sluice_config_error(model_name, none, 'meta.sluice.batch_id_column', "expected a column name (letters, digits, underscores), got '" ~ batch_id_column ~ "'") }}
  {%- endif -%}
  {%- set mask = sluice.get_setting('mask', meta) -%}
  {%- if mask is string -%}{%- set mask = [mask] -%}{%- endif -%}
  {%- if mask is none -%}{%- set mask = [] -%}{%- endif -%}
  {%- if mask is mapping or mask is not iterable or (mask | reject('string') | list | length) > 0 -%}
    {{ sluice._sluice_config_error(model_name, none, 'meta.sluice.mask', "expected a list of column names, got '" ~ mask ~ "'") }}
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
    'batch_id_column': meta.get('batch_id_column'),
    'mask': mask | map('lower') | list,
    'mask_on_model': 'mask' in meta,
    'source_system': meta.get('source_system'),
    'target_system': meta.get('target_system'),
    'owner': meta.get('owner'),
    'not_adopted': not_adopted,
    'adopted_namespaces': adopted_namespaces,
  }) }}
{% endmacro %}


{#- Every sluice model's settings and rules, checked by the package's on-run-start hook before
    any model runs: a bad `meta.sluice` or rule stops the build with the model and the key named,
    and nothing runs. The whole graph is checked, not only the selected models (as dbt parses the
    whole project): a broken sluice model stops `dbt build -s another_model` too. -#}
{% macro validate_models() %}
  {{ return(adapter.dispatch('validate_models', 'sluice')()) }}
{% endmacro %}

{% macro default__validate_models() %}
  {%- if not execute or flags.WHICH not in ('build', 'run', 'retry') -%}{{ return('') }}{%- endif -%}
  {%- do sluice._sluice_model_specs() -%}
  {{ return('') }}
{% endmacro %}


{#- Every sluice model of the graph with its spec, by unique id: (node, spec) pairs. The graph's
    tests are indexed once for all models. -#}
{% macro _sluice_model_specs() %}
  {%- set tests_of = {} -%}
  {%- for node in graph.nodes.values() if node.resource_type == 'test' and node.attached_node -%}
    {%- do tests_of.setdefault(node.attached_node, []).append(node) -%}
  {%- endfor -%}
  {%- set out = [] -%}
  {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
    {%- if node.resource_type == 'model' and node.config.materialized == 'sluice' -%}
      {%- do out.append((node, sluice._sluice_model_spec(node, tests_of.get(node.unique_id, [])))) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}


{#- A rule that reads another dbt node (a relationship rule's `to`) is evaluated while the model
    builds: the node must be upstream of the model, or dbt may build it after the model (or
    never, first time round) and the rule would check against its previous build, or fail on a
    missing relation. dbt offers a package no way to add the dependency; the model's SQL does,
    in one line. Refused at the start of the build, before anything runs. -#}
{% macro _sluice_check_reads_upstream(current, rule_name, target) %}
  {%- set seen = {} -%}
  {%- set queue = [current.unique_id] -%}
  {%- for _ in range(graph.nodes | length + 1) if queue -%}
    {%- set uid = queue.pop() -%}
    {%- set n = graph.nodes.get(uid) -%}
    {%- for parent in (n.depends_on.nodes if n is not none else []) if parent not in seen -%}
      {%- if parent == target.unique_id -%}{{ return(none) }}{%- endif -%}
      {%- do seen.update({parent: true}) -%}
      {%- do queue.append(parent) -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- set ref = "{{ ref('" ~ target.name ~ "') }}" if target.package_name == current.package_name else "{{ ref('" ~ target.package_name ~ "', '" ~ target.name ~ "') }}" -%}
  {{ sluice._sluice_config_error(current.name, rule_name, 'to', "the rule reads " ~ target.resource_type ~ " '" ~ target.name ~ "', which model '" ~ current.name ~ "' does not depend on: dbt may build it after this model, and the rule would check against its previous build or a missing relation. Add this line to " ~ current.original_file_path ~ ": -- depends_on: " ~ ref) }}
{% endmacro %}


{#- The rule that holds a row with the record it references: for a relationship rule whose `to`
    is a sluice model referenced on its (one-column) key, a row referencing a record that model
    holds is held too, class dependency_held, until that record is published (the row then
    recovers) or rejected (the row is then an orphan, and the relationship rule routes it). The
    held records are read from the parent's quarantine in the build (`masked`: the parent masks
    its key column, so its record keys hold the key's keyed hash). None when the rule does not
    reference a sluice model's key, or says `hold_with_parent: false`. -#}
{% macro _sluice_dependency_rule(current, rule, target) %}
  {%- if target is none or not rule.hold_with_parent or target.resource_type != 'model' or target.config.materialized != 'sluice' -%}{{ return(none) }}{%- endif -%}
  {%- set parent_key = (target.config.meta or {}).get('sluice', {}).get('key') -%}
  {%- if parent_key is string -%}{%- set parent_key = [parent_key] -%}{%- endif -%}
  {%- if not parent_key or parent_key | length != 1 or (parent_key[0] | lower) != (rule.field | string | lower) -%}{{ return(none) }}{%- endif -%}
  {%- set dependency = sluice._sluice_rule('relationship', current.name, rule.name ~ '__parent_held', {
    'columns': rule.columns, 'to': rule.to, 'field': rule.field, 'error_class': 'dependency_held',
    'owner': rule.owner, 'where': rule.where}) -%}
  {#- a parent keyed on a masked column holds its records under the key's keyed hash -#}
  {%- set parent_mask = sluice.get_setting('mask', (target.config.meta or {}).get('sluice', {})) or [] -%}
  {%- if parent_mask is string -%}{%- set parent_mask = [parent_mask] -%}{%- endif -%}
  {%- set masked = (parent_key[0] | lower) in (parent_mask | map('lower') | list) -%}
  {%- do dependency.update({
    'kind': 'dependency',
    'parent': {'unique_id': target.unique_id, 'name': target.name, 'relation': sluice._sluice_quarantine_relation(target), 'quarantine': sluice._sluice_quarantine_relation(target).render(), 'exists': true, 'masked': masked},
    'relationship_index': rule.index,
    'description': rule.columns | join(', ') ~ " references a record of " ~ target.name ~ " that is held",
    'max_attempts': none, 'attempt_interval_s': 0, 'dead_letter_after_s': none,
  }) -%}
  {%- do rule.update({'held_parent': dependency.parent}) -%}
  {{ return(dependency) }}
{% endmacro %}
