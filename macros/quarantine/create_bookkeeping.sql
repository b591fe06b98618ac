{#- Creates the shared bookkeeping tables (sluice_runs, sluice_exception_events,
    sluice_decisions, sluice_load_states, sluice_rule_queues, the audit trail's
    sluice_audit_chain and sluice_audit_records, and on Snowflake sluice_locks) once per
    invocation, before any model runs, from the package's on-run-start hook. Sluice models
    building in parallel then never race to create them (DuckDB refuses a second concurrent
    CREATE with a write-write conflict). -#}
{% macro create_bookkeeping() %}
  {{ return(adapter.dispatch('create_bookkeeping', 'sluice')()) }}
{% endmacro %}

{% macro default__create_bookkeeping() %}
  {%- if not execute or flags.WHICH not in ('build', 'run', 'retry') -%}{{ return('') }}{%- endif -%}
  {#- a bad approval policy stops the run before any model, naming the var and the key -#}
  {%- do sluice._sluice_approval_policy() -%}
  {%- set tables = [
    ('runs_table', sluice._sluice_runs_columns()),
    ('events_table', sluice._sluice_events_columns()),
    ('decisions_table', sluice._sluice_decisions_columns()),
    ('approvals_table', sluice._sluice_approvals_columns()),
    ('load_states_table', sluice._sluice_load_states_columns()),
    ('rule_queues_table', sluice._sluice_rule_queues_columns()),
    ('audit_chain_table', sluice._sluice_audit_chain_columns()),
    ('audit_records_table', sluice._sluice_audit_records_columns()),
  ] -%}
  {#- Snowflake's lock table (sluice.lock_model): created here too, so parallel models never race
      to create it -#}
  {%- if target.type == 'snowflake' -%}
    {%- do tables.append(('locks_table', sluice._sluice_locks_columns())) -%}
  {%- endif -%}
  {%- set statements = [] -%}
  {%- for setting, columns in tables -%}
    {%- set relation = sluice._sluice_bookkeeping_relation(setting) -%}
    {%- if loop.first -%}
      {#- the schema as the adapter's quoting policy renders it (as dbt's create_schema does):
          unquoted on Snowflake, where a quoted lower-case name is another schema than the
          upper-case one every unquoted reference resolves to -#}
      {%- do statements.append('create schema if not exists ' ~ relation.without_identifier().include(database=False)) -%}
    {%- endif -%}
    {%- set ddl -%}
      create table if not exists {{ relation }} (
        {%- for name, data_type in columns %}
        {{ name }} {{ data_type }}{{ "," if not loop.last }}
        {%- endfor %}
      )
    {%- endset -%}
    {%- do statements.append(ddl) -%}
    {#- columns added since 0.1.0 (no introspection here: it would open a transaction that
        the hook never commits) -#}
    {%- set added = {'runs_table': [('rows_set_aside', dbt.type_bigint()), ('rows_held_open', dbt.type_bigint()), ('build_started_at', dbt.type_timestamp()), ('build_duration_seconds', dbt.type_numeric())], 'events_table': [('event_type', dbt.type_string()), ('from_status_at', dbt.type_timestamp())], 'decisions_table': [('authenticated_user', dbt.type_string()), ('authenticated_role', dbt.type_string()), ('identity_source', dbt.type_string()), ('identity_check', dbt.type_string()), ('policy', dbt.type_string()), ('required_approvers', dbt.type_bigint()), ('taken_sides', dbt.type_string())]} -%}
    {%- for name, data_type in added.get(setting, []) -%}
      {%- set alter = 'alter table ' ~ relation ~ ' add column if not exists ' ~ name ~ ' ' ~ data_type -%}
      {%- if target.type == 'postgres' and setting == 'decisions_table' -%}
        {#- PostgreSQL runs the hook's statements as one transaction, and ALTER TABLE locks the
            table even when the column is there: held to the hook's end, that lock deadlocked
            with a build of the same tables already running. Altered only when missing. -#}
        {%- set alter = "do $sluice$ begin if not exists (select 1 from information_schema.columns where table_schema = '" ~ relation.schema ~ "' and table_name = '" ~ relation.identifier ~ "' and column_name = '" ~ name ~ "') then " ~ alter ~ "; end if; end $sluice$" -%}
      {%- endif -%}
      {%- do statements.append(alter) -%}
    {%- endfor -%}
  {%- endfor -%}
  {#- who may write decisions and approvals (var sluice_grants) -#}
  {%- set decided = [sluice._sluice_bookkeeping_relation('decisions_table'), sluice._sluice_bookkeeping_relation('approvals_table')] -%}
  {%- do statements.extend(sluice._sluice_grant_decisions_sql(decided)) -%}
  {{ return(statements | join(';\n')) }}
{% endmacro %}
