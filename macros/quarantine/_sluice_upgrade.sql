{#- Upgrading a 0.1.0 quarantine to the JSON record identity (sluice._sluice_record_key_expr).

    0.1.0 keyed a record by its key values' text joined with '|' (NULL as ''), and its exception
    id hashed that text with the copy and the rule. The first build of the model with this
    version gives every such exception its JSON identity, whatever its status and whether or not
    its row is still in the source, before the audit reads the quarantine; its history follows
    it (the quarantine row and its events are re-keyed in place; reviewers' decisions are not
    rewritten: those still to apply are applied, under the old id, before the upgrade).

    Each exception's key is decoded from its text, part by part, and each part encoded like a
    live value of the key column, so a record still in the source gets the identity its row has
    now. The text is split on '|'; where that is ambiguous (a part holds '|' itself: 0.1.0 could
    not tell ('x|y','z') from ('x','y|z')) or a text part is empty (NULL and '' both wrote ''),
    the exception's evidence, the row 0.1.0 kept in row_json, decides. An exception that 0.1.0
    shared between several records therefore goes to the record whose row it kept; the others
    are records of their own, evaluated by this build. A key with a NULL part takes the hash of
    that evidence, as a live row with a NULL key part takes the hash of its own row.

    Several exceptions can come to one identity (0.1.0 wrote '2' and '2.00' for one value after
    a type change; or one was already upgraded): one quarantine row stays, a rejection first,
    then the latest status change, the others are removed, and every event goes to the one
    that stays. -#}
{% macro _sluice_upgrade_legacy_sql(spec, quarantine, events, before) %}
  {%- set mid = sluice._sluice_lit(model.unique_id) -%}
  {%- set n = spec.key_parts | length -%}
  {%- set upgrade = sluice._sluice_scratch_relation('__sluice_upg') -%}
  {#- a key redacted by `sluice review forget` is not a legacy key -#}
  {%- set legacy = "q.model_unique_id = " ~ mid ~ " and q.record_key not like '[%' and q.record_key not like '" ~ sluice._sluice_redaction_prefix() ~ "%'" -%}
  {%- set plain = sluice._sluice_legacy_plain_sql(spec, 'q.record_key') -%}
  {%- set evidence_rows = run_query("select q.exception_id, q.record_key, q.row_json from " ~ quarantine ~ " as q where " ~ legacy ~ " and not " ~ plain).rows if execute else [] -%}
  {%- set decoded = [] -%}
  {%- for row in evidence_rows -%}
    {%- set parts = sluice._sluice_legacy_parts(spec, row[1], row[2]) -%}
    {%- set literals = [sluice._sluice_lit(row[0]) ~ " as _sluice_legacy_id"] -%}
    {%- for p in parts -%}{%- do literals.append(sluice._sluice_lit(p) ~ " as _sluice_p" ~ loop.index0) -%}{%- endfor -%}
    {%- do decoded.append("select " ~ (literals | join(', '))) -%}
  {%- endfor -%}
  {%- set parts = ["'['"] -%}
  {%- set nulls = [] -%}
  {%- for quoted, kind in spec.key_parts -%}
    {%- if not loop.first -%}{%- do parts.append("','") -%}{%- endif -%}
    {%- do parts.append(sluice._sluice_legacy_part_json('l._sluice_p' ~ loop.index0, kind)) -%}
    {%- do nulls.append('l._sluice_p' ~ loop.index0 ~ ' is null') -%}
  {%- endfor -%}
  {%- do parts.append("']'") -%}
  {%- do parts.append("(case when " ~ (nulls | join(' or ')) ~ " then " ~ dbt.concat(["'#'", dbt.hash('l.row_json')]) ~ " else '' end)") -%}
  {%- set new_key = dbt.concat(parts) -%}
  {%- set new_id = dbt.hash(dbt.concat([sluice._sluice_lit(model.unique_id ~ '|'), 'k.new_key', "'|'", 'cast(k.record_copy as ' ~ dbt.type_string() ~ ')', "'|'", 'k.rule_name'])) -%}
  {%- set mapping -%}
    with legacy as (
      select q.exception_id, q.record_copy, q.rule_name, q.status, q.status_changed_at, q.row_json
        {%- for i in range(n) %},
        {{ "nullif(q.record_key, '')" if n == 1 else "nullif(" ~ dbt.split_part('q.record_key', "'|'", i + 1) ~ ", '')" }} as _sluice_p{{ i }}
        {%- endfor %}
      from {{ quarantine }} as q
      where {{ legacy }} and {{ plain }}
      {%- if decoded %}
      union all
      select q.exception_id, q.record_copy, q.rule_name, q.status, q.status_changed_at, q.row_json
        {%- for i in range(n) %}, d._sluice_p{{ i }}{% endfor %}
      from {{ quarantine }} as q
      join ({{ decoded | join(' union all ') }}) as d on d._sluice_legacy_id = q.exception_id
      {%- endif %}
    ),
    keyed as (
      select l.exception_id, l.record_copy, l.rule_name, l.status, l.status_changed_at, {{ new_key }} as new_key
      from legacy as l
    ),
    moved as (
      select k.exception_id as legacy_id, {{ new_id }} as new_id, k.new_key, k.status, k.status_changed_at
      from keyed as k
    )
  {%- endset -%}
  {{ return(sluice._sluice_rekey_sql(upgrade, mapping, quarantine, events, before)) }}
{% endmacro %}


{#- Moves exceptions to a new identity, history and all. `moved_sql` is a WITH clause whose last
    table, `moved`, gives each exception to move (legacy_id) its new id and key, its status and
    when it changed. Several exceptions can come to one identity (among them one already there):
    one quarantine row stays, a rejection first, then the latest status change, the others are
    removed, and every event goes to the one that stays.

    Returned as {ddl, dml, after}: the mapping's scratch table is created empty (`ddl`), filled
    and applied by DML only (`dml`: on Snowflake inside the package's transaction, which DDL
    would commit; sluice.run_atomically), and dropped (`after`). -#}
{% macro _sluice_rekey_sql(upgrade, moved_sql, quarantine, events, before, rewrite_events=true) %}
  {%- set mid = sluice._sluice_lit(model.unique_id) -%}
  {%- set mapping -%}
    {{ moved_sql }}
    select c.legacy_id, c.new_id, c.new_key,
      row_number() over (
        partition by c.new_id
        order by case when c.status = 'rejected' then 0 else 1 end, c.status_changed_at desc, c.legacy_id
      ) as _sluice_rank
    from (
      select legacy_id, new_id, new_key, status, status_changed_at from moved
      union all
      select q.exception_id, q.exception_id, q.record_key, q.status, q.status_changed_at
      from {{ quarantine }} as q
      where q.model_unique_id = {{ mid }} and q.exception_id in (select new_id from moved)
    ) as c
  {%- endset -%}
  {%- set ddl = [sluice._sluice_create_scratch_sql(upgrade, "select * from (" ~ mapping ~ ") as m where 1 = 0")] -%}
  {%- set out = ["insert into " ~ upgrade ~ " select * from (" ~ mapping ~ ") as m"] -%}
  {%- if not rewrite_events -%}
    {%- do out.append(sluice._sluice_rekeyed_events_sql(upgrade, quarantine, events)) -%}
  {%- endif -%}
  {%- set dropped = "select legacy_id from " ~ upgrade ~ " where _sluice_rank > 1" -%}
  {%- do out.append("delete from " ~ before ~ " where exception_id in (" ~ dropped ~ ")") -%}
  {%- do out.append("delete from " ~ quarantine ~ " where model_unique_id = " ~ mid ~ " and exception_id in (" ~ dropped ~ ")") -%}
  {%- set rewritten = [(quarantine, ['exception_id', 'record_key'], true)] + ([(events, ['exception_id', 'record_key'], true)] if rewrite_events else []) + [(before, ['exception_id'], false)] -%}
  {%- for rel, columns, scoped in rewritten -%}
    {%- set update -%}
    update {{ rel }} as t set
      {%- for c in columns %}
      {{ c }} = {{ 'u.new_id' if c == 'exception_id' else sluice._sluice_redaction_sql('u.new_key') if rel == events else 'u.new_key' }}{{ "," if not loop.last }}
      {%- endfor %}
    from {{ upgrade }} as u
    where t.exception_id = u.legacy_id and u.legacy_id <> u.new_id
      {%- if scoped %} and t.model_unique_id = {{ mid }}{% endif %}
    {%- endset -%}
    {%- do out.append(update) -%}
  {%- endfor -%}
  {{ return({'ddl': ddl, 'dml': out, 'after': sluice._sluice_drop_scratch_sql([upgrade])}) }}
{% endmacro %}


{#- The history of a move that leaves the sealed events as they were written: the moved
    exception's history ends with a `rekeyed` event (to `withdrawn`, naming the exception it
    became), and the exception it became, where it is kept, starts with one (to its status,
    naming the one it came from). Both are sealed with this build's events. -#}
{% macro _sluice_rekeyed_events_sql(upgrade, quarantine, events) %}
  {%- set inv = sluice._sluice_lit(invocation_id) -%}
  {%- set now = sluice.utc_now() -%}
  {%- set base = "q.model_name, q.model_unique_id" -%}
  {%- set tail = "q.record_copy, q.rule_name, q.error_class, q.severity, q.route, q.owner" -%}
  {%- set away_id = dbt.hash(dbt.concat(["u.legacy_id", "'|rekeyed|'", "u.new_id"])) -%}
  {%- set here_id = dbt.hash(dbt.concat(["u.new_id", "'|rekeyed from|'", "u.legacy_id"])) -%}
  {%- set _sql -%}
    insert into {{ events }} ({{ sluice._sluice_events_columns() | map(attribute=0) | join(', ') }})
    select {{ away_id }}, u.legacy_id, {{ base }}, {{ sluice._sluice_redaction_sql('q.record_key') }}, {{ tail }},
      q.status, 'withdrawn', q.attempt_count, {{ inv }}, {{ now }}, 'sluice',
      {{ dbt.concat(["'record identity moved to exception '", "u.new_id"]) }}, 'rekeyed', cast(null as {{ dbt.type_timestamp() }})
    from {{ upgrade }} as u
    join {{ quarantine }} as q on q.exception_id = u.legacy_id
    where u.legacy_id <> u.new_id
      and not exists (select 1 from {{ events }} as e where e.event_id = {{ away_id }})
    union all
    select {{ here_id }}, u.new_id, {{ base }}, {{ sluice._sluice_redaction_sql('u.new_key') }}, {{ tail }},
      q.status, q.status, q.attempt_count, {{ inv }}, {{ now }}, 'sluice',
      {{ dbt.concat(["'record identity moved from exception '", "u.legacy_id"]) }}, 'rekeyed', cast(null as {{ dbt.type_timestamp() }})
    from {{ upgrade }} as u
    join {{ quarantine }} as q on q.exception_id = u.legacy_id
    where u.legacy_id <> u.new_id and u._sluice_rank = 1
      and not exists (select 1 from {{ events }} as e where e.event_id = {{ here_id }})
  {%- endset -%}
  {{ return(_sql) }}
{% endmacro %}


{#- Rows with a NULL key part were identified by a hash of their JSON (`#` and the hash), which
    changed with any column's type and with every added column; they are now identified by
    their values (`#v` and the hash, sluice._sluice_row_values_sql). The first build that finds
    such a key moves each of its exceptions to the identity its row has now, read from the rows
    of the batch (a row no longer in the source keeps its old key, and its exception is
    withdrawn as before). Its sealed events stay as they were written; the move is recorded by
    `rekeyed` events (sluice._sluice_rekeyed_events_sql). In a build that upgrades a
    0.1.0 quarantine (`rewrite_events`), whose events it re-keys in place anyway, the events
    move with their exception instead. The old identity is rebuilt from the
    batch as it was written: the key array, then `#` and the hash of the row's JSON as
    sluice.row_to_json wrote it (sluice._sluice_row_json_v1). -#}
{% macro _sluice_rekey_null_keys_sql(spec, batch, quarantine, events, before, rewrite_events=false) %}
  {%- set old_key = dbt.concat([sluice._sluice_record_key_expr(spec.key_parts, 's'), "'#'", dbt.hash(sluice._sluice_row_json_v1(spec.columns, 's'))]) -%}
  {%- set new_key = sluice._sluice_record_key_expr(spec.key_parts, 's', sluice._sluice_row_values_sql(spec.value_columns, 's')) -%}
  {{ return(sluice._sluice_rekey_batch_rows_sql('__sluice_upn', old_key, new_key, sluice._sluice_any_null_sql(spec.key_parts, 's'), batch, quarantine, events, before, rewrite_events)) }}
{% endmacro %}


{#- Records whose key has a date or a timestamp were keyed, before this release, with the
    engine's cast of the value to text (sluice.session_time_text), which followed the session's
    output formats: on Snowflake by default `2024-01-03 10:00:00.000` for a time of day (and
    milliseconds only), and `2024-01-03 10:00:00.000 +0200` for a timestamp with a time zone.
    Their keys are now written in one explicit format (sluice._sluice_value_text). The first
    build that finds a stored key of that shape moves each exception whose row is in its batch
    to the key the row has now, history and all, as rows with a NULL key part are moved
    (`rekeyed` events; the sealed history stays as written). An exception whose row has left
    the source keeps its old key and is withdrawn as before. -#}
{% macro _sluice_rekey_time_formats_sql(spec, batch, quarantine, events, before, rewrite_events=false) %}
  {%- set parts = ["'['"] -%}
  {%- for quoted, kind in spec.key_parts -%}
    {%- if not loop.first -%}{%- do parts.append("','") -%}{%- endif -%}
    {%- if kind in ('datetime', 'instant') -%}
      {%- do parts.append("coalesce(" ~ sluice.json_text(sluice.session_time_text('s.' ~ quoted, kind)) ~ ", 'null')") -%}
    {%- else -%}
      {%- do parts.append(sluice._sluice_key_part('s.' ~ quoted, kind)) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do parts.append("']'") -%}
  {%- set new_key = sluice._sluice_record_key_expr(spec.key_parts, 's') -%}
  {{ return(sluice._sluice_rekey_batch_rows_sql('__sluice_upt', dbt.concat(parts), new_key, "not " ~ sluice._sluice_any_null_sql(spec.key_parts, 's'), batch, quarantine, events, before, rewrite_events)) }}
{% endmacro %}


{#- TRUE when the model's stored keys may hold a date or a timestamp as an earlier release wrote
    it on Snowflake (sluice.session_time_text): a time with three digits of a second's fraction
    and nothing or a time zone offset after them. Keys of this release match it only for a time
    at an exact millisecond; the move then finds nothing to do. -#}
{% macro _sluice_session_time_key_sql(column) -%}
  ({{ column }} like '%:__.___"%' or {{ column }} like '%:__.___ _____"%')
{%- endmacro %}


{#- Moves the exceptions keyed by `old_key` to `new_key`, both computed from the rows of the batch
    (alias `s`) that satisfy `where`, with sluice._sluice_rekey_sql. -#}
{% macro _sluice_rekey_batch_rows_sql(suffix, old_key, new_key, where, batch, quarantine, events, before, rewrite_events) %}
  {%- set upgrade = sluice._sluice_scratch_relation(suffix) -%}
  {%- set new_id = dbt.hash(dbt.concat([sluice._sluice_lit(model.unique_id ~ '|'), 'r.new_key', "'|'", 'cast(q.record_copy as ' ~ dbt.type_string() ~ ')', "'|'", 'q.rule_name'])) -%}
  {%- set moved -%}
    with rows_now as (
      select distinct {{ old_key }} as old_key, {{ new_key }} as new_key
      from {{ batch }} as s
      where {{ where }}
    ),
    moved as (
      select q.exception_id as legacy_id, {{ new_id }} as new_id, r.new_key, q.status, q.status_changed_at
      from {{ quarantine }} as q
      join rows_now as r on r.old_key = q.record_key
      where q.model_unique_id = {{ sluice._sluice_lit(model.unique_id) }} and r.old_key <> r.new_key
    )
  {%- endset -%}
  {{ return(sluice._sluice_rekey_sql(upgrade, moved, quarantine, events, before, rewrite_events)) }}
{% endmacro %}


{#- TRUE when a 0.1.0 key text splits into the key's parts unambiguously: as many '|' as
    separators (one key column: always), and no empty part of a text column. -#}
{% macro _sluice_legacy_plain_sql(spec, key_text) -%}
  {%- set n = spec.key_parts | length -%}
  {%- set conditions = [] -%}
  {%- if n > 1 -%}
    {%- do conditions.append("(" ~ dbt.length(key_text) ~ " - " ~ dbt.length(dbt.replace(key_text, "'|'", "''")) ~ ") = " ~ (n - 1)) -%}
  {%- endif -%}
  {%- for quoted, kind in spec.key_parts if kind == 'text' -%}
    {%- do conditions.append((key_text if n == 1 else dbt.split_part(key_text, "'|'", loop.index)) ~ " <> ''") -%}
  {%- endfor -%}
  ({{ conditions | join(' and ') if conditions else 'true' }})
{%- endmacro %}


{#- The parts of a 0.1.0 key text (NULL as none) that the split cannot decide, read with the
    evidence: a text part is the evidence's value where the text holds it at that place; an empty
    text part is '' only where the evidence says ''. Without usable evidence, the first '|'
    separate the parts. -#}
{% macro _sluice_legacy_parts(spec, key_text, row_json) %}
  {%- set evidence = {} -%}
  {%- for name, value in (fromjson(row_json or '{}', {}) or {}).items() -%}
    {%- do evidence.update({name | lower: value}) -%}
  {%- endfor -%}
  {%- set n = spec.key_parts | length -%}
  {%- set state = namespace(rest=key_text or '') -%}
  {%- set parts = [] -%}
  {%- for k in spec.key -%}
    {%- set kind = spec.key_parts[loop.index0][1] -%}
    {%- set seen = evidence.get(k | lower) -%}
    {%- if loop.last -%}
      {%- set part = state.rest -%}
    {%- elif seen is string and kind == 'text' and state.rest.startswith(seen ~ '|') -%}
      {%- set part = seen -%}
    {%- else -%}
      {%- set part = state.rest.split('|', 1)[0] -%}
    {%- endif -%}
    {%- set state.rest = state.rest[part | length + 1:] -%}
    {%- if part == '' and not (kind == 'text' and seen is string and seen == '') -%}
      {%- do parts.append(none) -%}
    {%- else -%}
      {%- do parts.append(part) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(parts) }}
{% endmacro %}


{#- One decoded 0.1.0 key part (text, or NULL) as JSON, encoded like a live value of its kind
    (sluice._sluice_key_part); a part that no longer reads as its column's kind (the column
    changed type since) stays a JSON string. -#}
{% macro _sluice_legacy_part_json(part, kind) -%}
  {%- if kind == 'number' -%}
  (case when {{ part }} is null then 'null'
    when {{ sluice.is_castable(part, 'decimal(38, 9)') }} then {{ sluice._sluice_key_part('cast(' ~ part ~ ' as decimal(38, 9))', 'number') }}
    else {{ sluice._sluice_key_part(part, 'text') }} end)
  {%- elif kind == 'boolean' -%}
  (case when {{ part }} is null then 'null'
    when lower({{ part }}) in ('true', 't') then 'true'
    when lower({{ part }}) in ('false', 'f') then 'false'
    else {{ sluice._sluice_key_part(part, 'text') }} end)
  {%- elif kind == 'datetime' -%}
  (case when {{ part }} is null then 'null'
    when {{ sluice.is_castable(part, 'timestamp') }} then {{ sluice._sluice_key_part('cast(' ~ part ~ ' as ' ~ dbt.type_timestamp() ~ ')', 'datetime') }}
    else {{ sluice._sluice_key_part(part, 'text') }} end)
  {%- else -%}
  {{ sluice._sluice_key_part(part, 'text') }}
  {%- endif -%}
{%- endmacro %}
