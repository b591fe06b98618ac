{#- The sluice materialization: write, audit, publish.

    Write:   the model's SQL runs once, into the batch (for a table build, the relation that will
             be published; for an incremental build, a scratch relation).
    Audit:   every rule, the duplicate search, the evidence for the quarantine and the gate's
             counts read the batch, never the model's SQL again.
    Publish: the held rows leave the batch; a table build then swaps the batch in, an incremental
             build deletes and inserts on the key from it. A published row is a row audited in
             this build. If the gate holds, the published relation stays exactly as it was, the
             quarantine is still committed, and the model ends in error so that dbt skips
             everything downstream.
    Account: rows_in = published + held + set aside, checked every build.

    On engines with transactions all of it is one transaction, serialized per model
    (sluice.lock_model): a build killed at any statement leaves nothing behind. DuckDB commits a
    table build's batch first, on its own (sluice.settle_batch): a killed build may leave that
    unpublished scratch table, which the next build drops.

    Snowflake commits every DDL statement on its own. There, everything that creates or alters
    a table (the batch, the scratch tables created empty, the package's tables) comes first;
    then one explicit transaction of DML, begun by taking the model's lock row
    (sluice.transaction_sql), holds the reviewers' decisions applied and the stored records
    moved to a new identity, the audit's scratch tables filled (sluice.scratch_fill_sql) and
    the record (quarantine, events, run row, load state, seals; an incremental build's delete
    and insert; sluice.run_atomically); then a table build is published by one atomic statement
    (sluice.publish_table: ALTER TABLE ... SWAP WITH). A build killed anywhere leaves the
    published table as it was or as audited, and its exceptions recorded with their history,
    or not at all (the rerun records them). Scratch names carry the invocation there
    (sluice.scratch_suffix), so two builds never write to each other's scratch tables. -#}
{% materialization sluice, default %}
  {%- set build_started_at = modules.datetime.datetime.now(modules.pytz.utc) -%}
  {#- Snowflake: the package's transaction of a build that failed before its commit is still
      open on this connection (dbt does not know of it, a failed statement does not end it, and
      dbt-snowflake keeps the connection for its next node); it is rolled back here, before
      anything of this build could commit it (sluice.transaction_sql). -#}
  {%- do sluice.run_together('sluice_end_failed_transaction', sluice.transaction_sql('rollback')) -%}
  {%- do sluice._sluice_require_hooks() -%}
  {%- set spec = sluice._sluice_model_spec() -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set quarantine = sluice._sluice_quarantine_relation() -%}
  {%- set runs = sluice._sluice_runs_relation() -%}
  {%- set events = sluice._sluice_bookkeeping_relation('events_table') -%}
  {%- set queues = sluice._sluice_bookkeeping_relation('rule_queues_table') -%}
  {%- set decisions = sluice._sluice_bookkeeping_relation('decisions_table') -%}
  {%- set mid = sluice._sluice_lit(model.unique_id) -%}

  {%- for name in spec.not_adopted -%}
    {%- do exceptions.warn("sluice: model '" ~ spec.model_name ~ "': test " ~ name ~ "; it runs as an ordinary dbt test and does not hold rows") -%}
  {%- endfor -%}
  {%- for namespace in spec.adopted_namespaces if not sluice._sluice_tests_dispatched(namespace) -%}
    {%- do exceptions.warn("sluice: model '" ~ spec.model_name ~ "' adopts " ~ namespace ~ "'s tests as rules, but dbt does not dispatch the '" ~ namespace ~ "' test macros through sluice: those tests scan the published model again and pass on what sluice held. Add to dbt_project.yml: dispatch: [{macro_namespace: " ~ namespace ~ ", search_order: ['" ~ project_name ~ "', 'sluice', '" ~ namespace ~ "']}] (README: dbt's own tests as rules)") -%}
  {%- endfor -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {#- The model's transaction begins with the lock; nothing commits until the end. -#}
  {%- do sluice.lock_model(model.unique_id) -%}
  {#- What is published now, read under the lock: a build that waited for another one of the
      model sees what that one published, not what dbt's cache saw when the run began. -#}
  {%- set existing_relation = sluice._sluice_published_relation(target_relation) -%}
  {%- set incremental = spec.incremental and existing_relation is not none and existing_relation.is_table and not should_full_refresh() -%}
  {%- set mode = 'incremental' if incremental else 'table' -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation, suffix=sluice.scratch_suffix('__dbt_tmp')) -%}
  {%- set backup_relation = make_backup_relation(target_relation, 'table' if existing_relation is none else existing_relation.type) -%}
  {%- set batch = sluice._sluice_scratch_relation('__sluice_batch') if incremental else intermediate_relation -%}
  {%- set repeats = sluice._sluice_scratch_relation('__sluice_rep') -%}
  {%- set interesting = sluice._sluice_scratch_relation('__sluice_rows') -%}
  {%- set exc_rel = sluice._sluice_scratch_relation('__sluice_exc') -%}
  {%- set before = sluice._sluice_scratch_relation('__sluice_before') -%}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {%- for rel, columns in [(quarantine, sluice._sluice_quarantine_columns()), (runs, sluice._sluice_runs_columns()), (events, sluice._sluice_events_columns()), (decisions, sluice._sluice_decisions_columns()), (sluice._sluice_bookkeeping_relation('approvals_table'), sluice._sluice_approvals_columns()), (sluice._sluice_bookkeeping_relation('load_states_table'), sluice._sluice_load_states_columns()), (queues, sluice._sluice_rule_queues_columns())] -%}
    {%- do sluice._sluice_ensure_table(rel, columns) -%}
  {%- endfor -%}
  {#- who may read the quarantine (var sluice_grants) -#}
  {%- do sluice._sluice_grant_quarantine(quarantine, sluice._sluice_model_meta()) -%}
  {#- The loads of the sluice models it reads: a model that does not accept one of them waits,
      its last good data in place (sluice._sluice_load_state.sql). -#}
  {%- set node = graph.nodes.get(model.unique_id) -%}
  {%- set accepts = sluice._sluice_accepts(node) -%}
  {%- set inputs = sluice._sluice_input_loads(sluice._sluice_upstream_sluice_models(node)) -%}
  {%- set unaccepted = sluice._sluice_unaccepted(inputs, accepts) -%}
  {%- if unaccepted | length > 0 -%}
    {%- do sluice._sluice_record_held_load(inputs, unaccepted) -%}
    {%- do sluice._sluice_raise_gate(sluice._sluice_wait_message(spec.model_name, unaccepted, accepts)) -%}
  {%- endif -%}
  {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
  {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
  {%- if should_full_refresh() and sluice.get_setting('full_refresh_quarantine') -%}
    {% call statement('sluice_wipe_quarantine') -%}
      delete from {{ quarantine }} where model_unique_id = {{ mid }}
    {%- endcall %}
  {%- endif -%}

  {#- What the quarantine holds for this model, in one probe. -#}
  {%- set probe -%}
    select
      coalesce(sum(case when status = 'rejected' then 1 else 0 end), 0),
      coalesce(sum(case when record_key not like '[%' and record_key not like '{{ sluice._sluice_redaction_prefix() }}%' then 1 else 0 end), 0),
      (select count(*) from {{ decisions }} where model_unique_id = {{ mid }})
        {#- and decisions about its exceptions naming another model, which the build refuses -#}
        + (select count(*) from {{ decisions }} as d join {{ quarantine }} as o on o.exception_id = d.exception_id
          where o.model_unique_id = {{ mid }} and (d.model_unique_id is null or d.model_unique_id <> {{ mid }})),
      coalesce(sum(case when status in ('open', 'dead_letter', 'rejected', 'released') then 1 else 0 end), 0),
      (select count(*) from {{ decisions }} as d
        where d.model_unique_id = {{ mid }} and d.decision = 'reject'
          and exists (select 1 from {{ quarantine }} as o where o.exception_id = d.exception_id and o.status = 'open')),
      coalesce(sum(case when record_key like '%]#%' and record_key not like '%]#v%' then 1 else 0 end), 0),
      {#- keys that may hold a date or a timestamp in a session's output format -#}
      coalesce(sum(case when {{ sluice._sluice_session_time_key_sql('record_key') }} then 1 else 0 end), 0),
      {#- overrides of its gate not spent by a build nor withdrawn (sluice review override) -#}
      (select count(*) from {{ decisions }} as d
        where d.model_unique_id = {{ mid }} and d.decision = 'override'
          and not exists (select 1 from {{ sluice._sluice_bookkeeping_relation('approvals_table') }} as a
            where a.decision_id = d.decision_id and a.action in ('withdraw', 'applied')))
    from {{ quarantine }} where model_unique_id = {{ mid }}
  {%- endset -%}
  {%- set probed = run_query(probe).rows[0] -%}
  {#- rejected records, or records this build may reject: their rows are held even if they pass -#}
  {%- set with_rejected = (probed[0] | int) > 0 or (probed[4] | int) > 0 -%}
  {%- set with_legacy = (probed[1] | int) > 0 -%}
  {%- set in_force = probed[3] | int -%}
  {#- statuses that change before the audit reads them: decisions applied, records re-keyed -#}
  {%- set changed_before_audit = (probed[2] | int) > 0 or with_legacy or (probed[5] | int) > 0 -%}
  {#- the overrides of its gate the approval policy accepts now (sluice._sluice_override.sql) -#}
  {%- set overrides = sluice._sluice_accepted_overrides(spec, decisions) if (probed[7] | int) > 0 else [] -%}

  {#- 1. write: the model's SQL, once -#}
  {% call statement('sluice_batch') -%}
    {{ sluice._sluice_create_scratch_sql(batch, sql, temporary=incremental) }}
  {%- endcall %}
  {#- the batch's row count where the engine reported it with the write (sluice.written_rows) -#}
  {%- set rows_written = sluice.written_rows(load_result('sluice_batch')) -%}
  {%- do sluice._sluice_resolve_columns(spec, batch) -%}
  {#- records keyed with a date or a timestamp in the session's output format, to move -#}
  {%- set time_key = [] -%}
  {%- for quoted, kind in spec.key_parts if kind in ('datetime', 'instant') -%}{%- do time_key.append(quoted) -%}{%- endfor -%}
  {%- set retime = (probed[6] | int) > 0 and time_key | length > 0 -%}
  {%- set changed_before_audit = changed_before_audit or retime -%}
  {#- a key that changed type is refused before anything is settled -#}
  {%- set dest_columns = adapter.get_columns_in_relation(existing_relation) if existing_relation is not none and (incremental or in_force > 0) else [] -%}
  {%- if incremental or dest_columns -%}{%- do sluice._sluice_check_key_types(spec, dest_columns, incremental, in_force) -%}{%- endif -%}
  {#- the load's batch id on every row it publishes, when the model asks for it: added before the
      audit (DDL, which on Snowflake must come before the package's transaction); the audit
      reads the model's columns only -#}
  {%- if spec.batch_id_column -%}
    {% call statement('sluice_batch_id') -%}
      alter table {{ batch }} add column {{ adapter.quote(spec.batch_id_column) }} {{ dbt.type_string() }} default '{{ sluice.escape_string(invocation_id) }}'
    {%- endcall %}
  {%- endif -%}
  {%- if not incremental -%}{%- do sluice.settle_batch(batch) -%}{%- endif -%}

  {#- 2. audit: every read below is of the batch or of the small tables made from it; the
      statements go in one round trip where the engine allows (sluice.run_together), the first
      beginning with the audit's session settings (sluice.audit_settings_sql).
      Before the audit reads the quarantine: reviewers' decisions are applied, and a quarantine
      written by 0.1.0 takes the JSON identity, history and all (decisions still to apply first,
      under the old ids), then records of rows with a NULL key part, identified by their row's
      JSON, take the identity by their values, and records keyed with a date or a timestamp
      in the session's output format take the explicit one. These changes, the audit and the record are one
      transaction: on DuckDB and PostgreSQL the model's; on Snowflake one explicit transaction
      of DML the package sends (sluice.transaction_sql), every table it writes created before
      it begins (sluice.scratch_fill_sql), so that a build killed after the decisions are
      applied leaves their effects with their history (status events included) or neither. -#}
  {%- set seal = sluice._sluice_seal_sql() -%}
  {%- set settle = {'ddl': [], 'dml': [], 'after': []} -%}
  {%- if (probed[2] | int) > 0 -%}
    {%- do settle.dml.extend(sluice._sluice_apply_decisions_sql(quarantine, decisions)) -%}
  {%- endif -%}
  {%- set moves = [sluice._sluice_upgrade_legacy_sql(spec, quarantine, events, before)] if with_legacy else [] -%}
  {%- if with_legacy or (probed[5] | int) > 0 -%}
    {%- do moves.append(sluice._sluice_rekey_null_keys_sql(spec, batch, quarantine, events, before, rewrite_events=with_legacy)) -%}
  {%- endif -%}
  {%- if retime -%}
    {%- do moves.append(sluice._sluice_rekey_time_formats_sql(spec, batch, quarantine, events, before, rewrite_events=with_legacy)) -%}
  {%- endif -%}
  {%- for move in moves -%}
    {%- for part in ['ddl', 'dml', 'after'] -%}{%- do settle[part].extend(move[part]) -%}{%- endfor -%}
  {%- endfor -%}
  {%- set fills = [sluice.scratch_fill_sql(before, "select exception_id, status, status_invocation_id from " ~ quarantine ~ " where model_unique_id = " ~ mid), settle] -%}
  {#- each scratch table's statistics once it is written, where the planner needs them
      (sluice.analyze_scratch_sql); an incremental batch is small, a table build's is not -#}
  {%- do fills.append({'dml': [sluice.analyze_scratch_sql([before])]}) -%}
  {%- if incremental -%}{%- do fills.append({'dml': [sluice.analyze_scratch_sql([batch], spec.key_sql)]}) -%}{%- endif -%}
  {%- if spec.dedupe is not none -%}
    {%- do fills.append(sluice.scratch_fill_sql(repeats, sluice._sluice_repeats_sql(batch, spec))) -%}
    {%- do fills.append({'dml': [sluice.analyze_scratch_sql([repeats])]}) -%}
  {%- endif -%}
  {%- do fills.append(sluice.scratch_fill_sql(interesting, sluice._sluice_interesting_sql(batch, spec, repeats, quarantine, with_rejected))) -%}
  {%- set row_flags = [] -%}
  {%- for r in spec.rules if r.kind != 'unique' -%}{%- do row_flags.append('_sluice_f' ~ r.index) -%}{%- endfor -%}
  {%- do fills.append({'dml': [sluice.analyze_scratch_sql([interesting], ['_sluice_record', '_sluice_copy'] + row_flags)]}) -%}
  {%- do fills.append(sluice.scratch_fill_sql(exc_rel, sluice._sluice_exceptions_sql(spec, interesting, before, quarantine if changed_before_audit else none))) -%}
  {%- do fills.append({'dml': [sluice.analyze_scratch_sql([exc_rel], ['exception_id', 'record_key', 'record_copy', 'rule_name', '_sluice_status', '_sluice_was_open', '_sluice_blocking', '_sluice_set_aside'])]}) -%}
  {%- set scratch_ddl = [] -%}
  {%- set audit = [] -%}
  {%- for fill in fills -%}
    {%- do scratch_ddl.extend(fill.get('ddl', [])) -%}
    {%- do audit.extend(sluice._sluice_statement_list(fill.dml)) -%}
  {%- endfor -%}
  {%- do sluice.run_together('sluice_audit_scratch', scratch_ddl) -%}
  {%- set audit = sluice.transaction_sql('begin') + [sluice.audit_settings_sql() ~ "\n" ~ audit[0]] + audit[1:] -%}
  {%- set cleanup = sluice._sluice_drop_scratch_sql(([repeats] if spec.dedupe is not none else []) + [interesting, exc_rel, before]) + settle.after -%}
  {#- The exceptions go into the quarantine with the rest of the record, held or published
      (sluice.run_atomically). The counts below and the take-out read the same before as after
      that upsert (it touches neither released nor rejected exceptions, nor those about to
      close, and sets the others open or dead-lettered). -#}
  {%- set upsert = sluice._sluice_upsert_exceptions_sql(spec, quarantine, exc_rel) -%}

  {#- the counts, in one statement: rows in, held, set aside, flagged; exceptions about to close;
      held rows not decided yet; failures per rule (for an incremental build, also those new to
      this batch) -#}
  {%- set decided = sluice._sluice_decided_rows_sql(spec, interesting, exc_rel, quarantine, with_rejected) -%}
  {%- set gate_rules = sluice._sluice_gate_rules_by_severity(spec) -%}
  {%- set text_type = dbt.type_string() -%}
  {%- set rule_lits = [] -%}
  {%- for r in spec.rules -%}{%- do rule_lits.append(sluice._sluice_lit(r.name, text_type)) -%}{%- endfor -%}
  {#- what counts toward the gate: undecided exceptions (a released or rejected record is decided),
      and in an incremental build only those new to this batch; per rule, then per severity as
      distinct rows (a row breaking two rules of one severity is one row) -#}
  {%- set undecided = "coalesce(e._sluice_status, 'open') not in ('released', 'rejected')" ~ (" and not e._sluice_was_open" if incremental else "") -%}
  {%- set count_sql -%}
    select
      {{ rows_written if rows_written is not none else "(select count(*) from " ~ batch ~ ")" }} as rows_in,
      r.rows_held,
      r.rows_set_aside,
      r.rows_flagged,
      {#- the exceptions about to close: those open or dead-lettered when the audit began (the
          model's narrow statuses, unless something changed them since), less those the audit
          found again, which carry that status (one row per exception) -#}
      (select count(*) from {{ quarantine if changed_before_audit else before }} as q
         where q.status in ('open', 'dead_letter')
           {%- if changed_before_audit %} and q.model_unique_id = {{ mid }}{% endif %}) - x.found_open as closing,
      r.rows_held_open
      {%- for name in rule_lits %}, x.rule_{{ loop.index0 }}{% endfor %}
      {%- for name in rule_lits %}, x.gate_{{ loop.index0 }}{% endfor %}
      {%- for severity, names in gate_rules %}, x.severity_{{ loop.index0 }}{% endfor %}
    {#- the held rows, read once: held, set aside, flagged (published with an exception), and
        held rows still waiting for a fix or a decision (a blocking failure open or dead
        lettered; a row held only by a rejection, or set aside as a copy, is decided); one row,
        whatever the number of exceptions (none: a rejected record held while its row passes) #}
    from (
      select
        coalesce(sum(case when d._sluice_hold = 1 then 1 else 0 end), 0) as rows_held,
        coalesce(sum(case when d._sluice_hold = 0 then 1 else 0 end), 0) as rows_set_aside,
        coalesce(sum(case when d._sluice_hold is null and d._sluice_has_exc = 1 then 1 else 0 end), 0) as rows_flagged,
        coalesce(sum(case when d._sluice_hold = 1 and d._sluice_hold_undecided = 1 then 1 else 0 end), 0) as rows_held_open
      from ({{ decided }}) as d
    ) as r
    {#- the exceptions, read once: per rule, per rule toward the gate, per severity #}
    cross join (
      select
        coalesce(sum(case when e._sluice_status in ('open', 'dead_letter') then 1 else 0 end), 0) as found_open
        {%- for name in rule_lits %},
        coalesce(sum(case when e.rule_name = {{ name }} then 1 else 0 end), 0) as rule_{{ loop.index0 }}
        {%- endfor %}
        {%- for name in rule_lits %},
        coalesce(sum(case when e.rule_name = {{ name }} and {{ undecided }} then 1 else 0 end), 0) as gate_{{ loop.index0 }}
        {%- endfor %}
        {%- for severity, names in gate_rules %},
        count(distinct case when e.rule_name in ({{ names | join(', ') }}) and {{ undecided }} then {{ dbt.concat(["e.record_key", "'#'", "cast(e.record_copy as " ~ text_type ~ ")"]) }} end) as severity_{{ loop.index0 }}
        {%- endfor %}
      from {{ exc_rel }} as e
    ) as x
  {%- endset -%}
  {%- do audit.append(count_sql) -%}
  {%- set counts = sluice.run_together('sluice_audit_counts', audit, fetch=true).rows[0] -%}
  {%- set n_rules = spec.rules | length -%}
  {%- set stats = {'rows_in': counts[0] | int, 'rows_held': counts[1] | int, 'rows_set_aside': counts[2] | int, 'rows_flagged': counts[3] | int, 'rows_held_open': counts[5] | int, 'rows_published': 0} -%}
  {%- set closing = counts[4] | int -%}
  {%- set rule_counts = {} -%}
  {%- set gate_counts = {} -%}
  {%- for r in spec.rules -%}
    {%- do rule_counts.update({r.name: counts[6 + loop.index0] | int}) -%}
    {%- do gate_counts.update({r.name: counts[6 + n_rules + loop.index0] | int}) -%}
  {%- endfor -%}
  {%- set severity_rows = {} -%}
  {%- for severity, names in gate_rules -%}
    {%- do severity_rows.update({severity: counts[6 + 2 * n_rules + loop.index0] | int}) -%}
  {%- endfor -%}
  {#- Decided records (released, rejected) do not count toward the gate. An incremental batch
      also carries replayed rows; those still failing were already held by an earlier build and
      do not count toward this batch's gate again. -#}
  {%- set breaches = sluice._sluice_evaluate_gate(spec, gate_counts, stats.rows_in, severity_rows) -%}

  {#- 3. hold: the quarantine is committed, the published relation is left as it was; unless
      an accepted override lets this build publish despite the gate, once -#}
  {%- set overridden = none -%}
  {%- if breaches | length > 0 and overrides | length > 0 -%}
    {%- set overridden = sluice._sluice_override_message(overrides[0], sluice._sluice_gate_message(spec, breaches, gate_counts, stats.rows_in)) -%}
  {%- endif -%}
  {%- if breaches | length > 0 and overridden is none -%}
    {%- set gate_message = sluice._sluice_gate_message(spec, breaches, gate_counts, stats.rows_in) -%}
    {%- do stats.update({'rows_published': 0}) -%}
    {%- do sluice.run_atomically('sluice_record_held', upsert + [
      sluice._sluice_record_events_sql(spec, quarantine, before, events, changed_before_audit=changed_before_audit),
      sluice._sluice_log_run_sql(spec, runs, quarantine, mode, stats, 'held', gate_message, rule_counts, build_started_at),
      sluice._sluice_record_queues_sql(quarantine, queues),
      sluice._sluice_record_load_sql('held', gate_message, inputs, stats),
    ] + seal, after=cleanup + sluice._sluice_drop_scratch_sql([batch]), begun=true) -%}
    {{ adapter.commit() }}
    {%- do sluice._sluice_raise_gate(gate_message ~ "\n" ~ sluice._sluice_counts_payload(spec, stats, 'held', rule_counts)) -%}
  {%- endif -%}

  {#- 4. publish: the batch minus the held rows -#}
  {%- set take_out = sluice._sluice_take_held_out_sql(spec, batch, interesting, exc_rel, quarantine, with_rejected) if stats.rows_held + stats.rows_set_aside > 0 else [] -%}
  {#- Published: the batch counted after the take-out; or, where the engine reports the rows a
      statement wrote and the held rows leave by their address in one delete, the rows written
      less the rows that delete removed. -#}
  {%- set deleted = 0 if take_out | length == 0 else none -%}
  {%- if rows_written is not none and take_out | length == 1 -%}
    {% call statement('sluice_take_out') -%}
      {{ take_out[0] }}
    {%- endcall %}
    {%- set deleted = sluice.written_rows(load_result('sluice_take_out')) -%}
    {%- set take_out = [] -%}
  {%- endif -%}
  {%- if rows_written is not none and deleted is not none -%}
    {%- do stats.update({'rows_published': rows_written - deleted}) -%}
  {%- else -%}
    {%- set published = sluice.run_together('sluice_publish_count', take_out + ["select count(*) from " ~ batch], fetch=true) -%}
    {%- do stats.update({'rows_published': published.rows[0][0] | int}) -%}
  {%- endif -%}
  {%- do sluice._sluice_check_rows_add_up(spec.model_name, stats) -%}
  {#- The record, with an incremental build's delete and insert; then a table build's batch
      takes the published relation's place. Recovery reads the batch: what is published. -#}
  {%- set gate_status = 'passed' if overridden is none else 'overridden' -%}
  {%- set load = sluice._sluice_published_load(spec, stats, rule_counts, closing, inputs) if overridden is none else ('overridden', overridden) -%}
  {%- set spend = [] if overrides | length == 0 else [sluice._sluice_spend_overrides_sql(overrides, decisions, "published despite the gate" if overridden is not none else "the gate passed: nothing to override, spent all the same")] -%}
  {%- set recover = sluice._sluice_recover_exceptions_sql(spec, quarantine, exc_rel, batch, incremental) if closing > 0 else [] -%}
  {%- do sluice.run_atomically('sluice_record_passed',
    ([sluice.merge_batch_sql(target_relation, batch, spec.key_sql, dest_columns)] if incremental else []) + upsert + recover + [
    sluice._sluice_record_events_sql(spec, quarantine, before, events, published=true, changed_before_audit=changed_before_audit),
    sluice._sluice_log_run_sql(spec, runs, quarantine, mode, stats, gate_status, overridden, rule_counts, build_started_at),
    sluice._sluice_record_queues_sql(quarantine, queues),
    sluice._sluice_record_load_sql(load[0], load[1], inputs, stats),
  ] + spend + seal, after=cleanup + sluice._sluice_drop_scratch_sql([batch] if incremental else []), begun=true) -%}
  {%- if not incremental -%}
    {#- the batch's raw text columns, read by the audit, are not published (DDL: on Snowflake
        after the record's commit, before the swap) -#}
    {%- for c in spec.raw_columns -%}
      {% call statement('sluice_drop_raw_' ~ loop.index) -%}
        alter table {{ batch }} drop column {{ adapter.quote(c.name) }}
      {%- endcall %}
    {%- endfor -%}
    {%- do sluice.publish_table(intermediate_relation, target_relation, existing_relation, backup_relation) -%}
  {%- endif -%}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
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
      message="sluice: " ~ (("gate overridden by decision " ~ overrides[0].decision_id) if overridden is not none else "gate passed") ~ "; published " ~ stats.rows_published ~ " of " ~ stats.rows_in ~ " rows; held " ~ stats.rows_held ~ ((" (" ~ (stats.rows_held - stats.rows_held_open) ~ " decided)") if stats.rows_held > stats.rows_held_open else "") ~ ", set aside " ~ stats.rows_set_aside ~ ", flagged " ~ stats.rows_flagged ~ ((" (" ~ (route_text | join(', ')) ~ ")") if route_text else "") ~ " " ~ sluice._sluice_counts_payload(spec, stats, gate_status, rule_counts),
      code='SLUICE',
      rows_affected=stats.rows_published) -%}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
