{#- The field-conflict rule (sluice_conflict): a row of the model disagrees with its counterpart
    in another system's relation (`with`), matched on `on`, on one of the `compare` fields.

    Semantics, the same in a plain test and in a sluice model's audit:
    - a field differs when both values are non-NULL and not equal (numbers within `tolerance`
      are equal; times within a duration `tolerance` like '5 minutes' are equal), or when one
      side is NULL and the other is not (unless `null_is_conflict: false`, which treats a NULL
      on either side as unknown); NULL against NULL agrees;
    - text is compared as stored: trailing spaces are part of the value, unless `trim: true`
      (leading and trailing spaces ignored on text fields);
    - a row with no counterpart is not a conflict (that is a relationship rule's job), unless
      `missing_is_conflict: true`;
    - `with` should hold one row per `on` key; where it holds several, the row conflicts when
      any of them disagrees, and the evidence shows the range of the values that disagree.

    The counterpart is read once: its rows whose key has a disagreeing row of the model (a
    semi-join), reduced to one row per key (row count, and per field the non-NULL count, the
    smallest and the largest value). Scans of the model join that small relation on the key, so
    a row is never repeated.

    In a sluice model's audit the batch is not read for that semi-join: the scan that finds the
    failing keys joins the counterpart itself (a hash of the smaller side, probed once by the
    batch) and keeps the few failing rows' values of the rule's columns; the semi-join then
    reads those rows instead of the batch (_sluice_conflict_ctes with `failing`). A model row
    that disagrees with a counterpart row fails the rule, so it is among them: the reduced
    counterpart, and with it every flag and every piece of evidence, is the same. -#}


{#- The rule's arguments, checked: `on` as (column, counterpart column) pairs, `compare` as
    fields {column, with_column, tolerance, tolerance_kind}, and every column of the model the
    rule reads (the `on` columns first). -#}
{% macro _sluice_conflict_args(model_name, rule_name, args) %}
  {%- if not args.get('with') -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'with', "a conflict rule needs `with`: the other system's relation (ref or source)") }}
  {%- endif -%}
  {#- declared under a column, the rule matches on that column by default -#}
  {%- set on = args.get('match_on') or args.get('column_name') -%}
  {%- if on is string -%}{%- set on = [on] -%}{%- endif -%}
  {%- set pairs = [] -%}
  {%- if on is mapping -%}
    {%- for k, v in on.items() -%}{%- do pairs.append((k | string, v | string)) -%}{%- endfor -%}
  {%- elif on is iterable and on is not none -%}
    {%- for k in on -%}
      {%- if k is not string -%}
        {{ sluice._sluice_config_error(model_name, rule_name, 'match_on', "expected column names or a mapping {column: counterpart_column}, got '" ~ k ~ "'") }}
      {%- endif -%}
      {%- do pairs.append((k, k)) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if pairs | length == 0 -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'match_on', "a conflict rule needs `match_on`: the key matching a row to its counterpart, as {column: counterpart_column} or a list of columns named alike") }}
  {%- endif -%}
  {%- set compare = args.get('compare') -%}
  {%- if compare is string -%}{%- set compare = [compare] -%}{%- endif -%}
  {%- if compare is none or compare is mapping or compare | length == 0 -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'compare', "a conflict rule needs `compare`: a list of columns, or {column, with_column, tolerance} entries") }}
  {%- endif -%}
  {%- set fields = [] -%}
  {%- for item in compare -%}
    {%- set entry = {'column': item} if item is string else item -%}
    {%- if entry is not mapping or not entry.get('column') or entry.get('column') is not string -%}
      {{ sluice._sluice_config_error(model_name, rule_name, 'compare', "expected a column name or {column: ..., tolerance: ...}, got '" ~ item ~ "'") }}
    {%- endif -%}
    {%- for k in entry.keys() if k not in ('column', 'with_column', 'tolerance') -%}
      {{ sluice._sluice_config_error(model_name, rule_name, 'compare.' ~ k, "unknown key for a compared field (expected column, with_column, tolerance)") }}
    {%- endfor -%}
    {%- set tolerance = entry.get('tolerance') -%}
    {%- set kind = none -%}
    {%- if tolerance is string -%}
      {%- set tolerance = sluice._sluice_duration(model_name, rule_name, 'compare.' ~ entry.column ~ '.tolerance', tolerance) -%}
      {%- set kind = 'time' -%}
    {%- elif tolerance is not none -%}
      {%- if tolerance is not number or tolerance is boolean or tolerance < 0 -%}
        {{ sluice._sluice_config_error(model_name, rule_name, 'compare.' ~ entry.column ~ '.tolerance', "expected a number of at least 0, or a duration like '5 minutes', got '" ~ tolerance ~ "'") }}
      {%- endif -%}
      {%- set kind = 'number' -%}
    {%- endif -%}
    {%- do fields.append({'column': entry.column, 'with_column': entry.get('with_column') or entry.column, 'tolerance': tolerance, 'tolerance_kind': kind}) -%}
  {%- endfor -%}
  {%- for flag in ('null_is_conflict', 'missing_is_conflict', 'trim') -%}
    {%- if args.get(flag) is not none and args.get(flag) not in (true, false) -%}
      {{ sluice._sluice_config_error(model_name, rule_name, flag, "expected true or false, got '" ~ args.get(flag) ~ "'") }}
    {%- endif -%}
  {%- endfor -%}
  {%- set columns = [] -%}
  {%- for p in pairs if p[0] not in columns -%}{%- do columns.append(p[0]) -%}{%- endfor -%}
  {%- for f in fields if f.column not in columns -%}{%- do columns.append(f.column) -%}{%- endfor -%}
  {{ return({
    'on': pairs,
    'fields': fields,
    'columns': columns,
    'null_is_conflict': args.get('null_is_conflict', true) is not false,
    'missing_is_conflict': args.get('missing_is_conflict', false) is true,
    'trim': args.get('trim', false) is true,
  }) }}
{% endmacro %}


