{#- The audit trail's two tables, each declared once, typed.

    sluice_audit_chain: one row per sealed batch ("seal") of one chain. A chain is one audited
    table of one model: (chain_name, model_unique_id). Its seals are numbered 1, 2, ... and each
    one's chain_hash covers the previous seal's chain_hash, the batch's content_hash and the
    seal's own fields.

    sluice_audit_records: one row per record a seal covers: the record's key and the hash of its
    content at the time it was sealed. A seal's content_hash is the hash of its records' hashes,
    in order. -#}

{% macro _sluice_audit_chain_columns() %}
  {%- set s = dbt.type_string() -%}
  {%- set bi = dbt.type_bigint() -%}
  {{ return([
    ('chain_name', s), ('model_unique_id', s), ('sequence_number', bi), ('invocation_id', s),
    ('record_count', bi), ('hashed_columns', s), ('content_hash', s), ('previous_hash', s),
    ('chain_hash', s), ('sealed_at', dbt.type_timestamp()),
  ]) }}
{% endmacro %}


{% macro _sluice_audit_records_columns() %}
  {%- set s = dbt.type_string() -%}
  {{ return([
    ('chain_name', s), ('model_unique_id', s), ('sequence_number', dbt.type_bigint()),
    ('record_key', s), ('record_hash', s),
  ]) }}
{% endmacro %}


{#- The chains the package seals, each the append-only history of one bookkeeping table:
    name (stored in chain_name), the setting naming its table, the column identifying a record
    within a model, its columns (all of them are hashed), whether a build seals only the rows
    it wrote itself (those of this invocation) or every row of the model not sealed yet, and
    whether a record's key is unique across models (paired_by_key: a decision is sealed once,
    in the chain of the model that applied or refused it, whatever model the row names), and
    `evidence`: the columns that may be redacted (sealed by their digest; no key: none), and
    `sealed_later`: rows without an invocation id (written by the sidecar between builds, an
    erasure's events) are sealed by the model's next build (no key: false). -#}
{% macro _sluice_audit_chains() %}
  {{ return([
    {'name': 'exception_events', 'setting': 'events_table', 'key': 'event_id', 'columns': sluice._sluice_events_columns(), 'per_invocation': true, 'paired_by_key': false, 'evidence': ['record_key', 'reason'], 'sealed_later': true},
    {'name': 'runs', 'setting': 'runs_table', 'key': 'invocation_id', 'columns': sluice._sluice_runs_columns(), 'per_invocation': true, 'paired_by_key': false},
    {'name': 'decisions', 'setting': 'decisions_table', 'key': 'decision_id', 'columns': sluice._sluice_decisions_columns(), 'per_invocation': false, 'paired_by_key': true, 'evidence': ['reason']},
    {'name': 'decision_approvals', 'setting': 'approvals_table', 'key': 'approval_id', 'columns': sluice._sluice_approvals_columns(), 'per_invocation': false, 'paired_by_key': false, 'evidence': ['reason']},
  ]) }}
{% endmacro %}
