{#- The sluice materialization: write-audit-publish with quarantine.

    1. One narrow pass evaluates every rule of the model and keeps only failing rows (keys, copy
       number, one flag per rule).
    2. The gate counts failures per severity against its thresholds.
    3. The failing rows are joined back to their full rows and upserted into the quarantine.
    4. Only if the gate passes is the new data published: a table build swaps a fully built
       intermediate relation in; an incremental build deletes and inserts on the key.
       If it is held, the published relation is left exactly as it was, the quarantine is still
       committed, and the model ends in error so that dbt skips everything downstream. -#}
{% materialization sluice, default %}
  {%- set spec = sluice._sluice_model_spec() -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set incremental = spec.incremental and existing_relation is not none and existing_relation.is_table and not should_full_refresh() -%}
  {%- set mode = 'incremental' if incremental else 'table' -%}
  {%- set quarantine = sluice._sluice_quarantine_relation() -%}
  {%- set runs = sluice._sluice_runs_relation() -%}
  {%- set events = sluice._sluice_bookkeeping_relation('events_table') -%}
  {%- set decisions = sluice._sluice_bookkeeping_relation('decisions_table') -%}

  {#- Resolve every column the key and the rules name against the model's real columns. -#}
  {%- set columns = get_columns_in_query(sql) -%}
  {%- set by_lower = {} -%}
  {%- for c in columns -%}{%- do by_lower.update({c | lower: c}) -%}{%- endfor -%}
  {%- set cols = {} -%}
  {%- set key_sql = [] -%}
  {%- for k in spec.key -%}
    {%- if (k | lower) not in by_lower -%}
      {{ sluice._sluice_config_error(spec.model_name, none, 'meta.sluice.key', "column '" ~ k ~ "' is not a column of the model (columns: " ~ (columns | join(', ')) ~ ")") }}
    {%- endif -%}
    {%- do key_sql.append(adapter.quote(by_lower[k | lower])) -%}
  {%- endfor -%}
  {%- set value_columns = [] -%}
  {%- for r in spec.rules -%}
    {%- for c in r.columns -%}
      {%- if (c | lower) not in by_lower -%}
        {{ sluice._sluice_config_error(spec.model_name, r.name, 'column_name', "column '" ~ c ~ "' is not a column of the model (columns: " ~ (columns | join(', ')) ~ ")") }}
      {%- endif -%}
      {%- do cols.update({c: adapter.quote(by_lower[c | lower])}) -%}
      {%- if c not in value_columns -%}{%- do value_columns.append(c) -%}{%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- do spec.update({'columns': columns, 'cols': cols, 'key_sql': key_sql, 'value_columns': value_columns}) -%}

  {%- set repeats = make_temp_relation(this, '__sluice_rep') -%}
  {%- set failures_main = make_temp_relation(this, '__sluice_fmain') -%}
  {%- set interesting = make_temp_relation(this, '__sluice_rows_in') -%}
  {%- set failures = make_temp_relation(this, '__sluice_fail') -%}
  {%- set failed_rows = make_temp_relation(this, '__sluice_rows') -%}
  {%- set exc_rel = make_temp_relation(this, '__sluice_exc') -%}
  {%- set batch = make_temp_relation(this, '__sluice_batch') -%}
  {%- set before = make_temp_relation(this, '__sluice_before') -%}
  {%- set rejected = make_temp_relation(this, '__sluice_rejected') -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set backup_relation = make_backup_relation(target_relation, 'table' if existing_relation is none else existing_relation.type) -%}
  {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
  {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- do sluice._sluice_ensure_table(quarantine, sluice._sluice_quarantine_columns()) -%}
  {%- do sluice._sluice_ensure_table(runs, sluice._sluice_runs_columns()) -%}
  {%- do sluice._sluice_ensure_table(events, sluice._sluice_events_columns()) -%}
  {%- do sluice._sluice_ensure_table(decisions, sluice._sluice_decisions_columns()) -%}
  {%- if should_full_refresh() and sluice.get_setting('full_refresh_quarantine') -%}
    {% call statement('sluice_wipe_quarantine') -%}
      delete from {{ quarantine }} where model_unique_id = {{ sluice._sluice_lit(model.unique_id) }}
    {%- endcall %}
  {%- endif -%}

  {#- 0. the state before this build, then reviewers' decisions -#}
  {% call statement('sluice_before') -%}
    {{ sluice._sluice_scratch_table_sql(before, "select exception_id, status from " ~ quarantine ~ " where model_unique_id = " ~ sluice._sluice_lit(model.unique_id)) }}
  {%- endcall %}
  {%- do sluice._sluice_apply_decisions(quarantine, decisions) -%}

  {#- 1. the narrow pass; then one scan for the few rows worth reading in full -#}
  {%- if spec.dedupe is not none -%}
    {% call statement('sluice_repeats') -%}
      {{ sluice._sluice_scratch_table_sql(repeats, sluice._sluice_repeats_sql(sql, spec)) }}
    {%- endcall %}
  {%- endif -%}
  {% call statement('sluice_narrow_pass') -%}
    {{ sluice._sluice_scratch_table_sql(failures_main, sluice._sluice_narrow_pass_sql(sql, spec, repeats, 'all' if spec.dedupe is none else 'first')) }}
  {%- endcall %}
  {%- set null_key_sql -%}
    select count(*) from {{ failures_main }}
    where {% for k in sluice._sluice_key_aliases(spec) %}{{ k }} is null{{ " or " if not loop.last }}{% endfor %}
  {%- endset -%}
  {%- do spec.update({'null_keys': (run_query(null_key_sql).rows[0][0] | int) > 0}) -%}
  {% call statement('sluice_interesting') -%}
    {{ sluice._sluice_scratch_table_sql(interesting, sluice._sluice_numbered_interesting_sql(spec, '(' ~ sluice._sluice_interesting_sql(sql, spec, repeats, failures_main) ~ ')')) }}
  {%- endcall %}
  {% call statement('sluice_failures') -%}
    {%- set failures_sql -%}
      select * from {{ failures_main }}
      {%- if spec.dedupe is not none %}
      union all
      {{ sluice._sluice_narrow_pass_sql(interesting, spec, repeats, 'repeat') }}
      {%- endif %}
    {%- endset -%}
    {{ sluice._sluice_scratch_table_sql(failures, failures_sql) }}
  {%- endcall %}
  {%- set n_released = run_query("select count(*) from " ~ quarantine ~ " where status = 'released' and model_unique_id = " ~ sluice._sluice_lit(model.unique_id)).rows[0][0] | int -%}
  {%- if n_released > 0 -%}
    {%- do sluice._sluice_release_failures(spec, quarantine, failures) -%}
  {%- endif -%}

  {#- 2. the gate -#}
  {%- set count_sql -%}
    select
      (select count(*) from (
{{ sql }}
      ) as s) as rows_in,
      count(*) as rows_failed,
      coalesce(sum(case when _sluice_blocking then 1 else 0 end), 0) as rows_held,
      coalesce(sum(case when _sluice_blocking then 0 else 1 end), 0) as rows_flagged,
      coalesce(sum(case when {% for k in sluice._sluice_key_aliases(spec) %}{{ k }} is null{{ " or " if not loop.last }}{% endfor %} then 1 else 0 end), 0) as null_keys
      {%- for r in spec.rules %},
      coalesce(sum(case when _sluice_f{{ r.index }} then 1 else 0 end), 0) as rule_{{ r.index }}
      {%- endfor %}
    from {{ failures }}
  {%- endset -%}
  {%- set counts = run_query(count_sql).rows[0] -%}
  {%- set rows_in = counts[0] | int -%}
  {%- set rule_counts = {} -%}
  {%- for r in spec.rules -%}{%- do rule_counts.update({r.name: counts[5 + loop.index0] | int}) -%}{%- endfor -%}

  {#- 3. the evidence: failing rows with their full row, as exceptions -#}
  {% call statement('sluice_failed_rows') -%}
    {{ sluice._sluice_scratch_table_sql(failed_rows, sluice._sluice_failed_rows_sql(spec, interesting, failures, (counts[4] | int) > 0)) }}
  {%- endcall %}
  {%- if spec.rules | length > 0 -%}
    {% call statement('sluice_exceptions') -%}
      {{ sluice._sluice_scratch_table_sql(exc_rel, sluice._sluice_exceptions_sql(spec, failed_rows)) }}
    {%- endcall %}
  {%- else -%}
    {% call statement('sluice_exceptions') -%}
      {{ sluice._sluice_scratch_table_sql(exc_rel, "select * from " ~ quarantine ~ " where 1 = 0") }}
    {%- endcall %}
  {%- endif -%}
  {#- The gate. An incremental batch also carries replayed rows; those still failing were already
      held by an earlier build and do not count toward this batch's gate again. -#}
  {%- set gate_counts = rule_counts -%}
  {%- if incremental and spec.rules | length > 0 -%}
    {%- set new_sql -%}
      select rule_name, count(*) from {{ exc_rel }} as e
      where not exists (
        select 1 from {{ before }} as b
        where b.exception_id = e.exception_id and b.status in ('open', 'dead_letter')
      )
      group by rule_name
    {%- endset -%}
    {%- set gate_counts = {} -%}
    {%- for r in spec.rules -%}{%- do gate_counts.update({r.name: 0}) -%}{%- endfor -%}
    {%- for row in run_query(new_sql).rows -%}{%- do gate_counts.update({row[0]: row[1] | int}) -%}{%- endfor -%}
  {%- endif -%}
  {%- set breaches = sluice._sluice_evaluate_gate(spec, gate_counts, rows_in) -%}
  {%- do sluice._sluice_upsert_exceptions(spec, quarantine, exc_rel) -%}
  {%- set n_rejected = run_query("select count(*) from " ~ quarantine ~ " where status = 'rejected' and model_unique_id = " ~ sluice._sluice_lit(model.unique_id)).rows[0][0] | int -%}
  {%- if n_rejected > 0 -%}
    {% call statement('sluice_rejected') -%}
      {{ sluice._sluice_scratch_table_sql(rejected, "select distinct record_key from " ~ quarantine ~ " where status = 'rejected' and model_unique_id = " ~ sluice._sluice_lit(model.unique_id)) }}
    {%- endcall %}
  {%- endif -%}

  {#- 4. publish, or hold -#}
  {%- set stats = {'rows_in': rows_in, 'rows_held': counts[2] | int, 'rows_flagged': counts[3] | int, 'rows_published': 0} -%}
  {%- if breaches | length > 0 -%}
    {%- set gate_message = sluice._sluice_gate_message(spec, breaches, gate_counts, rows_in) -%}
    {%- do sluice._sluice_record_events(spec, quarantine, before, events, decisions) -%}
    {%- do sluice._sluice_log_run(spec, runs, quarantine, mode, stats, 'held', gate_message, rule_counts) -%}
    {%- for rel in [repeats, failures_main, interesting, failures, failed_rows, exc_rel, before, rejected] -%}{%- do sluice._sluice_drop_temp(rel) -%}{%- endfor -%}
    {{ adapter.commit() }}
    {{ exceptions.raise_compiler_error(gate_message) }}
  {%- endif -%}

  {%- if incremental -%}
    {% call statement('sluice_batch') -%}
      {{ sluice._sluice_scratch_table_sql(batch, sluice._sluice_publish_sql(sql, spec, failures, interesting, rejected if n_rejected > 0 else none)) }}
    {%- endcall %}
    {%- set dest_columns = adapter.get_columns_in_relation(existing_relation) -%}
    {% call statement('main') -%}
      {{ get_delete_insert_merge_sql(target_relation, batch, spec.key_sql, dest_columns, none) }}
    {%- endcall %}
    {%- do stats.update({'rows_published': run_query("select count(*) from " ~ batch).rows[0][0] | int}) -%}
    {%- do sluice._sluice_recover_exceptions(spec, quarantine, exc_rel, sql, batch) -%}
  {%- else -%}
    {% call statement('main') -%}
      {{ get_create_table_as_sql(False, intermediate_relation, sluice._sluice_publish_sql(sql, spec, failures, interesting, rejected if n_rejected > 0 else none)) }}
    {%- endcall %}
    {%- do stats.update({'rows_published': run_query("select count(*) from " ~ intermediate_relation).rows[0][0] | int}) -%}
    {%- if existing_relation is not none -%}
      {%- set existing_relation = load_cached_relation(existing_relation) -%}
      {%- if existing_relation is not none -%}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
      {%- endif -%}
    {%- endif -%}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
    {%- do sluice._sluice_recover_exceptions(spec, quarantine, exc_rel, sql) -%}
  {%- endif -%}

  {%- do sluice._sluice_record_events(spec, quarantine, before, events, decisions) -%}
  {%- do sluice._sluice_log_run(spec, runs, quarantine, mode, stats, 'passed', none, rule_counts) -%}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {%- for rel in [repeats, failures_main, interesting, failures, failed_rows, exc_rel, batch, before, rejected] -%}{%- do sluice._sluice_drop_temp(rel) -%}{%- endfor -%}
  {% do apply_grants(target_relation, config.get('grants'), should_revoke=should_revoke(existing_relation, full_refresh_mode=(not incremental))) %}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ drop_relation_if_exists(backup_relation) }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {%- set by_route = {} -%}
  {%- for r in spec.rules if rule_counts[r.name] > 0 -%}
    {%- do by_route.update({r.route: by_route.get(r.route, 0) + rule_counts[r.name]}) -%}
  {%- endfor -%}
  {%- set route_text = [] -%}
  {%- for route, n in by_route | dictsort -%}{%- do route_text.append(route ~ " " ~ n) -%}{%- endfor -%}
  {%- do store_raw_result(
      name='main',
      message="sluice: gate passed; published " ~ stats.rows_published ~ " of " ~ rows_in ~ " rows; held " ~ stats.rows_held ~ ", flagged " ~ stats.rows_flagged ~ ((" (" ~ (route_text | join(', ')) ~ ")") if route_text else ""),
      code='SLUICE',
      rows_affected=stats.rows_published) -%}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