{#- A field's value on the model's side (`alias`.column), trimmed when the rule trims text. -#}
{% macro _sluice_conflict_value(r, f, expr, text_field) -%}
  {%- if r.conflict.trim and text_field -%}trim({{ expr }}){%- else -%}{{ expr }}{%- endif -%}
{%- endmacro %}


{#- Whether field f is text (trimmed with `trim: true`): no tolerance, and not a number, a time or
    a boolean on the model's side where its type is known. -#}
{% macro _sluice_conflict_is_text(r, f) %}
  {%- if f.tolerance_kind is not none -%}{{ return(false) }}{%- endif -%}
  {%- set types = r.get('column_types') or [] -%}
  {%- set i = r.columns.index(f.column) -%}
  {%- if types | length > i -%}{{ return(sluice._sluice_key_kind(types[i]) == 'text') }}{%- endif -%}
  {{ return(true) }}
{% endmacro %}


{#- `lo` and `hi` within the tolerance of `x` (all of them non-NULL here). -#}
{% macro _sluice_conflict_within(f, x, lo, hi) -%}
  {%- if f.tolerance_kind == 'number' -%}
  ({{ lo }} >= {{ x }} - {{ f.tolerance }} and {{ hi }} <= {{ x }} + {{ f.tolerance }})
  {%- elif f.tolerance_kind == 'time' -%}
  ({{ lo }} >= {{ dbt.dateadd('second', -f.tolerance, x) }} and {{ hi }} <= {{ dbt.dateadd('second', f.tolerance, x) }})
  {%- else -%}
  ({{ lo }} = {{ x }} and {{ hi }} = {{ x }})
  {%- endif -%}
{%- endmacro %}


{#- TRUE when the model's value `x` and one counterpart value `y` disagree (never NULL). -#}
{% macro _sluice_conflict_row_differs(r, f, x, y) -%}
  {%- set differs = "not coalesce(" ~ sluice._sluice_conflict_within(f, x, y, y) ~ ", false)" -%}
  {%- if r.conflict.null_is_conflict -%}
  (({{ x }} is null and {{ y }} is not null) or ({{ x }} is not null and {{ y }} is null) or ({{ x }} is not null and {{ y }} is not null and {{ differs }}))
  {%- else -%}
  ({{ x }} is not null and {{ y }} is not null and {{ differs }})
  {%- endif -%}
{%- endmacro %}


{#- TRUE when the model's row (`alias`) disagrees on field number j with a counterpart row of its
    key, read from the reduced counterpart (alias `_sluice_c<index>`); FALSE without one. -#}
{% macro _sluice_conflict_field_differs(r, j, alias, cols) -%}
  {%- set f = r.conflict.fields[j] -%}
  {%- set c = '_sluice_c' ~ r.index -%}
  {%- set x = sluice._sluice_conflict_value(r, f, alias ~ '.' ~ cols[f.column], sluice._sluice_conflict_is_text(r, f)) -%}
  {%- set within = "coalesce(" ~ sluice._sluice_conflict_within(f, x, c ~ '._sluice_lo' ~ j, c ~ '._sluice_hi' ~ j) ~ ", false)" -%}
  {%- if r.conflict.null_is_conflict -%}
  ({{ c }}._sluice_n is not null and (({{ x }} is null and {{ c }}._sluice_nn{{ j }} > 0) or ({{ x }} is not null and ({{ c }}._sluice_nn{{ j }} < {{ c }}._sluice_n or not {{ within }}))))
  {%- else -%}
  ({{ c }}._sluice_n is not null and {{ x }} is not null and {{ c }}._sluice_nn{{ j }} > 0 and not {{ within }})
  {%- endif -%}
{%- endmacro %}


{#- The model's row `alias` and a counterpart row `t` of rule r: the condition matching them
    on `on`, and TRUE (never NULL) when they disagree on a compared field. -#}
{% macro _sluice_conflict_pair(r, alias, t, cols) %}
  {%- set match = [] -%}
  {%- for p in r.conflict.on -%}{%- do match.append(alias ~ "." ~ cols[p[0]] ~ " = " ~ t ~ "." ~ p[1]) -%}{%- endfor -%}
  {%- set differs = [] -%}
  {%- for f in r.conflict.fields -%}
    {%- set text_field = sluice._sluice_conflict_is_text(r, f) -%}
    {%- do differs.append(sluice._sluice_conflict_row_differs(r, f, sluice._sluice_conflict_value(r, f, alias ~ '.' ~ cols[f.column], text_field), sluice._sluice_conflict_value(r, f, t ~ '.' ~ f.with_column, text_field))) -%}
  {%- endfor -%}
  {{ return((match | join(' and '), '(' ~ (differs | join('\n          or ')) ~ ')')) }}
{% endmacro %}


{#- The common tables of a conflict rule reading the relation `source` (the batch, or the model in
    a plain test): the reduced counterpart of the keys with a disagreeing row and, with
    `missing_is_conflict`, the keys that have no counterpart. Given `failing` (the failing rows
    of a sluice model's audit, with _sluice_conflict_row_columns), both read those rows instead
    of `source`. -#}
{% macro _sluice_conflict_ctes(r, source, cols, failing=none) %}
  {%- if r.kind == 'identity_conflict' -%}{{ return(sluice._sluice_identity_conflict_ctes(r, source, cols)) }}{%- endif -%}
  {%- set c = r.conflict -%}
  {%- set read = cols if failing is none else sluice._sluice_conflict_kept(r) -%}
  {%- set pair = sluice._sluice_conflict_pair(r, 'm', 't', read) -%}
  {%- set aggregates = [] -%}
  {%- for f in c.fields -%}
    {%- set y = sluice._sluice_conflict_value(r, f, 't.' ~ f.with_column, sluice._sluice_conflict_is_text(r, f)) -%}
    {%- do aggregates.append("count(t." ~ f.with_column ~ ") as _sluice_nn" ~ loop.index0 ~ ", min(" ~ y ~ ") as _sluice_lo" ~ loop.index0 ~ ", max(" ~ y ~ ") as _sluice_hi" ~ loop.index0) -%}
  {%- endfor -%}
  {%- set out = [] -%}
  {%- set reduced -%}
  _sluice_c{{ r.index }} as (
    select {% for p in c.on %}t.{{ p[1] }} as _sluice_ck{{ loop.index0 }}, {% endfor %}count(*) as _sluice_n,
      {{ aggregates | join(',\n      ') }}
    from {{ r.to }} as t
    {%- if failing is none %}
    where exists (
      select 1 from {{ source }} as m
      where {{ pair[0] }}
        and {{ pair[1] }}
    )
    {%- else %}
    {#- a join, not a correlated EXISTS, which DuckDB plans by deduplicating the whole
        counterpart first; a counterpart row disagreeing with several failing rows is counted
        once per row, which changes none of the aggregates' uses (NULLs among the rows or not,
        the lowest and highest value; one row, or several with one value) #}
    join (select distinct {{ read.values() | join(', ') }} from {{ failing }}) as m
      on {{ pair[0] }}
        and {{ pair[1] }}
    {%- endif %}
    group by {% for p in c.on %}t.{{ p[1] }}{{ ", " if not loop.last }}{% endfor %}
  )
  {%- endset -%}
  {%- do out.append(reduced) -%}
  {%- if c.missing_is_conflict -%}
    {%- set missing -%}
  _sluice_cm{{ r.index }} as (
    select distinct {% for p in c.on %}m.{{ read[p[0]] }} as _sluice_mk{{ loop.index0 }}{{ ", " if not loop.last }}{% endfor %}
    {%- if failing is none %}
    from {{ source }} as m
    where {% for p in c.on %}m.{{ cols[p[0]] }} is not null and {% endfor %}not exists (
      select 1 from {{ r.to }} as t where {{ pair[0] }}
    )
    {%- else %}
    from {{ failing }} as m
    where m._sluice_c{{ r.index }}x = 1
    {%- endif %}
  )
    {%- endset -%}
    {%- do out.append(missing) -%}
  {%- endif -%}
  {{ return(out) }}
{% endmacro %}


{#- The scan that finds a sluice model's failing rows reads the counterpart itself: one row per
    matching counterpart row, or one without (alias `_sluice_t<index>`). -#}
{% macro _sluice_conflict_row_join(r, alias, cols) -%}
  left join {{ r.to }} as _sluice_t{{ r.index }}
    on {{ sluice._sluice_conflict_pair(r, alias, '_sluice_t' ~ r.index, cols)[0] }}
{%- endmacro %}


{#- TRUE (never NULL) when the row of `alias` and its counterpart row joined above disagree, or
    it has none and the rule counts that as a conflict. -#}
{% macro _sluice_conflict_row_fails(r, alias, cols) -%}
  {%- set t = '_sluice_t' ~ r.index -%}
  {%- set first = r.conflict.on[0][1] -%}
  (({{ t }}.{{ first }} is not null and {{ sluice._sluice_conflict_pair(r, alias, t, cols)[1] }})
  {%- if r.conflict.missing_is_conflict %} or ({{ t }}.{{ first }} is null{% for p in r.conflict.on %} and {{ alias }}.{{ cols[p[0]] }} is not null{% endfor %}){% endif %})
{%- endmacro %}


{#- The names under which a failing row keeps the rule's columns: {column: _sluice_c<index>_<n>}. -#}
{% macro _sluice_conflict_kept(r) %}
  {%- set kept = {} -%}
  {%- for c in r.conflict.columns -%}{%- do kept.update({c: '_sluice_c' ~ r.index ~ '_' ~ loop.index0}) -%}{%- endfor -%}
  {{ return(kept) }}
{% endmacro %}


{#- What a failing row keeps for the rule: the values of its columns (the `on` columns and the
    compared ones, _sluice_conflict_kept) and, with `missing_is_conflict`, 1 when it has no
    counterpart (_sluice_c<index>x). -#}
{% macro _sluice_conflict_row_columns(r, alias, cols) -%}
  {%- set kept = sluice._sluice_conflict_kept(r) -%}
  {%- for c in r.conflict.columns %}{{ alias }}.{{ cols[c] }} as {{ kept[c] }}{{ ", " if not loop.last }}{% endfor -%}
  {%- if r.conflict.missing_is_conflict %}, case when _sluice_t{{ r.index }}.{{ r.conflict.on[0][1] }} is null then 1 else 0 end as _sluice_c{{ r.index }}x{% endif -%}
{%- endmacro %}


{#- The joins of a scan of `alias` to the common tables above: at most one row each per key. -#}
{% macro _sluice_conflict_joins(r, alias, cols) -%}
  {%- if r.kind == 'identity_conflict' -%}{{ sluice._sluice_identity_conflict_joins(r, alias, cols) }}{%- else -%}
  left join _sluice_c{{ r.index }} as _sluice_c{{ r.index }}
    on {% for p in r.conflict.on %}_sluice_c{{ r.index }}._sluice_ck{{ loop.index0 }} = {{ alias }}.{{ cols[p[0]] }}{{ " and " if not loop.last }}{% endfor %}
  {%- if r.conflict.missing_is_conflict %}
  left join _sluice_cm{{ r.index }} as _sluice_cm{{ r.index }}
    on {% for p in r.conflict.on %}_sluice_cm{{ r.index }}._sluice_mk{{ loop.index0 }} = {{ alias }}.{{ cols[p[0]] }}{{ " and " if not loop.last }}{% endfor %}
  {%- endif %}
  {%- endif -%}
{%- endmacro %}


{#- TRUE when the row has no counterpart and the rule counts that as a conflict. -#}
{% macro _sluice_conflict_missing(r) -%}
  {%- if r.conflict.missing_is_conflict -%}(_sluice_cm{{ r.index }}._sluice_mk0 is not null){%- else -%}false{%- endif -%}
{%- endmacro %}


{#- TRUE (never NULL) when the row of `alias` fails the rule. -#}
{% macro _sluice_conflict_fails(r, alias, cols) -%}
  {%- if r.kind == 'identity_conflict' -%}{{ sluice._sluice_identity_conflict_fails(r) }}{%- else -%}
  ({% for f in r.conflict.fields %}{{ sluice._sluice_conflict_field_differs(r, loop.index0, alias, cols) }} or {% endfor %}{{ sluice._sluice_conflict_missing(r) }})
  {%- endif -%}
{%- endmacro %}


{#- A value as evidence text: times in one fixed format, everything else as the engine writes it. -#}
{% macro _sluice_conflict_text(f, expr) -%}
  {%- if f.tolerance_kind == 'time' -%}{{ sluice.timestamp_text(expr) }}{%- else -%}cast({{ expr }} as {{ dbt.type_string() }}){%- endif -%}
{%- endmacro %}


{#- The evidence of the row of `alias`, as three expressions (an identity conflict's are
    sluice._sluice_identity_conflict_evidence): the conflicting fields, named in the
    rule's order ("status, amount"; the `on` columns when the row has no counterpart), and a
    JSON object giving each of them both values,
    {"status": {"source": "active", "target": "closed"}, ...}; values are text, NULL is null.
    Where the counterpart has several rows for the key, "target" is "lowest .. highest". Then
    the message, "crm vs erp: status, amount differ". -#}
{% macro _sluice_conflict_evidence(r, alias, cols, systems) %}
  {%- if r.kind == 'identity_conflict' -%}{{ return(sluice._sluice_identity_conflict_evidence(r, systems)) }}{%- endif -%}
  {%- set s = dbt.type_string() -%}
  {%- set c = '_sluice_c' ~ r.index -%}
  {%- set names = [] -%}
  {%- set pieces = [] -%}
  {%- for f in r.conflict.fields -%}
    {%- set j = loop.index0 -%}
    {%- set differs = sluice._sluice_conflict_field_differs(r, j, alias, cols) -%}
    {%- set lo = sluice._sluice_conflict_text(f, c ~ '._sluice_lo' ~ j) -%}
    {%- set hi = sluice._sluice_conflict_text(f, c ~ '._sluice_hi' ~ j) -%}
    {%- set target = "case when " ~ c ~ "._sluice_n = 1 or " ~ c ~ "._sluice_lo" ~ j ~ " = " ~ c ~ "._sluice_hi" ~ j ~ " then " ~ lo ~ " else " ~ dbt.concat([lo, "' .. '", hi]) ~ " end" -%}
    {%- do names.append("case when " ~ differs ~ " then " ~ sluice._sluice_lit(', ' ~ f.column, s) ~ " else '' end") -%}
    {%- do pieces.append("case when " ~ differs ~ " then " ~ dbt.concat([
      sluice._sluice_lit(',' ~ tojson(f.column) ~ ':{"source":', s),
      "coalesce(" ~ sluice.json_text(sluice._sluice_conflict_text(f, alias ~ '.' ~ cols[f.column])) ~ ", 'null')",
      "'," ~ '"target":' ~ "'",
      "coalesce(" ~ sluice.json_text(target) ~ ", 'null')",
      "'}'"]) ~ " else '' end") -%}
  {%- endfor -%}
  {%- set fields_expr = "substr(" ~ dbt.concat(names) ~ ", 3)" -%}
  {%- set json_expr = dbt.concat(["'{'", "substr(" ~ dbt.concat(pieces) ~ ", 2)", "'}'"]) -%}
  {%- if r.conflict.missing_is_conflict -%}
    {%- set on_names = [] -%}
    {%- set on_pieces = [] -%}
    {%- for p in r.conflict.on -%}
      {%- do on_names.append(p[0]) -%}
      {%- do on_pieces.append(dbt.concat([
        sluice._sluice_lit(('' if loop.first else ',') ~ tojson(p[0]) ~ ':{"source":', s),
        "coalesce(" ~ sluice.json_text("cast(" ~ alias ~ "." ~ cols[p[0]] ~ " as " ~ s ~ ")") ~ ", 'null')",
        "'," ~ '"target":null}' ~ "'"])) -%}
    {%- endfor -%}
    {%- set missing = sluice._sluice_conflict_missing(r) -%}
    {%- set fields_expr = "case when " ~ missing ~ " then " ~ sluice._sluice_lit(on_names | join(', '), s) ~ " else " ~ fields_expr ~ " end" -%}
    {%- set json_expr = "case when " ~ missing ~ " then " ~ dbt.concat(["'{'"] + on_pieces + ["'}'"]) ~ " else " ~ json_expr ~ " end" -%}
  {%- endif -%}
  {{ return((fields_expr, json_expr, sluice._sluice_conflict_message(r, systems, fields_expr))) }}
{% endmacro %}


{#- The two systems a conflict rule names: its own `source_system`/`target_system`, else the
    model's, else the model and the counterpart relation (an identity conflict: the id column). -#}
{% macro _sluice_conflict_systems(r, model_name, source_system=none, target_system=none) %}
  {%- set other = (r.to | string) if r.kind == 'conflict' else r.identity.maps_to -%}
  {{ return((r.source_system or source_system or model_name, r.target_system or target_system or other)) }}
{% endmacro %}


{#- The message of a conflict, as an SQL expression over the row's conflicting fields. -#}
{% macro _sluice_conflict_message(r, systems, fields_expr) %}
  {%- set s = dbt.type_string() -%}
  {%- set differ = dbt.concat([sluice._sluice_lit(systems[0] ~ ' vs ' ~ systems[1] ~ ': ', s), fields_expr, "' differ'"]) -%}
  {%- if r.conflict.missing_is_conflict -%}
    {{ return("case when " ~ sluice._sluice_conflict_missing(r) ~ " then " ~ sluice._sluice_lit(systems[0] ~ ' vs ' ~ systems[1] ~ ': no counterpart in ' ~ systems[1], s) ~ " else " ~ differ ~ " end") }}
  {%- endif -%}
  {{ return(differ) }}
{% endmacro %}


{#- The plain test: the model's rows in conflict, each with its evidence (conflicting_fields,
    conflict_evidence, conflict_message). -#}
{% macro _sluice_conflict_scan(rule, model) %}
  {%- set cols = {} -%}
  {%- for c in rule.columns -%}{%- do cols.update({c: c}) -%}{%- endfor -%}
  {%- do rule.update({'index': 0}) -%}
  {%- set systems = sluice._sluice_conflict_systems(rule, model.identifier if model.identifier is defined else model | string) -%}
  {%- set evidence = sluice._sluice_conflict_evidence(rule, 's', cols, systems) -%}
  with {{ sluice._sluice_conflict_ctes(rule, model, cols) | join(",\n  ") }}
  select s.*,
    {{ evidence[0] }} as conflicting_fields,
    {{ evidence[1] }} as conflict_evidence,
    {{ evidence[2] }} as conflict_message
  from {{ model }} as s
  {{ sluice._sluice_conflict_joins(rule, 's', cols) }}
  where {{ sluice._sluice_conflict_fails(rule, 's', cols) }}
{% endmacro %}
