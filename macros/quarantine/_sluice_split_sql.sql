{#- The SQL of the split. One narrow pass computes, for failing rows only, the record key, the
    copy number and one boolean per rule; everything else joins that small result back.
    `sql` is the model's compiled SQL; `cols` maps rule column names to quoted column names. -#}

{% macro _sluice_key_aliases(spec) %}
  {%- set out = [] -%}
  {%- for k in spec.key_sql -%}{%- do out.append('_sluice_k' ~ loop.index0) -%}{%- endfor -%}
  {{ return(out) }}
{% endmacro %}


{#- Rows whose dedupe columns repeat: the grouped subquery (cheaper than a window over all rows). -#}
{% macro _sluice_repeats_sql(sql, spec) %}
  {%- set d = spec.dedupe -%}
  select {% for c in d.columns %}s.{{ spec.cols[c] }} as _sluice_d{{ loop.index0 }}{{ ", " if not loop.last }}{% endfor %}
  from (
{{ sql }}
  ) as s
  where {% for c in d.columns %}s.{{ spec.cols[c] }} is not null{{ " and " if not loop.last }}{% endfor %}
  group by {% for c in d.columns %}s.{{ spec.cols[c] }}{{ ", " if not loop.last }}{% endfor %}
  having count(*) > 1
{% endmacro %}


{% macro _sluice_repeat_match(spec, repeats, alias) -%}
  select 1 from {{ repeats }} as rep
  where {% for c in spec.dedupe.columns %}rep._sluice_d{{ loop.index0 }} = {{ alias }}.{{ spec.cols[c] }}{{ " and " if not loop.last }}{% endfor %}
{%- endmacro %}


{% macro _sluice_order_by(spec) -%}
  {%- set d = spec.dedupe -%}
  {%- if d.order_by | length > 0 -%}{{ d.order_by | join(', ') }}
  {%- else -%}{% for k in spec.key_sql %}{{ k }}{{ ", " if not loop.last }}{% endfor %}
  {%- endif -%}
{%- endmacro %}


{#- The narrow pass over `source` (the model's SQL, or the small table of interesting rows):
    only failing rows, only key columns, copy number and one flag per rule.
    branch: 'all' (no uniqueness rule), 'first' (rows whose dedupe columns do not repeat) or
    'repeat' (rows of repeated groups, read from the interesting rows, numbered). -#}
{% macro _sluice_narrow_pass_sql(source, spec, repeats, branch) %}
  {%- set keys = sluice._sluice_key_aliases(spec) -%}
  {%- set row_rules = spec.rules | rejectattr('kind', 'equalto', 'unique') | list -%}
  {%- set blocking = [] -%}
  {%- set any_fail = [] -%}
  {%- for r in spec.rules -%}
    {%- do any_fail.append('_sluice_f' ~ r.index) -%}
    {%- if r.blocking -%}{%- do blocking.append('_sluice_f' ~ r.index) -%}{%- endif -%}
  {%- endfor -%}
  select e.*, {{ (blocking | join(' or ')) if blocking else 'false' }} as _sluice_blocking
  from (
    select
      {%- for k in spec.key_sql %}
      s.{{ k }} as {{ keys[loop.index0] }},
      {%- endfor %}
      {{ 's._sluice_copy' if branch == 'repeat' else '1' }} as _sluice_copy
      {%- for r in row_rules %},
      {{ sluice._sluice_failure_predicate(r, 's', spec.cols, 'r' ~ r.index ~ '._sluice_ref_k') }} as _sluice_f{{ r.index }}
      {%- endfor %}
      {%- if spec.dedupe is not none %},
      {{ '(s._sluice_copy > 1)' if branch == 'repeat' else 'false' }} as _sluice_f{{ spec.dedupe.index }}
      {%- endif %}
    from
      {%- if branch == 'repeat' %} {{ source }} as s
      {%- else %} (
{{ source }}
      ) as s
      {%- endif %}
      {%- for r in row_rules if r.kind == 'relationship' %}
      left join (select distinct {{ r.field }} as _sluice_ref_k from {{ r.to }}) as r{{ r.index }}
        on r{{ r.index }}._sluice_ref_k = s.{{ spec.cols[r.column] }}
      {%- endfor %}
    {%- if branch == 'first' %}
    where not exists ({{ sluice._sluice_repeat_match(spec, repeats, 's') }})
    {%- elif branch == 'repeat' %}
    where s._sluice_in_rep
    {%- endif %}
  ) as e
  where {{ any_fail | join(' or ') if any_fail else 'false' }}
{% endmacro %}


{#- The few rows worth reading in full: failing rows and every row of a repeated group, with
    their copy number. One scan of the model; everything after it reads this small table. -#}
{% macro _sluice_interesting_sql(sql, spec, repeats, failures) %}
  {%- set keys = sluice._sluice_key_aliases(spec) -%}
  {%- set d = spec.dedupe -%}
  select s.*
    {%- if d is not none %},
    (exists ({{ sluice._sluice_repeat_match(spec, repeats, 's') }})) as _sluice_in_rep
    {%- else %},
    false as _sluice_in_rep
    {%- endif %}
  from (
{{ sql }}
  ) as s
  where exists (
    select 1 from {{ failures }} as f
    where {% for k in spec.key_sql %}f.{{ keys[loop.index0] }} = s.{{ k }}{{ " and " if not loop.last }}{% endfor %}
  )
  {%- if d is not none %}
  or exists ({{ sluice._sluice_repeat_match(spec, repeats, 's') }})
  {%- endif %}
  {%- if spec.null_keys %}
  or {% for k in spec.key_sql %}s.{{ k }} is null{{ " or " if not loop.last }}{% endfor %}
  {%- endif %}
{% endmacro %}


{% macro _sluice_numbered_interesting_sql(spec, interesting) %}
  {%- set d = spec.dedupe -%}
  select i.*,
    {%- if d is not none %}
    case when i._sluice_in_rep then row_number() over (
        partition by {% for c in d.columns %}i.{{ spec.cols[c] }}{{ ", " if not loop.last }}{% endfor %}
        order by {{ sluice._sluice_order_by(spec) }}) else 1 end as _sluice_copy
    {%- else %}
    1 as _sluice_copy
    {%- endif %}
  from {{ interesting }} as i
{% endmacro %}


{#- Failing rows joined to their full row (from the interesting rows): the original row as JSON,
    plus the text of every column a rule names. NULL keys are matched separately. -#}
{% macro _sluice_failed_rows_sql(spec, interesting, failures, null_keys) %}
  {%- set keys = sluice._sluice_key_aliases(spec) -%}
  {%- for join_kind in (['key', 'null'] if null_keys else ['key']) %}
  select f.*,
    {{ sluice.row_to_json(spec.columns, 'n') }} as _sluice_row_json
    {%- for c in spec.value_columns %},
    cast(n.{{ spec.cols[c] }} as {{ dbt.type_string() }}) as _sluice_v{{ loop.index0 }}
    {%- endfor %}
  from {{ failures }} as f
  join {{ interesting }} as n
    on n._sluice_copy = f._sluice_copy
    {%- if join_kind == 'key' %}
    {%- for k in spec.key_sql %}
    and n.{{ k }} = f.{{ keys[loop.index0] }}
    {%- endfor %}
    {%- else %}
    and ({% for k in spec.key_sql %}n.{{ k }} is null{{ " or " if not loop.last }}{% endfor %})
  where ({% for k in keys %}f.{{ k }} is null{{ " or " if not loop.last }}{% endfor %})
    {%- endif %}
  {{ "union all" if not loop.last }}
  {%- endfor %}
{% endmacro %}


{#- The record key as text: the key columns' values joined by '|', NULL as ''. One definition
    for the quarantine's record_key and every comparison with it. -#}
{% macro _sluice_key_text(columns, alias=none) -%}
  {%- set parts = [] -%}
  {%- for k in columns -%}
    {%- if not loop.first -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- do parts.append("coalesce(cast(" ~ ((alias ~ ".") if alias else "") ~ k ~ " as " ~ dbt.type_string() ~ "), '')") -%}
  {%- endfor -%}
  {{ dbt.concat(parts) if parts | length > 1 else parts[0] }}
{%- endmacro %}


{#- The record key over the narrow pass's key aliases. -#}
{% macro _sluice_record_key_sql(spec, alias) -%}
  {{ sluice._sluice_key_text(sluice._sluice_key_aliases(spec), alias) }}
{%- endmacro %}


{#- The record key text over the model's own key columns (not the narrow pass aliases). -#}
{% macro _sluice_source_key_sql(spec, alias) -%}
  {{ sluice._sluice_key_text(spec.key_sql, alias) }}
{%- endmacro %}


{#- One exception per (record, rule), with every metadata column, typed as the quarantine. -#}
{% macro _sluice_exceptions_sql(spec, failed_rows) %}
  {%- set s = dbt.type_string() -%}
  {%- set now = "cast(" ~ dbt.current_timestamp() ~ " as " ~ dbt.type_timestamp() ~ ")" -%}
  {%- set inv = sluice._sluice_lit(invocation_id) -%}
  select {% for name, t in sluice._sluice_quarantine_columns() %}{{ name }}{{ ", " if not loop.last }}{% endfor %}
  from (
    select x.*, row_number() over (partition by exception_id order by record_copy) as _sluice_rn
    from (
    {%- for r in spec.rules %}
      select
        {{ dbt.hash(dbt.concat([sluice._sluice_lit(model.unique_id ~ '|'), sluice._sluice_record_key_sql(spec, 'fr'), "'|'", "cast(fr._sluice_copy as " ~ s ~ ")", sluice._sluice_lit('|' ~ r.name)])) }} as exception_id,
        {{ sluice._sluice_lit(spec.model_name) }} as model_name,
        {{ sluice._sluice_lit(model.unique_id) }} as model_unique_id,
        {{ sluice._sluice_record_key_sql(spec, 'fr') }} as record_key,
        cast(fr._sluice_copy as {{ dbt.type_int() }}) as record_copy,
        {{ sluice._sluice_lit(r.name) }} as rule_name,
        {{ sluice._sluice_lit(r.error_class) }} as error_class,
        {{ sluice._sluice_lit(r.severity) }} as severity,
        {{ sluice._sluice_lit(r.route) }} as route,
        {{ sluice._sluice_lit(r.owner) }} as owner,
        {{ sluice._sluice_lit(spec.source_system) }} as source_system,
        {{ sluice._sluice_lit(spec.target_system) }} as target_system,
        {{ sluice._sluice_lit(sluice._sluice_rule_message(r)) }} as message,
        {{ sluice._sluice_lit(r.columns | join(', ') if r.columns else none) }} as failed_column,
        {%- if r.columns | length == 1 %}
        fr._sluice_v{{ spec.value_columns.index(r.columns[0]) }} as failed_value,
        {%- elif r.columns | length > 1 %}
        {%- set vparts = [] -%}
        {%- for c in r.columns -%}
          {%- if not loop.first -%}{%- do vparts.append("'|'") -%}{%- endif -%}
          {%- do vparts.append("coalesce(fr._sluice_v" ~ spec.value_columns.index(c) ~ ", '')") -%}
        {%- endfor %}
        {{ dbt.concat(vparts) }} as failed_value,
        {%- else %}
        cast(null as {{ s }}) as failed_value,
        {%- endif %}
        {{ inv }} as invocation_id,
        {{ inv }} as first_invocation_id,
        {{ now }} as first_seen_at,
        {{ now }} as last_seen_at,
        cast(1 as {{ dbt.type_int() }}) as attempt_count,
        {{ sluice._sluice_lit('open') }} as status,
        {{ now }} as status_changed_at,
        {{ inv }} as status_invocation_id,
        fr._sluice_row_json as row_json
      from {{ failed_rows }} as fr
      where fr._sluice_f{{ r.index }}
      {{ "union all" if not loop.last }}
    {%- endfor %}
    ) as x
  ) as d
  where _sluice_rn = 1
{% endmacro %}


{#- What gets published: every row but the held ones (flagged rows stay in). Rows of repeated
    groups are taken from the interesting rows, where they are numbered; all other rows are read
    once from the model and anti-joined with the small set of held keys. -#}
{% macro _sluice_publish_sql(sql, spec, failures, interesting, rejected=none) %}
  {%- set keys = sluice._sluice_key_aliases(spec) -%}
  select {% for c in spec.columns %}s.{{ adapter.quote(c) }}{{ ", " if not loop.last }}{% endfor %}
  from (
{{ sql }}
  ) as s
  where {% for k in spec.key_sql %}s.{{ k }} is not null and {% endfor %}not exists (
    select 1 from (
      select {% for k in keys %}{{ k }}{{ ", " if not loop.last }}{% endfor %} from {{ failures }} where _sluice_blocking
      {%- if spec.dedupe is not none %}
      union all
      select {% for k in spec.key_sql %}{{ k }}{{ ", " if not loop.last }}{% endfor %} from {{ interesting }} where _sluice_in_rep
      {%- endif %}
    ) as h
    where {% for k in spec.key_sql %}h.{{ keys[loop.index0] }} = s.{{ k }}{{ " and " if not loop.last }}{% endfor %}
  )
  {%- if rejected is not none %}
  and {{ sluice._sluice_source_key_sql(spec, 's') }} not in (select record_key from {{ rejected }})
  {%- endif %}
  {%- if spec.dedupe is not none %}
  union all
  select {% for c in spec.columns %}i.{{ adapter.quote(c) }}{{ ", " if not loop.last }}{% endfor %}
  from {{ interesting }} as i
  where i._sluice_in_rep
    and {% for k in spec.key_sql %}i.{{ k }} is not null and {% endfor %}not exists (
      select 1 from {{ failures }} as f
      where f._sluice_blocking and f._sluice_copy = i._sluice_copy
        {%- for k in spec.key_sql %}
        and f.{{ keys[loop.index0] }} = i.{{ k }}
        {%- endfor %}
    )
    {%- if rejected is not none %}
    and {{ sluice._sluice_source_key_sql(spec, 'i') }} not in (select record_key from {{ rejected }})
    {%- endif %}
  {%- endif %}
{% endmacro %}
