{#- Load states: what each build of a relation gave its consumers.

    Every build of a sluice model appends one row to sluice_load_states, in its transaction:
    `complete` (nothing held), `exception_filtered` (published without rows its own rules held),
    `upstream_held` (published without rows held with the records they reference, or built from
    an input that was not complete), `recovered` (published rows that were held before), `held`
    (the gate held, or an input was not accepted: the last good data stays), `overridden`
    (published despite the gate, by a reviewer's approved override, without the rows its rules
    held: sluice review override). A model (sluice or
    not) or an exposure says in `meta.sluice.accepts` which states of its inputs it builds from;
    an input's load a reviewer accepted (`sluice review accept-load`) is accepted once, that load
    only. The package's views sluice_load_state (the latest per relation) and sluice_load_history
    read the table with the acceptances. -#}

{% macro _sluice_load_states() %}
  {{ return(['complete', 'exception_filtered', 'upstream_held', 'recovered', 'held', 'overridden']) }}
{% endmacro %}


{% macro _sluice_load_states_columns() %}
  {%- set s = dbt.type_string() -%}
  {%- set ts = dbt.type_timestamp() -%}
  {%- set bi = dbt.type_bigint() -%}
  {{ return([
    ('invocation_id', s), ('model_unique_id', s), ('model_name', s), ('relation_name', s),
    ('state', s), ('as_of', ts), ('published_at', ts), ('rows_in', bi), ('rows_published', bi),
    ('rows_held', bi), ('missing', s), ('inputs_json', s),
  ]) }}
{% endmacro %}


{#- A node's `meta.sluice.accepts`: the list of input states it builds from, or none (it builds
    from any). A compile error naming the node on a bad value. -#}
{% macro _sluice_accepts(node) %}
  {%- set meta = (node.config.meta or {}).get('sluice') or {} -%}
  {%- set accepts = meta.get('accepts') if meta is mapping else none -%}
  {%- if accepts is none -%}{{ return(none) }}{%- endif -%}
  {%- if accepts is string -%}{%- set accepts = [accepts] -%}{%- endif -%}
  {%- set known = sluice._sluice_load_states() -%}
  {%- for state in accepts if state not in known -%}
    {{ sluice._sluice_config_error(node.name, none, 'meta.sluice.accepts', "unknown load state '" ~ state ~ "' (expected a list of: " ~ (known | join(', ')) ~ ")") }}
  {%- endfor -%}
  {{ return(accepts | list) }}
{% endmacro %}


{#- The sluice models a node reads: the nearest ones upstream on every path (through models
    that are not sluice models), by unique id. -#}
{% macro _sluice_upstream_sluice_models(node) %}
  {%- set found = [] -%}
  {%- set seen = {} -%}
  {%- set queue = [node.unique_id] -%}
  {%- for _ in range(graph.nodes | length + 1) if queue -%}
    {%- set n = graph.nodes.get(queue.pop()) -%}
    {%- for parent in (n.depends_on.nodes if n is not none else []) if parent not in seen -%}
      {%- do seen.update({parent: true}) -%}
      {%- set p = graph.nodes.get(parent) -%}
      {%- if p is not none and p.resource_type == 'model' and p.config.materialized == 'sluice' -%}
        {%- do found.append(parent) -%}
      {%- elif p is not none -%}
        {%- do queue.append(parent) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(found | sort) }}
{% endmacro %}


