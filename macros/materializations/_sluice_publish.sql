{#- Steps of the sluice materialization that read the batch's columns and publish from it. -#}

{#- Resolves every column the key and the rules name against the batch's real columns: the
    quoted names, the key's encoding kinds, the columns whose values are kept as evidence. -#}
{% macro _sluice_resolve_columns(spec, batch) %}
  {%- set columns = adapter.get_columns_in_relation(batch) -%}
  {%- set names = columns | map(attribute='name') | list -%}
  {%- set by_lower = {} -%}
  {%- for c in columns -%}{%- do by_lower.update({c.name | lower: c}) -%}{%- endfor -%}
  {%- if spec.batch_id_column and (spec.batch_id_column | lower) in by_lower -%}
    {{ sluice._sluice_config_error(spec.model_name, none, 'meta.sluice.batch_id_column', "column '" ~ spec.batch_id_column ~ "' is already a column of the model: sluice adds it to the published rows, the model's SQL must not select it") }}
  {%- endif -%}
  {#- masked columns: their evidence and key text is a keyed hash (macros/privacy) -#}
  {%- set masked = [] -%}
  {%- for name in spec.mask -%}
    {%- if name in by_lower -%}
      {%- do masked.append(name) -%}
    {%- elif spec.mask_on_model -%}
      {{ sluice._sluice_config_error(spec.model_name, none, 'meta.sluice.mask', "column '" ~ name ~ "' is not a column of the model (columns: " ~ (names | join(', ')) ~ ")") }}
    {%- endif -%}
  {%- endfor -%}
  {#- a column read through sluice.cast keeps its raw text beside it: masked with it -#}
  {%- for c in columns if (c.name | lower).endswith('__sluice_raw') and (c.name | lower)[:-12] in masked -%}
    {%- do masked.append(c.name | lower) -%}
  {%- endfor -%}
  {%- if masked -%}{%- do sluice._sluice_mask_key(spec) -%}{%- endif -%}
  {#- a conflict rule's evidence shows the compared values of both systems: not on masked columns -#}
  {%- for r in spec.rules if masked and r.kind in ('conflict', 'identity_conflict') -%}
    {%- set conflict = r.get('conflict') or {} -%}
    {%- set read = (r.columns or []) + ((conflict.get('fields') or []) | map(attribute='column') | list) + ((conflict.get('on') or []) | map('first') | list) -%}
    {%- for c in read if (c | lower) in masked -%}
      {{ sluice._sluice_config_error(spec.model_name, r.name, 'meta.sluice.mask', "column '" ~ c ~ "' is masked, and a conflict rule's evidence shows the values it compares: mask another column, or leave this rule out of the model") }}
    {%- endfor -%}
  {%- endfor -%}
  {%- set kind_of = {} -%}
  {%- for c in columns -%}
    {%- set kind = sluice._sluice_key_kind(c.data_type) -%}
    {%- do kind_of.update({c.name | lower: sluice._sluice_masked_kind(kind) if (c.name | lower) in masked else kind}) -%}
  {%- endfor -%}
  {%- set cols = {} -%}
  {%- set keys = [] -%}
  {%- for k in spec.key -%}
    {%- if (k | lower) not in by_lower -%}
      {{ sluice._sluice_config_error(spec.model_name, none, 'meta.sluice.key', "column '" ~ k ~ "' is not a column of the model (columns: " ~ (names | join(', ')) ~ ")") }}
    {%- endif -%}
    {%- set c = by_lower[k | lower] -%}
    {%- do keys.append((adapter.quote(c.name), kind_of[c.name | lower], c.data_type)) -%}
    {%- do cols.update({k: adapter.quote(c.name)}) -%}
  {%- endfor -%}
  {%- for r in spec.rules -%}
    {%- set rule_keys = [] -%}
    {%- set column_types = [] -%}
    {%- for c in r.columns -%}
      {%- if (c | lower) not in by_lower -%}
        {{ sluice._sluice_config_error(spec.model_name, r.name, 'column_name', "column '" ~ c ~ "' is not a column of the model (columns: " ~ (names | join(', ')) ~ ")") }}
      {%- endif -%}
      {%- set col = by_lower[c | lower] -%}
      {%- do cols.update({c: adapter.quote(col.name)}) -%}
      {%- do rule_keys.append((adapter.quote(col.name), kind_of[col.name | lower])) -%}
      {%- do column_types.append(col.data_type) -%}
    {%- endfor -%}
    {%- do r.update({'key_columns': rule_keys, 'column_types': column_types}) -%}
    {%- if r.held_parent -%}
      {%- set pq = r.held_parent.relation -%}
      {%- do r.held_parent.update({'exists': adapter.get_relation(database=pq.database, schema=pq.schema, identifier=pq.identifier) is not none}) -%}
    {%- endif -%}
  {%- endfor -%}
  {#- a column read through sluice.cast: its rows that did not cast are held, its raw text is
      evidence and never published -#}
  {%- set raw_columns = sluice._sluice_raw_columns(columns) -%}
  {%- set key_rule = spec.rules | selectattr('kind', 'equalto', 'record_key') | first -%}
  {%- for raw, typed in raw_columns if spec.rules | selectattr('name', 'equalto', 'sluice_cast_' ~ (typed.name | lower)) | list | length == 0 -%}
    {%- set rule = sluice._sluice_rule('expression', spec.model_name, 'sluice_cast_' ~ (typed.name | lower), {
      'expression': adapter.quote(raw.name) ~ " is null or " ~ adapter.quote(typed.name) ~ " is not null",
      'column_name': raw.name,
      'error_class': 'schema_violation',
      'owner': spec.owner,
    }) -%}
    {%- do rule.update({
      'index': spec.rules | length,
      'description': typed.name ~ " cannot be read as " ~ typed.data_type,
      'max_attempts': key_rule.max_attempts,
      'attempt_interval_s': key_rule.attempt_interval_s,
      'dead_letter_after_s': key_rule.dead_letter_after_s,
    }) -%}
    {%- do cols.update({raw.name: adapter.quote(raw.name)}) -%}
    {%- do rule.update({'key_columns': [(adapter.quote(raw.name), sluice._sluice_masked_kind('text') if (raw.name | lower) in masked else 'text')]}) -%}
    {%- do spec.rules.append(rule) -%}
  {%- endfor -%}
  {%- set value_columns = [] -%}
  {%- set masked_values = {} -%}
  {%- for c in columns -%}
    {%- do value_columns.append((adapter.quote(c.name), kind_of[c.name | lower], c.name)) -%}
    {%- if (c.name | lower) in masked -%}
      {%- do masked_values.update({c.name: kind_of[c.name | lower]}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do spec.update({
    'raw_columns': raw_columns | map(attribute=0) | list,
    'columns': names,
    'value_columns': value_columns,
    'cols': cols,
    'key_sql': keys | map(attribute=0) | list,
    'key_parts': sluice._sluice_pairs(keys),
    'key_types': keys,
    'masked': masked_values,
  }) -%}
{% endmacro %}


{% macro _sluice_pairs(keys) %}
  {%- set out = [] -%}
  {%- for k in keys -%}{%- do out.append((k[0], k[1])) -%}{%- endfor -%}
  {{ return(out) }}
{% endmacro %}


{#- A key whose type changed so that equal values can no longer be matched (a number became
    text, ...) is refused with both types named, before anything is written. An incremental
    build publishes into a relation keyed by the same columns; a table build is checked when
    the quarantine holds records of the model that later builds act on (`in_force`: open, dead
    letter, rejected, released), which are keyed by the old values. Numbers of any SQL type, and
    dates and timestamps, keep their identity (sluice._sluice_key_kind). -#}
{% macro _sluice_check_key_types(spec, dest_columns, incremental, in_force) %}
  {%- set published = {} -%}
  {%- for c in dest_columns -%}{%- do published.update({c.name | lower: c}) -%}{%- endfor -%}
  {%- for k in spec.key -%}
    {%- set new = spec.key_types[loop.index0] -%}
    {%- set old = published.get(k | lower) -%}
    {%- if old is none and incremental -%}
      {{ sluice._sluice_config_error(spec.model_name, none, 'meta.sluice.key', "column '" ~ k ~ "' is not a column of the published relation " ~ this ~ "; rebuild it with --full-refresh") }}
    {%- endif -%}
    {#- a masked key column (sluice._sluice_masked_kind) is compared by the kind it masks -#}
    {%- set new_kind = new[1][7:] if new[1].startswith('masked_') else new[1] -%}
    {%- set kind = sluice._sluice_key_kind(old.data_type) if old is not none else new_kind -%}
    {%- if kind != new_kind -%}
      {%- set changed = "column '" ~ k ~ "' changed type from " ~ old.data_type ~ " (published) to " ~ new[2] ~ " (this build): " -%}
      {%- if incremental -%}
        {{ sluice._sluice_config_error(spec.model_name, none, 'meta.sluice.key', changed ~ "its values cannot be matched with the published records. Cast it back to a " ~ kind ~ " type, or rebuild with --full-refresh") }}
      {%- else -%}
        {{ sluice._sluice_config_error(spec.model_name, none, 'meta.sluice.key', changed ~ "the quarantine holds " ~ in_force ~ " exception(s) of the model (open, dead letter, rejected or released) keyed by its old values, which would be left behind as records of their own. Cast it back to a " ~ kind ~ " type; or, to start the model's records over, run with --full-refresh and the var sluice_full_refresh_quarantine: true (the quarantine is cleared, the history stays)") }}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}


{#- Takes the held rows out of the batch. Where rows have an address (sluice.row_id), exactly the
    held and set-aside rows are deleted by it. Elsewhere the interesting rows leave, found by key
    and identity (keys equal under a collation can be different records), and the rows that are
    not held go back in (rows sharing a key with a held row are published). The rows with a NULL
    key part leave by a delete of their own: Snowflake takes no correlated EXISTS as an argument
    of OR. `with_rejected`: as for sluice._sluice_held_sql. -#}
{% macro _sluice_take_held_out_sql(spec, batch, interesting, exc_rel, quarantine, with_rejected) %}
  {%- if sluice.row_id('i', spec.columns) -%}
    {%- set ids -%}
    select r._sluice_row_id from ({{ sluice._sluice_decided_rows_sql(spec, interesting, exc_rel, quarantine, with_rejected) }}) as r
    where r._sluice_hold is not null
    {%- endset -%}
    {{ return([sluice.delete_row_ids_sql(batch, ids)]) }}
  {%- endif -%}
  {%- set _sql_null -%}
    delete from {{ batch }}
    where {{ sluice._sluice_any_null_sql(spec.key_parts, batch) }}
  {%- endset -%}
  {%- set _sql0 -%}
    delete from {{ batch }}
    where exists (
        select 1 from {{ interesting }} as i
        where {% for k in spec.key_sql %}i.{{ k }} = {{ batch }}.{{ k }} and {% endfor %}i._sluice_record = {{ sluice._sluice_record_key_expr(spec.key_parts, batch) }}
      )
  {%- endset -%}
  {%- set _sql1 -%}
    insert into {{ batch }} ({% for c in spec.columns %}{{ adapter.quote(c) }}{{ ", " if not loop.last }}{% endfor %})
    select {% for c in spec.columns %}r.{{ adapter.quote(c) }}{{ ", " if not loop.last }}{% endfor %}
    from ({{ sluice._sluice_decided_rows_sql(spec, interesting, exc_rel, quarantine, with_rejected) }}) as r
    where r._sluice_hold is null
  {%- endset -%}
  {{ return([_sql_null, _sql0, _sql1]) }}
{% endmacro %}


{#- A held gate is the model's outcome, not a broken model: the message says so first, with no
    macro traceback. dbt labels an error raised in a materialization by its exception class; of
    the classes Jinja can raise, compilation errors carry the macro stack, while dbt's database
    error prints only its message (and still fails the model, so that dbt skips downstream). -#}
{% macro _sluice_raise_gate(message) %}
  {{ exceptions.raise_database_error(message) }}
{% endmacro %}


{#- The build's figures as one JSON object after a fixed marker, in the model's result message:
    what the sidecar reads when it has no warehouse, instead of parsing the sentence.
    rows_held_open: the held rows not decided yet (held by an open or dead-lettered failure). -#}
{% macro _sluice_counts_payload(spec, stats, gate_status, rule_counts) %}
  {%- set rules = [] -%}
  {%- for r in spec.rules -%}
    {%- do rules.append({'rule_name': r.name, 'error_class': r.error_class, 'severity': r.severity, 'route': r.route, 'rows': rule_counts[r.name]}) -%}
  {%- endfor -%}
  {{ return('sluice-counts: ' ~ tojson({
    'rows_in': stats.rows_in, 'rows_published': stats.rows_published, 'rows_held': stats.rows_held,
    'rows_set_aside': stats.rows_set_aside, 'rows_flagged': stats.rows_flagged,
    'rows_held_open': stats.rows_held_open, 'gate_status': gate_status, 'rule_counts': rules,
  })) }}
{% endmacro %}


{#- Every input row is published, held or set aside (a repeat of a published row), never two of
    these and never none: a build whose figures do not add up publishes nothing and fails. -#}
{% macro _sluice_check_rows_add_up(model_name, stats) %}
  {%- if stats.rows_in != stats.rows_published + stats.rows_held + stats.rows_set_aside -%}
    {#- nothing of the audit's transaction stands (on Snowflake, the package's own) -#}
    {%- do sluice.run_together('sluice_abandon', sluice.transaction_sql('rollback')) -%}
    {{ exceptions.raise_compiler_error("sluice: model '" ~ model_name ~ "': rows do not add up: " ~ stats.rows_in ~ " rows in, " ~ stats.rows_published ~ " published, " ~ stats.rows_held ~ " held, " ~ stats.rows_set_aside ~ " set aside. Nothing was published.") }}
  {%- endif -%}
{% endmacro %}
