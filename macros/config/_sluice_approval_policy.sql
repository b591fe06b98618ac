{#- The approval policy (var sluice_approval_policy): a list of entries, the first that matches
    an exception deciding what a decision on it needs. An entry matches by any of `severity`,
    `model` (name or unique_id), `rule`, `route` (a value or a list; a key left out matches
    everything) and says `approvers` (how many distinct identities must approve, default 1),
    `self_approval` (whether the requester's own identity counts as one of them, default true)
    and `reason_pattern` (a regular expression the request's reason must contain, checked by
    `sluice review`), `groups` (who may request and approve: members of these groups, var
    sluice_approver_groups or the warehouse's roles, checked by `sluice review`). No entry matches: one approver, the requester (the behaviour before
    policies). A bad entry stops the build naming the var, the entry and the key. -#}
{% macro _sluice_approval_policy() %}
  {%- set policy = sluice.get_setting('approval_policy') or [] -%}
  {%- set where = "sluice: var 'sluice_approval_policy'" -%}
  {%- if policy is mapping or policy is string or policy is not iterable -%}
    {{ exceptions.raise_compiler_error(where ~ " must be a list of entries, got " ~ policy) }}
  {%- endif -%}
  {%- set known = ['name', 'severity', 'model', 'rule', 'route', 'approvers', 'self_approval', 'reason_pattern', 'groups'] -%}
  {%- set entries = [] -%}
  {%- for entry in policy -%}
    {%- set at = where ~ ", entry " ~ loop.index -%}
    {%- if entry is not mapping -%}
      {{ exceptions.raise_compiler_error(at ~ ": expected a mapping, got " ~ entry) }}
    {%- endif -%}
    {%- for key in entry if key not in known -%}
      {{ exceptions.raise_compiler_error(at ~ ": unknown key '" ~ key ~ "' (expected one of " ~ known | join(', ') ~ ")") }}
    {%- endfor -%}
    {%- set approvers = entry.get('approvers', 1) -%}
    {%- if approvers is not number or approvers is boolean or approvers < 1 or approvers != (approvers | int) -%}
      {{ exceptions.raise_compiler_error(at ~ ": key 'approvers' must be a whole number of at least 1, got " ~ approvers) }}
    {%- endif -%}
    {%- set self_ok = entry.get('self_approval', true) -%}
    {%- if self_ok is not boolean -%}
      {{ exceptions.raise_compiler_error(at ~ ": key 'self_approval' must be true or false, got " ~ self_ok) }}
    {%- endif -%}
    {%- set match = {} -%}
    {%- for key in ['severity', 'model', 'rule', 'route', 'groups'] if entry.get(key) is not none -%}
      {%- set value = entry[key] -%}
      {%- set values = [value] if value is string else value -%}
      {%- if value is mapping or values is not iterable or values | length == 0 or values | reject('string') | list | length > 0 -%}
        {{ exceptions.raise_compiler_error(at ~ ": key '" ~ key ~ "' must be a name or a list of names, got " ~ value) }}
      {%- endif -%}
      {%- if key == 'severity' -%}
        {%- for s in values if s not in sluice.get_setting('severities') -%}
          {{ exceptions.raise_compiler_error(at ~ ": key 'severity': unknown severity '" ~ s ~ "' (expected one of " ~ sluice.get_setting('severities') | join(', ') ~ ")") }}
        {%- endfor -%}
      {%- endif -%}
      {%- do match.update({key: values}) -%}
    {%- endfor -%}
    {%- set groups = match.pop('groups', none) -%}
    {%- do entries.append({'name': entry.get('name') or ('entry ' ~ loop.index), 'match': match, 'approvers': approvers | int, 'self_approval': self_ok, 'groups': groups}) -%}
  {%- endfor -%}
  {{ return(entries) }}
{% endmacro %}


{#- Whether the decisions `d` (with `approvers`: the distinct identities other than the
    requester's that approved it) on the exceptions `q` of this model are accepted by the policy:
    a SQL condition, per entry from the first that matches. -#}
{% macro _sluice_policy_accepts_sql(q='q', d='d') %}
  {%- set ns = namespace(cases=[]) -%}
  {%- for entry in sluice._sluice_approval_policy() -%}
    {%- set models = entry.match.get('model') -%}
    {%- if models is none or model.name in models or model.unique_id in models -%}
      {%- set conditions = [] -%}
      {%- for key, column in [('severity', 'severity'), ('rule', 'rule_name'), ('route', 'route')] if key in entry.match -%}
        {%- set listed = [] -%}
        {%- for v in entry.match[key] -%}{%- do listed.append(sluice._sluice_lit(v)) -%}{%- endfor -%}
        {%- do conditions.append(q ~ '.' ~ column ~ ' in (' ~ listed | join(', ') ~ ')') -%}
      {%- endfor -%}
      {%- set count = d ~ '.approvers' ~ (' + 1' if entry.self_approval else '') -%}
      {%- do ns.cases.append('when ' ~ (conditions | join(' and ') or '1 = 1') ~ ' then (case when ' ~ count ~ ' >= ' ~ entry.approvers ~ ' then 1 else 0 end)') -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if not ns.cases -%}{{ return('1 = 1') }}{%- endif -%}
  {{ return('(case ' ~ ns.cases | join(' ') ~ ' else 1 end) = 1') }}
{% endmacro %}