{#- The latest load of each of these models, with the reviewer who accepted it (if one did):
    a list of mappings (unique_id, name, state, invocation_id, missing, accepted_by, reason).
    A model that never recorded a load is not listed. -#}
{% macro _sluice_input_loads(unique_ids) %}
  {%- if unique_ids | length == 0 or not execute -%}{{ return([]) }}{%- endif -%}
  {%- set states = sluice._sluice_bookkeeping_relation('load_states_table') -%}
  {%- if adapter.get_relation(database=states.database, schema=states.schema, identifier=states.identifier) is none -%}{{ return([]) }}{%- endif -%}
  {%- set decisions = sluice._sluice_bookkeeping_relation('decisions_table') -%}
  {%- set ids = [] -%}
  {%- for uid in unique_ids -%}{%- do ids.append(sluice._sluice_lit(uid)) -%}{%- endfor -%}
  {%- set sql -%}
    select l.model_unique_id, l.model_name, l.state, l.invocation_id, l.missing, a.decided_by, a.reason
    from (
      select t.*, row_number() over (partition by t.model_unique_id order by t.as_of desc, t.invocation_id desc) as _sluice_rn
      from {{ states }} as t
      where t.model_unique_id in ({{ ids | join(', ') }})
    ) as l
    left join ({{ sluice._sluice_load_acceptances_sql(decisions) }}) as a
      on a.model_unique_id = l.model_unique_id and a.invocation_id = l.invocation_id
    where l._sluice_rn = 1
    order by l.model_unique_id
  {%- endset -%}
  {%- set out = [] -%}
  {%- for row in run_query(sql).rows -%}
    {%- do out.append({'unique_id': row[0], 'name': row[1], 'state': row[2], 'invocation_id': row[3], 'missing': row[4], 'accepted_by': row[5], 'reason': row[6]}) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}


{#- Reviewers' acceptances of loads (decision `accept_load`, the load's invocation in
    exception_id as `load:<invocation id>`), the latest per load, with author and reason. -#}
{% macro _sluice_load_acceptances_sql(decisions) %}
  select model_unique_id, invocation_id, decided_by, decided_at, reason
  from (
    select d.model_unique_id, substr(d.exception_id, 6) as invocation_id, d.decided_by, d.decided_at, d.reason,
      row_number() over (partition by d.model_unique_id, d.exception_id order by d.decided_at desc, d.decision_id desc) as _sluice_rn
    from {{ decisions }} as d
    where d.decision = 'accept_load' and d.exception_id like 'load:%'
      and coalesce(trim(d.decided_by), '') <> '' and coalesce(trim(d.reason), '') <> ''
  ) as x
  where _sluice_rn = 1
{% endmacro %}


{#- The inputs whose load a node does not accept: neither a state it accepts nor accepted by a
    reviewer. -#}
{% macro _sluice_unaccepted(inputs, accepts) %}
  {%- set out = [] -%}
  {%- for i in inputs if accepts is not none and i.state not in accepts and not i.accepted_by -%}
    {%- do out.append(i) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}


{#- An input in words: `products is exception_filtered (1 row held by products_type)`, and who
    accepted it. -#}
{% macro _sluice_input_text(i, detail=true) %}
  {%- set text = i.name ~ " is " ~ i.state ~ ((" (" ~ i.missing ~ ")") if i.missing and detail else "") -%}
  {%- if i.accepted_by -%}{%- set text = text ~ ", accepted by " ~ i.accepted_by ~ ": " ~ i.reason -%}{%- endif -%}
  {{ return(text) }}
{% endmacro %}


{#- A node's state from its inputs alone: complete when every input is complete or recovered,
    else upstream_held, with what is missing. -#}
{% macro _sluice_inputs_state(inputs) %}
  {%- set partial = [] -%}
  {%- for i in inputs if i.state not in ('complete', 'recovered') -%}
    {%- do partial.append(sluice._sluice_input_text(i, detail=false)) -%}
  {%- endfor -%}
  {{ return(('upstream_held', "built from " ~ (partial | join('; '))) if partial else ('complete', none)) }}
{% endmacro %}


{#- The statement that records one load of the model being built (once per invocation). For a
    held load, the data published is the previous load's: its time is carried over. -#}
{% macro _sluice_record_load_sql(state, missing, inputs, counts={}) %}
  {%- set states = sluice._sluice_bookkeeping_relation('load_states_table') -%}
  {%- set mid = sluice._sluice_lit(model.unique_id) -%}
  {%- set inv = sluice._sluice_lit(invocation_id) -%}
  {%- set bi = dbt.type_bigint() -%}
  {%- set input_list = [] -%}
  {%- for i in inputs -%}
    {%- do input_list.append({'model': i.name, 'state': i.state, 'invocation_id': i.invocation_id, 'accepted_by': i.accepted_by}) -%}
  {%- endfor -%}
  {%- set published_at -%}
    {%- if state == 'held' -%}
    (select max(p.published_at) from {{ states }} as p where p.model_unique_id = {{ mid }})
    {%- else -%}
    {{ sluice.utc_now() }}
    {%- endif -%}
  {%- endset -%}
  {%- set _sql0 -%}
    insert into {{ states }} ({{ sluice._sluice_load_states_columns() | map(attribute=0) | join(', ') }})
    select {{ inv }}, {{ mid }}, {{ sluice._sluice_lit(model.name) }}, {{ sluice._sluice_lit(this.render()) }},
      {{ sluice._sluice_lit(state) }}, {{ sluice.utc_now() }}, {{ published_at }},
      {%- for c in ['rows_in', 'rows_published', 'rows_held'] %}
      {{ ("cast(" ~ counts[c] ~ " as " ~ bi ~ ")") if counts.get(c) is not none else ("cast(null as " ~ bi ~ ")") }},
      {%- endfor %}
      {{ sluice._sluice_lit(missing) }}, {{ sluice._sluice_lit(tojson(input_list)) }}
    where not exists (
      select 1 from {{ states }} as x where x.invocation_id = {{ inv }} and x.model_unique_id = {{ mid }}
    )
  {%- endset -%}
  {{ return(_sql0) }}
{% endmacro %}


{#- The message of a model that waits: which inputs, in which state, and the way out. -#}
{% macro _sluice_wait_message(name, unaccepted, accepts) %}
  {%- set parts = [] -%}
  {%- for i in unaccepted -%}{%- do parts.append(sluice._sluice_input_text(i)) -%}{%- endfor -%}
  {{ return("sluice: model '" ~ name ~ "' is waiting for complete input: " ~ (parts | join('; ')) ~ ". It accepts " ~ (accepts | join(', ')) ~ "; its last good data stays in place. To build once from " ~ ("this load" if unaccepted | length == 1 else "these loads") ~ ": sluice review accept-load " ~ (unaccepted | map(attribute='name') | join(' ')) ~ " --by NAME --reason TEXT") }}
{% endmacro %}


{#- For any model (a pre-hook): when the model says which input states it `accepts` and an
    input's latest load is not one of them, the model does not build: its load is recorded as
    held, with the reason, and it ends in error, so that dbt skips what reads it. Its last good
    data stays. Nothing for a model without `accepts`.

        models:
          my_project:
            marts:
              +pre-hook: "{{ sluice.wait_for_inputs() }}"
              +post-hook: "{{ sluice.record_load_state() }}"
-#}
{% macro wait_for_inputs() %}
  {%- if not execute or model.resource_type != 'model' -%}{{ return('') }}{%- endif -%}
  {%- set node = graph.nodes.get(model.unique_id) -%}
  {%- set accepts = sluice._sluice_accepts(node) -%}
  {%- if accepts is none or node.config.materialized == 'sluice' -%}{{ return('') }}{%- endif -%}
  {%- set inputs = sluice._sluice_input_loads(sluice._sluice_upstream_sluice_models(node)) -%}
  {%- set unaccepted = sluice._sluice_unaccepted(inputs, accepts) -%}
  {%- if unaccepted | length > 0 -%}
    {%- set message = sluice._sluice_wait_message(node.name, unaccepted, accepts) -%}
    {%- do sluice._sluice_record_held_load(inputs, unaccepted) -%}
    {{ exceptions.raise_compiler_error(message) }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}


{#- Records the held load of a model that waits, committed before the model ends in error (on
    Snowflake in the package's transaction with the model's lock row: sluice.run_atomically). -#}
{% macro _sluice_record_held_load(inputs, unaccepted) %}
  {%- set parts = [] -%}
  {%- for i in unaccepted -%}{%- do parts.append(sluice._sluice_input_text(i)) -%}{%- endfor -%}
  {%- do sluice._sluice_ensure_table(sluice._sluice_bookkeeping_relation('load_states_table'), sluice._sluice_load_states_columns()) -%}
  {%- do sluice.run_atomically('sluice_record_held_load', [sluice._sluice_record_load_sql('held', "waiting for complete input: " ~ (parts | join('; ')), inputs)]) -%}
  {% do adapter.commit() %}
{% endmacro %}


{#- For any model that is not a sluice model (a post-hook, in the model's transaction): records
    its load, complete when every sluice model it reads gave a complete or recovered load, else
    upstream_held with what was missing. -#}
{% macro record_load_state() %}
  {%- if not execute or model.resource_type != 'model' -%}{{ return('') }}{%- endif -%}
  {%- set node = graph.nodes.get(model.unique_id) -%}
  {%- if node.config.materialized == 'sluice' -%}{{ return('') }}{%- endif -%}
  {%- set inputs = sluice._sluice_input_loads(sluice._sluice_upstream_sluice_models(node)) -%}
  {%- set state = sluice._sluice_inputs_state(inputs) -%}
  {{ return(sluice._sluice_record_load_sql(state[0], state[1], inputs)) }}
{% endmacro %}


{#- A published build's load: exception_filtered when its own rules hold rows still undecided;
    upstream_held when the only rows it holds wait for the records they reference, or an input
    was not complete; recovered when exceptions closed (rows held before are published now);
    else complete. With what is missing, in words. -#}
{% macro _sluice_published_load(spec, stats, rule_counts, closing, inputs) %}
  {%- set own = [] -%}
  {%- set parents = [] -%}
  {%- for r in spec.rules if r.blocking and r.route != 'deduplicate' and rule_counts[r.name] > 0 -%}
    {%- if r.kind == 'dependency' -%}
      {%- if r.parent.name not in parents -%}{%- do parents.append(r.parent.name) -%}{%- endif -%}
    {%- else -%}
      {%- do own.append(r.name) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set upstream = sluice._sluice_inputs_state(inputs) -%}
  {%- set n = stats.rows_held_open -%}
  {%- set rows = n ~ " row" ~ ("s" if n != 1 else "") ~ " held" -%}
  {%- if n > 0 and own | length > 0 -%}
    {{ return(('exception_filtered', rows ~ " by " ~ (own | join(', ')) ~ ((" and with held records of " ~ (parents | join(', '))) if parents else ""))) }}
  {%- elif n > 0 or upstream[0] != 'complete' -%}
    {%- set parts = ([rows ~ " with the held records of " ~ (parents | join(', ')) ~ " they reference"] if n > 0 else []) + ([upstream[1]] if upstream[1] else []) -%}
    {{ return(('upstream_held', parts | join('; '))) }}
  {%- elif closing > 0 -%}
    {{ return(('recovered', closing ~ " exception" ~ ("s" if closing != 1 else "") ~ " closed: rows held before are published")) }}
  {%- endif -%}
  {{ return(('complete', none)) }}
{% endmacro %}
