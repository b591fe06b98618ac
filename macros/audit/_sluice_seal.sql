{#- Sealing: the tamper-evident audit trail of the package's history tables.

    Called by the materialization in the model's transaction, right after the build wrote its
    history (exception events, the run row) on both the held and the passed path. In two
    statements, whatever the number of chains:

    1. every record of this model that is due and not sealed yet gets a row in
       sluice_audit_records: its key and the hash of its content (_sluice_audit_row_hash), under
       the chain's next sequence number. Due: for events and runs, the rows of this invocation;
       for decisions (written by reviewers between builds), every decision of the model. The first
       seal of a model's trail takes every row of the model not sealed yet: a history written
       before the trail existed is brought into it on upgrade. Once any chain of the model is
       sealed, a chain that starts (again) takes only this invocation's rows: a chain deleted in
       the warehouse is never sealed afresh over the rows it covered, which stay outside every
       seal for `sluice audit verify` to name (and `sluice build` refuses to start over them).
       A chain marked `sealed_later` also takes its rows without an invocation id: events the
       sidecar wrote between builds (an erasure by `sluice review forget`).
    2. each chain that got records gets one seal in sluice_audit_chain: the records' count, the
       hash of their hashes in order (content_hash), the previous seal's chain_hash and the new
       chain_hash = hash(previous_hash || content_hash || the seal's own fields).

    Chains are per (table, model), so parallel models never append to the same chain, and the
    builds of one model are serialized by sluice.lock_model on PostgreSQL: reading the chain's
    head and appending to it happen under that lock. -#}
{% macro _sluice_seal_sql() %}
  {%- set chain_rel = sluice._sluice_bookkeeping_relation('audit_chain_table') -%}
  {%- set records_rel = sluice._sluice_bookkeeping_relation('audit_records_table') -%}
  {%- do sluice._sluice_ensure_table(chain_rel, sluice._sluice_audit_chain_columns()) -%}
  {%- do sluice._sluice_ensure_table(records_rel, sluice._sluice_audit_records_columns()) -%}
  {%- set chains = sluice._sluice_audit_chains() -%}
  {%- set mid = sluice._sluice_lit(model.unique_id) -%}
  {%- set inv = sluice._sluice_lit(invocation_id) -%}
  {%- set s = dbt.type_string() -%}
  {%- set bi = dbt.type_bigint() -%}

  {%- set _sql0 -%}
    insert into {{ records_rel }} ({{ sluice._sluice_audit_records_columns() | map(attribute=0) | join(', ') }})
    {%- for c in chains %}
    {%- set name = sluice._sluice_lit(c.name) %}
    select {{ name }}, {{ mid }}, h.next_sequence, cast(t.{{ c.key }} as {{ s }}), {{ sluice._sluice_audit_row_hash(c.columns, 't', c.get('evidence', [])) }}
    from {{ sluice._sluice_bookkeeping_relation(c.setting) }} as t
    cross join (
      select cast(coalesce(max(sequence_number), 0) + 1 as {{ bi }}) as next_sequence
      from {{ chain_rel }}
      where chain_name = {{ name }} and model_unique_id = {{ mid }}
    ) as h
    {%- if c.per_invocation %}
    cross join (
      select count(*) as sealed_before from {{ chain_rel }} where model_unique_id = {{ mid }}
    ) as m
    {%- endif %}
    where t.model_unique_id = {{ mid }}
      and t.{{ c.key }} is not null
      {%- if c.per_invocation %}
      and (t.invocation_id = {{ inv }} or (h.next_sequence = 1 and m.sealed_before = 0)
        {%- if c.get('sealed_later') %} or t.invocation_id is null{% endif %})
      {%- endif %}
      and not exists (
        select 1 from {{ records_rel }} as r
        where r.chain_name = {{ name }}
          {%- if not c.paired_by_key %} and r.model_unique_id = {{ mid }}{% endif %}
          and r.record_key = cast(t.{{ c.key }} as {{ s }})
      )
    {%- if c.paired_by_key %}
    {#- the decisions this build refused (about its exceptions, naming another model or none):
        sealed in this model's chain, with the refused event that names them -#}
    union all
    select {{ name }}, {{ mid }}, h.next_sequence, cast(t.{{ c.key }} as {{ s }}), {{ sluice._sluice_audit_row_hash(c.columns, 't', c.get('evidence', [])) }}
    from {{ sluice._sluice_bookkeeping_relation(c.setting) }} as t
    join {{ sluice._sluice_bookkeeping_relation('events_table') }} as e
      on e.event_id = {{ dbt.hash(dbt.concat(["t.exception_id", "'|refused|'", "t.decision_id"])) }}
    cross join (
      select cast(coalesce(max(sequence_number), 0) + 1 as {{ bi }}) as next_sequence
      from {{ chain_rel }}
      where chain_name = {{ name }} and model_unique_id = {{ mid }}
    ) as h
    where e.model_unique_id = {{ mid }} and e.event_type = 'refused'
      and (t.model_unique_id is null or t.model_unique_id <> {{ mid }})
      and t.{{ c.key }} is not null
      and not exists (
        select 1 from {{ records_rel }} as r
        where r.chain_name = {{ name }} and r.record_key = cast(t.{{ c.key }} as {{ s }})
      )
    {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
  {%- endset -%}

  {%- set enc = sluice._sluice_audit_text -%}
  {%- set link = dbt.concat([
    'n.previous_hash', 'n.content_hash', enc('n.chain_name'), enc('n.model_unique_id'),
    enc('cast(n.sequence_number as ' ~ s ~ ')'), enc(inv), enc('cast(n.record_count as ' ~ s ~ ')'),
    enc('n.hashed_columns'), enc(sluice.timestamp_text('n.sealed_at')),
  ]) -%}
  {%- set _sql1 -%}
    insert into {{ chain_rel }} ({{ sluice._sluice_audit_chain_columns() | map(attribute=0) | join(', ') }})
    select n.chain_name, n.model_unique_id, n.sequence_number, {{ inv }}, n.record_count,
      n.hashed_columns, n.content_hash, n.previous_hash, {{ dbt.hash(link) }}, n.sealed_at
    from (
      select b.chain_name, b.model_unique_id, b.sequence_number, b.record_count, b.content_hash,
        b.sealed_at,
        coalesce(p.chain_hash, {{ sluice._sluice_lit(sluice._sluice_audit_genesis()) }}) as previous_hash,
        (case b.chain_name
          {%- for c in chains %}
          when {{ sluice._sluice_lit(c.name) }} then {{ sluice._sluice_lit(sluice._sluice_audit_hashed_columns(c.columns, c.get('evidence', []))) }}
          {%- endfor %}
        end) as hashed_columns
      from (
        select r.chain_name, r.model_unique_id, r.sequence_number,
          cast(count(*) as {{ bi }}) as record_count,
          {{ dbt.hash(dbt.listagg('r.record_hash', "''", 'order by r.record_hash')) }} as content_hash,
          {{ sluice.utc_now() }} as sealed_at
        from {{ records_rel }} as r
        where r.model_unique_id = {{ mid }}
          and r.chain_name in ({% for c in chains %}{{ sluice._sluice_lit(c.name) }}{{ ", " if not loop.last }}{% endfor %})
          and not exists (
            select 1 from {{ chain_rel }} as c
            where c.chain_name = r.chain_name and c.model_unique_id = r.model_unique_id
              and c.sequence_number = r.sequence_number
          )
        group by r.chain_name, r.model_unique_id, r.sequence_number
      ) as b
      left join {{ chain_rel }} as p
        on p.chain_name = b.chain_name and p.model_unique_id = b.model_unique_id
        and p.sequence_number = b.sequence_number - 1
    ) as n
  {%- endset -%}
  {{ return([_sql0, _sql1]) }}
{% endmacro %}


{#- The previous_hash of a chain's first seal. -#}
{% macro _sluice_audit_genesis() %}
  {{ return('0' * 32) }}
{% endmacro %}


{#- A value as unambiguous text: NULL is `~`, anything else `<length>:<text>`, so that no two
    different lists of values concatenate to the same text. -#}
{% macro _sluice_audit_text(expr) %}
  {{ return("(case when " ~ expr ~ " is null then '~' else " ~ dbt.concat(["cast(" ~ dbt.length(expr) ~ " as " ~ dbt.type_string() ~ ")", "':'", expr]) ~ " end)") }}
{% endmacro %}


{#- The content hash of a row of `alias`: every column in order, as unambiguous text (timestamps
    in one fixed format, see timestamp_text), hashed. An evidence column (a chain's `evidence`
    list: values that may be redacted) is hashed by its digest (_sluice_audit_evidence_digest),
    so a value replaced by its redaction marker keeps the row's hash. The verifier (`sluice audit
    verify`) builds the same expression from the seal's hashed_columns. -#}
{% macro _sluice_audit_row_hash(columns, alias, evidence=[]) %}
  {%- set ts = dbt.type_timestamp() -%}
  {%- set s = dbt.type_string() -%}
  {#- the encoding of one value, built once with a marker where each column's text goes -#}
  {%- set marker = '__sluice_value__' -%}
  {%- set encoded = sluice._sluice_audit_text(marker) -%}
  {%- set parts = [] -%}
  {%- for name, data_type in columns -%}
    {%- set col = alias ~ '.' ~ name -%}
    {%- if name in evidence -%}
      {%- set text = sluice._sluice_audit_evidence_digest(col) -%}
    {%- elif data_type == ts -%}
      {%- set text = sluice.timestamp_text('cast(' ~ col ~ ' as ' ~ ts ~ ')') -%}
    {%- else -%}
      {%- set text = 'cast(' ~ col ~ ' as ' ~ s ~ ')' -%}
    {%- endif -%}
    {%- do parts.append(encoded | replace(marker, text)) -%}
  {%- endfor -%}
  {{ return(dbt.hash(dbt.concat(parts))) }}
{% endmacro %}


{#- What the trail seals of an evidence value: NULL stays NULL, a redaction marker
    (`sluice:redacted:` and the digest of the value it replaced) gives the digest it keeps, any
    other value its md5. -#}
{% macro _sluice_audit_evidence_digest(expr) %}
  {%- set prefix = sluice._sluice_redaction_prefix() -%}
  {%- set text = 'cast(' ~ expr ~ ' as ' ~ dbt.type_string() ~ ')' -%}
  {{ return("(case when substring(" ~ text ~ ", 1, " ~ (prefix | length) ~ ") = '" ~ prefix ~ "' then substring(" ~ text ~ ", " ~ ((prefix | length) + 1) ~ ", 32) else " ~ dbt.hash(text) ~ " end)") }}
{% endmacro %}


{#- An evidence value as its redaction marker (the prefix and the value's digest): what the
    history stores of a record key, so that no event holds one in clear and redacting an
    exception never rewrites its history. NULL and markers stay as they are. -#}
{% macro _sluice_redaction_sql(expr) %}
  {%- set prefix = sluice._sluice_redaction_prefix() -%}
  {%- set text = 'cast(' ~ expr ~ ' as ' ~ dbt.type_string() ~ ')' -%}
  {{ return("(case when " ~ text ~ " is null or substring(" ~ text ~ ", 1, " ~ (prefix | length) ~ ") = '" ~ prefix ~ "' then " ~ text ~ " else " ~ dbt.concat(["'" ~ prefix ~ "'", dbt.hash(text)]) ~ " end)") }}
{% endmacro %}


{#- The text that starts a redacted evidence value; the value's digest follows it. -#}
{% macro _sluice_redaction_prefix() %}
  {{ return('sluice:redacted:') }}
{% endmacro %}


{#- The column list a seal records (hashed_columns): names in order, `:timestamp` after those
    hashed as timestamps, `:digest` after the evidence columns hashed by their digest. -#}
{% macro _sluice_audit_hashed_columns(columns, evidence=[]) %}
  {%- set ts = dbt.type_timestamp() -%}
  {%- set names = [] -%}
  {%- for name, data_type in columns -%}
    {%- do names.append(name ~ (':digest' if name in evidence else ':timestamp' if data_type == ts else '')) -%}
  {%- endfor -%}
  {{ return(names | join(',')) }}
{% endmacro %}
