{#- The SQL of the audit. Everything reads the batch: the model's SQL evaluated once into a
    relation. A narrow pass finds the keys of failing rows (and of repeated groups); one more scan
    takes the few rows of those keys, and of NULL keys, with their full row, their identity and
    one flag per rule; everything after that reads this small table. -#}

{#- The values of the dedupe columns that repeat (sluice.repeated_keys_sql). -#}
{% macro _sluice_repeats_sql(batch, spec) %}
  {%- set columns = [] -%}
  {%- for c in spec.dedupe.columns -%}{%- do columns.append('s.' ~ spec.cols[c]) -%}{%- endfor -%}
  {{ return(sluice.repeated_keys_sql(batch, 's', columns)) }}
{% endmacro %}


{#- The repeated group of the row, if any: a left join to the distinct repeated values (one row
    per value, none of them NULL), so `_sluice_rep._sluice_d0 is not null` marks a repeated row.
    A join, not a correlated EXISTS: Snowflake takes those only in a WHERE clause, and never as
    an argument of OR. -#}
{% macro _sluice_repeat_join(spec, repeats, alias) -%}
  left join {{ repeats }} as _sluice_rep
    on {% for c in spec.dedupe.columns %}_sluice_rep._sluice_d{{ loop.index0 }} = {{ alias }}.{{ spec.cols[c] }}{{ " and " if not loop.last }}{% endfor %}
{%- endmacro %}


{#- The order of copies: the uniqueness rule's order_by, then the row's content, so that copy
    numbers do not depend on the engine's scan order. -#}
{% macro _sluice_copy_order(spec, row_json) -%}
  {%- set d = spec.dedupe -%}
  {%- if d is not none and d.order_by | length > 0 -%}{{ d.order_by | join(', ') }}, {% endif -%}
  {{ row_json }}
{%- endmacro %}


{#- Relationship rules, first as the keys of the batch missing from the referenced relation: a
    narrow anti-join the planner hashes at any size (the batch's key column against the target's),
    one common table per rule; then, in the scan, a join to those few missing keys. A join to every
    distinct target key instead spilled the whole wide scan to disk on PostgreSQL once the target's
    keys outgrew work_mem. A rule that references a sluice model's key also reads the records
    that model holds (sluice._sluice_held_parent_sql), one row per key: rows referencing them are
    held with them (class dependency_held), not as orphans. -#}
{#- Conflict rules' tables are left out with `counterpart` (see _sluice_failing_rows_sql). -#}
{% macro _sluice_reference_ctes(spec, batch, counterpart=false) -%}
  {%- set out = [] -%}
  {%- for r in spec.rules if r.kind == 'relationship' -%}
    {%- set c = spec.cols[r.column] -%}
    {%- do out.append("_sluice_missing" ~ r.index ~ " as (select distinct m." ~ c ~ " as _sluice_ref_miss from " ~ batch ~ " as m where m." ~ c ~ " is not null and not exists (select 1 from " ~ r.to ~ " as t where t." ~ r.field ~ " = m." ~ c ~ "))") -%}
    {%- if r.held_parent -%}
      {%- do out.append("_sluice_held" ~ r.index ~ " as (" ~ sluice._sluice_held_parent_sql(r) ~ ")") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- for r in spec.rules if r.kind == 'identity_conflict' or (r.kind == 'conflict' and not counterpart) -%}
    {%- do out.extend(sluice._sluice_conflict_ctes(r, batch, spec.cols)) -%}
  {%- endfor -%}
  {{ return(out) }}
{%- endmacro %}

{#- With `counterpart`, a conflict rule joins its counterpart relation itself
    (sluice._sluice_conflict_row_join), not the reduced one. -#}
{% macro _sluice_reference_joins(spec, alias, counterpart=false) -%}
  {%- for r in spec.rules if r.kind == 'relationship' %}
  left join _sluice_missing{{ r.index }} as _sluice_r{{ r.index }}
    on _sluice_r{{ r.index }}._sluice_ref_miss = {{ alias }}.{{ spec.cols[r.column] }}
    {%- if r.held_parent %}
  left join _sluice_held{{ r.index }} as _sluice_h{{ r.index }}
    on _sluice_h{{ r.index }}._sluice_held_key = {{ sluice._sluice_held_match(r, alias ~ '.' ~ spec.cols[r.column]) }}
    {%- endif -%}
  {%- endfor -%}
  {%- for r in spec.rules if r.kind in ('conflict', 'identity_conflict') %}
  {%- if counterpart and r.kind == 'conflict' %}
  {{ sluice._sluice_conflict_row_join(r, alias, spec.cols) }}
  {%- else %}
  {{ sluice._sluice_conflict_joins(r, alias, spec.cols) }}
  {%- endif %}
  {%- endfor -%}
{%- endmacro %}


{#- The keys of the records a relationship rule's parent (a sluice model) holds, decoded from its
    quarantine and cast to the referencing column's type, one row each with one of its open
    exceptions: a blocking failure, open or dead-lettered, of the record's first copy (a later
    copy held as a duplicate leaves the first one published). Nothing when the parent has no
    quarantine yet. -#}
{% macro _sluice_held_parent_sql(r) -%}
  {#- a masked parent key is the key's keyed hash, as text (sluice._sluice_held_match) -#}
  {%- set data_type = dbt.type_string() if r.held_parent.masked else r.column_types[0] -%}
  {%- if not r.held_parent.exists -%}
  select cast(null as {{ data_type }}) as _sluice_held_key, cast(null as {{ dbt.type_string() }}) as _sluice_held_exc where 1 = 0
  {%- else -%}
  {%- set decoded = sluice.json_array_text('record_key', 0) -%}
  {%- if not r.held_parent.masked and sluice._sluice_key_kind(data_type) == 'number' -%}
    {#- a number's text exactly as it was encoded, whatever its digits -#}
    {%- set decoded = "case when record_key like '[" ~ '"' ~ "%' then " ~ decoded ~ " else substr(record_key, 2, " ~ dbt.length('record_key') ~ " - 2) end" -%}
  {%- endif -%}
  select _sluice_held_key, min(exception_id) as _sluice_held_exc
  from (
    select {{ dbt.safe_cast(decoded, data_type) }} as _sluice_held_key, exception_id
    from {{ r.held_parent.quarantine }}
    where model_unique_id = {{ sluice._sluice_lit(r.held_parent.unique_id) }}
      and status in ('open', 'dead_letter') and route not in ('flag', 'deduplicate')
      and record_copy = 1 and record_key like '[%]'
  ) as p
  where _sluice_held_key is not null
  group by _sluice_held_key
  {%- endif -%}
{%- endmacro %}


{#- What a row's referencing value `expr` is matched against the held keys of rule r's parent
    as: the value itself, or, when the parent masks its key, the value's keyed hash (its text as
    for its kind, sluice._sluice_value_text), which is how the parent's record keys hold it. -#}
{% macro _sluice_held_match(r, expr) -%}
  {%- if r.held_parent.masked -%}
  {{ sluice._sluice_value_text(expr, sluice._sluice_masked_kind(sluice._sluice_key_kind(r.column_types[0]))) }}
  {%- else -%}
  {{ expr }}
  {%- endif -%}
{%- endmacro %}


{#- TRUE when the row fails rule r (row rules only; uniqueness is decided on copies). With
    `counterpart`, a conflict rule reads the counterpart row joined to it
    (_sluice_reference_joins with `counterpart`). -#}
{% macro _sluice_rule_fails(spec, r, alias, counterpart=false) -%}
  {%- if r.kind == 'record_key' -%}
  {{ sluice._sluice_any_null_sql(spec.key_parts, alias) }}
  {%- else -%}
  {%- if r.kind == 'relationship' and r.held_parent -%}
    {%- set pred = '(_sluice_r' ~ r.index ~ '._sluice_ref_miss is not null and _sluice_h' ~ r.index ~ '._sluice_held_key is null)' -%}
  {%- elif r.kind == 'relationship' -%}
    {%- set pred = '(_sluice_r' ~ r.index ~ '._sluice_ref_miss is not null)' -%}
  {%- elif r.kind == 'dependency' -%}
    {%- set pred = '(_sluice_h' ~ r.relationship_index ~ '._sluice_held_key is not null)' -%}
  {%- elif counterpart and r.kind == 'conflict' -%}
    {%- set pred = sluice._sluice_conflict_row_fails(r, alias, spec.cols) -%}
  {%- elif r.kind in ('conflict', 'identity_conflict') -%}
    {%- set pred = sluice._sluice_conflict_fails(r, alias, spec.cols) -%}
  {%- else -%}
    {%- set pred = sluice._sluice_failure_predicate(r, alias, spec.cols) -%}
  {%- endif -%}
  {%- if r.where -%}(({{ r.where }}) and {{ pred }}){%- else -%}{{ pred }}{%- endif -%}
  {%- endif -%}
{%- endmacro %}


{#- The rows worth reading in full, as a table: every row of a key that has a failing row or a
    repeated group, every row with a NULL key part, and (when reviewers rejected some) the rows
    of rejected records. Each carries its JSON, its record key and copy number, its dedupe copy
    number, one flag per rule and, where the engine has one, its address in the batch
    (sluice.row_id). -#}
{% macro _sluice_interesting_sql(batch, spec, repeats, quarantine, with_rejected) %}
  {%- set row_rules = spec.rules | rejectattr('kind', 'equalto', 'unique') | list -%}
  {%- set d = spec.dedupe -%}
  {%- set key_null = sluice._sluice_any_null_sql(spec.key_parts, 's') -%}
  {%- set fails = sluice._sluice_any_fails(spec, row_rules, 's') -%}
  {%- set repeat_join = sluice._sluice_repeat_join(spec, repeats, 's') if d is not none else '' -%}
  {#- The rows of every key with a failing row. When the duplicate rule is on the key itself,
      every key with more than one row is a repeat (all its rows fail that rule) and a key with
      one row is its failing row: one scan takes them all. Otherwise a first scan finds the
      failing keys and a second takes their rows. -#}
  {%- set on_key = [] -%}
  {%- if d is not none -%}
    {%- for c in d.columns -%}{%- do on_key.append(spec.cols[c]) -%}{%- endfor -%}
  {%- endif -%}
  {%- set one_scan = d is not none and (on_key | sort) == (spec.key_sql | sort) -%}
  {#- A conflict rule's counterpart is joined by the scan for the failing keys, which keeps the
      failing rows (sluice._sluice_failing_rows_sql): the batch is not read once more for it. -#}
  {%- set conflicts = spec.rules | selectattr('kind', 'equalto', 'conflict') | list -%}
  {%- set by_rows = not one_scan and conflicts | length > 0 -%}
  {%- set ctes = sluice._sluice_reference_ctes(spec, batch, counterpart=by_rows) -%}
  {%- if by_rows -%}
    {%- do ctes.append(sluice._sluice_failing_rows_sql(spec, batch, row_rules, repeat_join)) -%}
    {%- set keys = [] -%}
    {%- for k in spec.key_sql -%}{%- do keys.append('f._sluice_k' ~ loop.index0) -%}{%- endfor -%}
    {%- do ctes.append("_sluice_failing_keys as (select distinct " ~ (keys | join(', ')) ~ " from _sluice_failing_rows as f)") -%}
    {%- for r in conflicts -%}
      {%- do ctes.extend(sluice._sluice_conflict_ctes(r, batch, spec.cols, failing='_sluice_failing_rows')) -%}
    {%- endfor -%}
  {%- elif not one_scan -%}
    {%- set failing_keys -%}
  _sluice_failing_keys as (
    select distinct {% for k in spec.key_sql %}s.{{ k }} as _sluice_k{{ loop.index0 }}{{ ", " if not loop.last }}{% endfor %}
    from {{ batch }} as s
    {{- sluice._sluice_reference_joins(spec, 's') }}
    {{ repeat_join }}
    where {{ fails }}
  )
    {%- endset -%}
    {%- do ctes.append(failing_keys) -%}
  {%- endif %}
  {%- if ctes %}
  with {{ ctes | join(",\n  ") }}
  {%- endif %}
  {#- identical copies tie in both orders: the copy number follows the dedupe number, so the
      copy held as a repeat is the same one every build -#}
  select j.*,
    row_number() over (partition by j._sluice_record order by {{ sluice._sluice_copy_order(spec, 'j._sluice_row_json') }}, j._sluice_dup) as _sluice_copy
  from (
    select i.*,
      {{ sluice._sluice_record_key_expr(spec.key_parts, 'i', sluice._sluice_row_values_sql(spec.value_columns, 'i')) }} as _sluice_record
    from (
      select d0.*,
        {%- if d is not none %}
        case when d0._sluice_in_rep
          then row_number() over (
            partition by {% for c in d.columns %}d0.{{ spec.cols[c] }}{{ ", " if not loop.last }}{% endfor %}
            order by {{ sluice._sluice_copy_order(spec, 'd0._sluice_row_json') }})
          else 1 end as _sluice_dup
        {%- else %}
        1 as _sluice_dup
        {%- endif %}
      from (
        select s.*,
          {%- if sluice.row_id('s', spec.columns) %}
          {{ sluice.row_id('s', spec.columns) }} as _sluice_row_id,
          {%- endif %}
          {{ sluice.row_to_json(spec.columns, 's', sluice._sluice_masked_values(spec, 's')) }} as _sluice_row_json
          {%- for r in row_rules %},
          {{ sluice._sluice_rule_fails(spec, r, 's') }} as _sluice_f{{ r.index }}
          {%- if r.kind == 'dependency' %},
          _sluice_h{{ r.relationship_index }}._sluice_held_exc as _sluice_parent{{ r.index }}
          {%- elif r.kind in ('conflict', 'identity_conflict') %}
          {%- set evidence = sluice._sluice_conflict_evidence(r, 's', spec.cols, sluice._sluice_conflict_systems(r, spec.model_name, spec.source_system, spec.target_system)) %},
          {{ evidence[0] }} as _sluice_cfields{{ r.index }},
          {{ evidence[1] }} as _sluice_cvalues{{ r.index }},
          {{ evidence[2] }} as _sluice_cmessage{{ r.index }}
          {%- endif %}
          {%- endfor %}
          {%- if d is not none %},
          (_sluice_rep._sluice_d0 is not null) as _sluice_in_rep
          {%- endif %}
        from {{ batch }} as s
        {{- sluice._sluice_reference_joins(spec, 's') }}
        {{ repeat_join }}
        {%- if not one_scan %}
        left join _sluice_failing_keys as fk
          on {% for k in spec.key_sql %}fk._sluice_k{{ loop.index0 }} = s.{{ k }}{{ " and " if not loop.last }}{% endfor %}
        {%- endif %}
        {%- if with_rejected %}
        left join (
          select distinct q.record_key as _sluice_rejected
          from {{ quarantine }} as q
          where q.model_unique_id = {{ sluice._sluice_lit(model.unique_id) }} and q.status = 'rejected'
        ) as _sluice_rej
          on _sluice_rej._sluice_rejected = {{ sluice._sluice_record_key_expr(spec.key_parts, 's') }}
        {%- endif %}
        where {{ key_null }}
          {%- if one_scan %}
          or {{ fails }}
          {%- else %}
          or (fk._sluice_k0 is not null)
          {%- endif %}
          {%- if with_rejected %}
          or (_sluice_rej._sluice_rejected is not null)
          {%- endif %}
      ) as d0
    ) as i
  ) as j
{% endmacro %}


{#- The failing rows of the batch, narrow: their key (_sluice_k<n>) and what each conflict
    rule needs of them (sluice._sluice_conflict_row_columns), from one scan that joins each
    conflict rule's counterpart relation. A row comes once per counterpart row it matches:
    only distinct values are read from here. -#}
{% macro _sluice_failing_rows_sql(spec, batch, row_rules, repeat_join) %}
  {%- set conflicts = spec.rules | selectattr('kind', 'equalto', 'conflict') | list -%}
  _sluice_failing_rows as (
    select {% for k in spec.key_sql %}s.{{ k }} as _sluice_k{{ loop.index0 }}, {% endfor %}
      {%- for r in conflicts %}{{ sluice._sluice_conflict_row_columns(r, 's', spec.cols) }}{{ ", " if not loop.last }}{% endfor %}
    from {{ batch }} as s
    {{- sluice._sluice_reference_joins(spec, 's', counterpart=true) }}
    {{ repeat_join }}
    where {{ sluice._sluice_any_fails(spec, row_rules, 's', counterpart=true) }}
  )
{%- endmacro %}


{#- TRUE when the row of `alias` fails a row rule or is in a repeated group. -#}
{% macro _sluice_any_fails(spec, row_rules, alias, counterpart=false) -%}
  {% for r in row_rules if r.kind != 'record_key' %}{{ sluice._sluice_rule_fails(spec, r, alias, counterpart) }} or {% endfor %}
  {%- if spec.dedupe is not none %} (_sluice_rep._sluice_d0 is not null) or{% endif %} false
{%- endmacro %}


{#- The flag of rule r on a row of the interesting table. -#}
{% macro _sluice_flag(spec, r, alias) -%}
  {%- if r.kind == 'unique' -%}({{ alias }}._sluice_dup > 1){%- else -%}{{ alias }}._sluice_f{{ r.index }}{%- endif -%}
{%- endmacro %}


{#- One exception per (record, copy, rule), with every quarantine column, plus whether it keeps
    its row out of the published relation, and what the quarantine held for it when the audit
    began, read here once so that later statements need not join the quarantine again:
    `_sluice_status`, its status once reviewers' decisions were applied (NULL: a new exception),
    and `_sluice_was_open`, whether it was open or dead-lettered before this build. `before` holds
    the model's statuses when the build began; `quarantine` is given when this build changed
    some before the audit (decisions applied, records upgraded or re-keyed), and is then read
    for the status. -#}
{% macro _sluice_exceptions_sql(spec, interesting, before, quarantine=none) %}
  {#- the literals every rule's branch shares, built once -#}
  {%- set s = dbt.type_string() -%}
  {%- set i_type = dbt.type_int() -%}
  {%- set now = sluice.utc_now() -%}
  {%- set inv = sluice._sluice_lit(invocation_id, s) -%}
  {%- set model_id = sluice._sluice_lit(model.unique_id ~ '|', s) -%}
  {%- set model_name = sluice._sluice_lit(spec.model_name, s) -%}
  {%- set model_unique_id = sluice._sluice_lit(model.unique_id, s) -%}
  {%- set source_system = sluice._sluice_lit(spec.source_system, s) -%}
  {%- set target_system = sluice._sluice_lit(spec.target_system, s) -%}
  {%- set open_status = sluice._sluice_lit('open', s) -%}
  select n.*, {{ 'b' if quarantine is none else 'q' }}.status as _sluice_status,
    (case when b.status in ('open', 'dead_letter') then true else false end) as _sluice_was_open
  from (
  {%- for r in spec.rules %}
  select
    {{ dbt.hash(dbt.concat([model_id, "i._sluice_record", "'|'", "cast(i._sluice_copy as " ~ s ~ ")", sluice._sluice_lit('|' ~ r.name, s)])) }} as exception_id,
    {{ model_name }} as model_name,
    {{ model_unique_id }} as model_unique_id,
    i._sluice_record as record_key,
    cast(i._sluice_copy as {{ i_type }}) as record_copy,
    {{ sluice._sluice_lit(r.name, s) }} as rule_name,
    {{ sluice._sluice_lit(r.error_class, s) }} as error_class,
    {{ sluice._sluice_lit(r.severity, s) }} as severity,
    {{ sluice._sluice_lit(r.route, s) }} as route,
    {{ sluice._sluice_lit(r.owner, s) }} as owner,
    {%- if r.kind in ('conflict', 'identity_conflict') %}
    {#- a conflict's systems, and its evidence: the fields in conflict, with both values -#}
    {%- set systems = sluice._sluice_conflict_systems(r, spec.model_name, spec.source_system, spec.target_system) %}
    {{ sluice._sluice_lit(systems[0], s) }} as source_system,
    {{ sluice._sluice_lit(systems[1], s) }} as target_system,
    i._sluice_cmessage{{ r.index }} as message,
    i._sluice_cfields{{ r.index }} as failed_column,
    i._sluice_cvalues{{ r.index }} as failed_value,
    {%- else %}
    {{ source_system }} as source_system,
    {{ target_system }} as target_system,
    {%- if r.kind == 'dependency' %}
    {{ dbt.concat([sluice._sluice_lit(sluice._sluice_rule_message(r) ~ ' (held by exception ', s), 'i._sluice_parent' ~ r.index, "')'"]) }} as message,
    {%- else %}
    {{ sluice._sluice_lit(sluice._sluice_rule_message(r), s) }} as message,
    {%- endif %}
    {{ sluice._sluice_lit(r.columns | join(', ') if r.columns else none, s) }} as failed_column,
    {%- if r.columns | length == 1 and r.key_columns[0][1].startswith('masked_') %}
    {{ sluice._sluice_value_text('i.' ~ spec.cols[r.columns[0]], r.key_columns[0][1]) }} as failed_value,
    {%- elif r.columns | length == 1 %}
    cast(i.{{ spec.cols[r.columns[0]] }} as {{ s }}) as failed_value,
    {%- elif r.columns | length > 1 %}
    {{ sluice._sluice_record_key_expr(r.key_columns, 'i') }} as failed_value,
    {%- else %}
    cast(null as {{ s }}) as failed_value,
    {%- endif %}
    {%- endif %}
    {{ inv }} as invocation_id,
    {{ inv }} as first_invocation_id,
    {{ now }} as first_seen_at,
    {{ now }} as last_seen_at,
    cast(1 as {{ i_type }}) as attempt_count,
    {{ open_status }} as status,
    {{ now }} as status_changed_at,
    {{ inv }} as status_invocation_id,
    i._sluice_row_json as row_json,
    {{ 'true' if r.blocking else 'false' }} as _sluice_blocking,
    {{ 'true' if r.route == 'deduplicate' else 'false' }} as _sluice_set_aside
  from {{ interesting }} as i
  where {{ sluice._sluice_flag(spec, r, 'i') }}
  {{ "union all" if not loop.last }}
  {%- endfor %}
  ) as n
  left join {{ before }} as b on b.exception_id = n.exception_id
  {%- if quarantine is not none %}
  left join {{ quarantine }} as q on q.exception_id = n.exception_id
  {%- endif %}
{% endmacro %}


{#- One row per record (record_key, record_copy) that has an exception in this build or is kept
    out of the published relation otherwise: `_sluice_hold` is 1 (held: a blocking failure that
    no reviewer released, or a reviewer's rejection), 0 (set aside as a duplicate copy) or NULL
    (published); `_sluice_hold_undecided` is 1 when a blocking failure of the record is still open
    or dead-lettered (a record held only by a rejection, or set aside, is decided);
    `_sluice_has_exc` is 1 when the record has an exception in this build (published, it is
    flagged). An exception's status is the one the exceptions carry (_sluice_status): the upsert
    changes neither a release nor a rejection, and leaves every other exception of the batch open
    or dead-lettered. One aggregate over the exceptions; the quarantine's rejected records
    (`with_rejected`: the model has some, or reviewers' rejections about to apply) and, with a
    uniqueness rule, the copies a release swapped are added to it only where they can exist. -#}
{% macro _sluice_held_sql(spec, interesting, exc_rel, quarantine, with_rejected) %}
  {%- set holds = "e._sluice_blocking and coalesce(e._sluice_status, 'open') <> 'released'" -%}
  {%- set by_exceptions -%}
  select e.record_key, e.record_copy,
    max(case when {{ holds }} then (case when e._sluice_set_aside then 0 else 1 end) end) as _sluice_hold,
    max(case when {{ holds }} then (case when not e._sluice_set_aside and coalesce(e._sluice_status, 'open') not in ('released', 'rejected') then 1 else 0 end) end) as _sluice_hold_undecided,
    1 as _sluice_has_exc
  from {{ exc_rel }} as e
  group by e.record_key, e.record_copy
  {%- endset -%}
  {%- if not with_rejected and spec.dedupe is none -%}{{ return(by_exceptions) }}{%- endif -%}
  select record_key, record_copy, max(_sluice_hold) as _sluice_hold,
    max(_sluice_hold_undecided) as _sluice_hold_undecided, max(_sluice_has_exc) as _sluice_has_exc
  from (
    {{ by_exceptions }}
    {%- if with_rejected %}
    union all
    select q.record_key, q.record_copy, 1 as _sluice_hold, 0 as _sluice_hold_undecided, 0 as _sluice_has_exc
    from {{ quarantine }} as q
    where q.model_unique_id = {{ sluice._sluice_lit(model.unique_id) }} and q.status = 'rejected'
    {%- endif %}
    {%- if spec.dedupe is not none %}
    union all
    {{ sluice._sluice_swapped_copies_sql(spec, interesting, exc_rel, quarantine) }}
    {%- endif %}
  ) as x
  group by record_key, record_copy
{% endmacro %}


{#- Interesting rows joined to their hold (sluice._sluice_held_sql): `_sluice_hold`,
    `_sluice_hold_undecided` and `_sluice_has_exc`, NULL for a row with no exception that is
    not held. -#}
{% macro _sluice_decided_rows_sql(spec, interesting, exc_rel, quarantine, with_rejected) %}
  select i.*, h._sluice_hold, h._sluice_hold_undecided, h._sluice_has_exc
  from {{ interesting }} as i
  left join (
    {{ sluice._sluice_held_sql(spec, interesting, exc_rel, quarantine, with_rejected) }}
  ) as h
    on h.record_key = i._sluice_record and h.record_copy = i._sluice_copy
{% endmacro %}


{#- A reviewer who releases a duplicate copy chooses it as the one published: the copy of its
    group that would have been kept (the first), and any later released copy of the group, are
    set aside instead, so that a decision never publishes a group twice. -#}
{% macro _sluice_swapped_copies_sql(spec, interesting, exc_rel, quarantine) %}
  {%- set d = spec.dedupe -%}
  select o._sluice_record as record_key, o._sluice_copy as record_copy, 0 as _sluice_hold, 0 as _sluice_hold_undecided, 0 as _sluice_has_exc
  from {{ interesting }} as o
  join (
    select {% for c in d.columns %}r.{{ spec.cols[c] }} as _sluice_g{{ loop.index0 }}, {% endfor %}min(r._sluice_dup) as _sluice_chosen
    from {{ interesting }} as r
    join {{ exc_rel }} as e
      on e.record_key = r._sluice_record and e.record_copy = r._sluice_copy
        and e.rule_name = {{ sluice._sluice_lit(d.name) }} and e._sluice_status = 'released'
    where r._sluice_dup > 1
    group by {% for c in d.columns %}r.{{ spec.cols[c] }}{{ ", " if not loop.last }}{% endfor %}
  ) as g
    on {% for c in d.columns %}g._sluice_g{{ loop.index0 }} = o.{{ spec.cols[c] }} and {% endfor %}o._sluice_dup <> g._sluice_chosen
{% endmacro %}
