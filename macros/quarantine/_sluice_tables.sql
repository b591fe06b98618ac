{#- Package-owned tables, each declared once, typed. -#}

{% macro _sluice_quarantine_columns() %}
  {%- set s = dbt.type_string() -%}
  {%- set ts = dbt.type_timestamp() -%}
  {%- set i = dbt.type_int() -%}
  {{ return([
    ('exception_id', s), ('model_name', s), ('model_unique_id', s), ('record_key', s),
    ('record_copy', i), ('rule_name', s), ('error_class', s), ('severity', s), ('route', s),
    ('owner', s), ('source_system', s), ('target_system', s), ('message', s),
    ('failed_column', s), ('failed_value', s), ('invocation_id', s), ('first_invocation_id', s),
    ('first_seen_at', ts), ('last_seen_at', ts), ('attempt_count', i), ('status', s),
    ('status_changed_at', ts), ('status_invocation_id', s), ('row_json', s),
  ]) }}
{% endmacro %}


{% macro _sluice_runs_columns() %}
  {%- set s = dbt.type_string() -%}
  {%- set ts = dbt.type_timestamp() -%}
  {%- set i = dbt.type_bigint() -%}
  {{ return([
    ('invocation_id', s), ('model_unique_id', s), ('model_name', s), ('relation_name', s),
    ('quarantine_relation', s), ('mode', s), ('run_started_at', ts), ('finished_at', ts),
    ('rows_in', i), ('rows_published', i), ('rows_held', i), ('rows_flagged', i),
    ('rows_set_aside', i), ('gate_status', s), ('gate_message', s), ('rule_counts_json', s),
    ('rows_held_open', i), ('build_started_at', ts), ('build_duration_seconds', dbt.type_numeric()),
  ]) }}
{% endmacro %}


{% macro _sluice_events_columns() %}
  {%- set s = dbt.type_string() -%}
  {%- set ts = dbt.type_timestamp() -%}
  {%- set i = dbt.type_int() -%}
  {{ return([
    ('event_id', s), ('exception_id', s), ('model_name', s), ('model_unique_id', s),
    ('record_key', s), ('record_copy', i), ('rule_name', s), ('error_class', s), ('severity', s),
    ('route', s), ('owner', s), ('from_status', s), ('to_status', s), ('attempt_count', i),
    ('invocation_id', s), ('event_at', ts), ('actor', s), ('reason', s), ('event_type', s),
    ('from_status_at', ts),
  ]) }}
{% endmacro %}


{#- The queue each build of a model leaves behind (sluice._sluice_record_queues_sql), read by
    sluice_metrics and `sluice metrics`: per rule, its exceptions open and dead-lettered at the
    end of the build and when the oldest open one last moved to `open`; one row with rule_name
    NULL for the model as a whole, written by every build, so a build recorded before this
    table has none. Derived from the quarantine, never rewritten. -#}
{% macro _sluice_rule_queues_columns() %}
  {%- set s = dbt.type_string() -%}
  {%- set bi = dbt.type_bigint() -%}
  {{ return([
    ('invocation_id', s), ('model_unique_id', s), ('rule_name', s), ('open_at_end', bi),
    ('dead_letter_at_end', bi), ('oldest_opened_at', dbt.type_timestamp()), ('severity', s),
    ('owner', s),
  ]) }}
{% endmacro %}


{% macro _sluice_decisions_columns() %}
  {%- set s = dbt.type_string() -%}
  {{ return([
    ('decision_id', s), ('exception_id', s), ('model_unique_id', s), ('decision', s),
    ('decided_by', s), ('decided_at', dbt.type_timestamp()), ('reason', s),
    ('authenticated_user', s), ('authenticated_role', s), ('identity_source', s),
    ('identity_check', s), ('policy', s), ('required_approvers', dbt.type_bigint()),
    ('taken_sides', s),
  ]) }}
{% endmacro %}


{#- Approvals and withdrawals of decisions (sluice review approve|withdraw): one row each,
    appended, never updated. -#}
{% macro _sluice_approvals_columns() %}
  {%- set s = dbt.type_string() -%}
  {{ return([
    ('approval_id', s), ('decision_id', s), ('model_unique_id', s), ('action', s),
    ('approved_by', s), ('approved_at', dbt.type_timestamp()), ('reason', s),
    ('authenticated_user', s), ('authenticated_role', s), ('identity_source', s),
  ]) }}
{% endmacro %}


{#- Where builds of a model on Snowflake take their lock (sluice.lock_model): one row per model. -#}
{% macro _sluice_locks_columns() %}
  {{ return([
    ('model_unique_id', dbt.type_string()), ('invocation_id', dbt.type_string()),
    ('locked_at', dbt.type_timestamp()),
  ]) }}
{% endmacro %}


{#- The quarantine relation of a model node: `<alias>__quarantine` beside it, or the identifier
    in config.meta.sluice.quarantine. -#}
{% macro _sluice_quarantine_relation(node=none) %}
  {%- set meta = sluice._sluice_model_meta(node) -%}
  {%- set base = node if node is not none else model -%}
  {%- set alias = base.alias or base.name -%}
  {%- set identifier = meta.get('quarantine') or (alias ~ sluice.get_setting('quarantine_suffix')) -%}
  {{ return(api.Relation.create(database=base.database, schema=base.schema, identifier=identifier, type='table')) }}
{% endmacro %}


{% macro _sluice_runs_relation() %}
  {{ return(sluice._sluice_bookkeeping_relation('runs_table')) }}
{% endmacro %}


{#- A package-owned table in the sluice schema (var sluice_schema, default the target schema). -#}
{% macro _sluice_bookkeeping_relation(table_setting) %}
  {%- set schema = sluice.get_setting('schema') or target.schema -%}
  {{ return(api.Relation.create(database=target.database, schema=schema, identifier=sluice.get_setting(table_setting), type='table')) }}
{% endmacro %}


{#- Creates a package table if it is missing, inside the model's transaction: dbt's
    create_schema macro (not adapter.create_schema, which commits) and CREATE TABLE IF NOT EXISTS. -#}
{% macro _sluice_ensure_table(relation, columns) %}
  {%- if adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) is none -%}
    {%- do create_schema(relation) -%}
    {% call statement('sluice_create_' ~ relation.identifier) -%}
      create table if not exists {{ relation }} (
        {%- for name, data_type in columns %}
        {{ name }} {{ data_type }}{{ "," if not loop.last }}
        {%- endfor %}
      )
    {%- endcall %}
    {%- do adapter.cache_added(relation.incorporate(dbt_created=True)) -%}
  {%- endif -%}
{% endmacro %}


{#- A scratch relation of this build. Kind by var sluice_scratch_relation_type: `temporary`
    (default: the session's temporary tables) or `transient` (a table beside the model, for
    engines that need it; on Snowflake a transient table). Always dropped at the end. -#}
{% macro _sluice_scratch_relation(suffix) %}
  {%- set suffix = sluice.scratch_suffix(suffix) -%}
  {%- if sluice.get_setting('scratch_relation_type') == 'temporary' -%}
    {{ return(make_temp_relation(this, suffix)) }}
  {%- endif -%}
  {{ return(api.Relation.create(database=this.database, schema=this.schema, identifier=this.identifier ~ suffix, type='table')) }}
{% endmacro %}


{#- The model's published relation as the warehouse has it now. dbt's cache is read at the start
    of the run; when it has none, the schema is listed again (a build of the same model that
    held the lock before this one may have created it since). -#}
{% macro _sluice_published_relation(target) %}
  {%- set cached = load_cached_relation(target) -%}
  {%- if cached is not none or not execute -%}{{ return(cached) }}{%- endif -%}
  {%- set listed = list_relations_without_caching(target.without_identifier()) -%}
  {%- for row in listed if (row['name'] | lower) == (target.identifier | lower) -%}
    {%- set found = target.incorporate(type='table') -%}
    {%- do adapter.cache_added(found) -%}
    {{ return(found) }}
  {%- endfor -%}
  {{ return(none) }}
{% endmacro %}


{% macro _sluice_create_scratch_sql(relation, sql, temporary=true) %}
  {%- set kind = sluice.get_setting('scratch_relation_type') -%}
  {%- if kind not in ('temporary', 'transient') -%}
    {{ exceptions.raise_compiler_error("sluice: var 'sluice_scratch_relation_type' is '" ~ kind ~ "' (expected temporary or transient)") }}
  {%- endif -%}
  {%- if not temporary -%}
    {{ return(get_create_table_as_sql(False, relation, sql)) }}
  {%- elif kind == 'temporary' -%}
    {{ return(get_create_table_as_sql(True, relation, sql)) }}
  {%- endif -%}
  {{ return(sluice.transient_table_sql(relation, sql)) }}
{% endmacro %}


{#- A typed SQL literal: a quoted string, or NULL, cast to the column's type. -#}
{% macro _sluice_lit(value, data_type=none) %}
  {%- set t = data_type or dbt.type_string() -%}
  {%- if value is none -%}
    {{ return("cast(null as " ~ t ~ ")") }}
  {%- else -%}
    {{ return("cast('" ~ sluice.escape_string(value) ~ "' as " ~ t ~ ")") }}
  {%- endif -%}
{% endmacro %}


{#- The statements that drop this build's scratch relations (sent with sluice.run_together). -#}
{% macro _sluice_drop_scratch_sql(relations) %}
  {%- set out = [] -%}
  {%- for relation in relations -%}{%- do out.append('drop table if exists ' ~ relation) -%}{%- endfor -%}
  {{ return(out) }}
{% endmacro %}
