{#- The identity-conflict rule (sluice_identity_conflict): a mapping between two systems'
    identifiers that must be one-to-one (or many-to-one). The model's `column_name` is this
    system's key, `maps_to` the other system's id:
    - a key with more than one distinct id is a conflict on every row of that key;
    - with `mapping: one_to_one` (the default), an id claimed by more than one distinct key is a
      conflict on every row of that id; `many_to_one` allows several keys to share an id.
    Rows with a NULL key or id take part in neither (a not-null rule's job). The competing ids
    (or keys) are the evidence. Each side is one grouped pass over the distinct pairs, one row
    per conflicting value, joined back on that value: a row is never repeated. -#}


{% macro _sluice_identity_conflict_args(model_name, rule_name, args) %}
  {%- set key = args.get('column_name') -%}
  {%- if not key -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'column_name', "an identity-conflict rule is declared under this system's key column") }}
  {%- endif -%}
  {%- set maps_to = args.get('maps_to') -%}
  {%- if not maps_to or maps_to is not string -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'maps_to', "an identity-conflict rule needs `maps_to`: the column holding the other system's id") }}
  {%- endif -%}
  {%- set mapping = args.get('mapping') or 'one_to_one' -%}
  {%- if mapping not in ('one_to_one', 'many_to_one') -%}
    {{ sluice._sluice_config_error(model_name, rule_name, 'mapping', "expected one_to_one or many_to_one, got '" ~ mapping ~ "'") }}
  {%- endif -%}
  {{ return({'key': key, 'maps_to': maps_to, 'mapping': mapping, 'columns': [key, maps_to]}) }}
{% endmacro %}


{#- The values of column `of` (in `source`) mapped to more than one distinct value of `to`, each
    with the competing values listed in order ("E1, E2"). -#}
{% macro _sluice_identity_side_sql(source, of, to) -%}
  {%- set text = "cast(p._sluice_to as " ~ dbt.type_string() ~ ")" -%}
  select p._sluice_of, count(*) as _sluice_n,
    {{ dbt.listagg(text, "', '", "order by " ~ text) }} as _sluice_competing,
    {{ dbt.listagg(sluice.json_text(text), "','", "order by " ~ text) }} as _sluice_competing_json
  from (
    select distinct m.{{ of }} as _sluice_of, m.{{ to }} as _sluice_to
    from {{ source }} as m
    where m.{{ of }} is not null and m.{{ to }} is not null
  ) as p
  group by p._sluice_of
  having count(*) > 1
{%- endmacro %}


{% macro _sluice_identity_conflict_ctes(r, source, cols) %}
  {%- set c = r.identity -%}
  {%- set out = ["_sluice_ik" ~ r.index ~ " as (" ~ sluice._sluice_identity_side_sql(source, cols[c.key], cols[c.maps_to]) ~ ")"] -%}
  {%- if c.mapping == 'one_to_one' -%}
    {%- do out.append("_sluice_ii" ~ r.index ~ " as (" ~ sluice._sluice_identity_side_sql(source, cols[c.maps_to], cols[c.key]) ~ ")") -%}
  {%- endif -%}
  {{ return(out) }}
{% endmacro %}


{% macro _sluice_identity_conflict_joins(r, alias, cols) -%}
  left join _sluice_ik{{ r.index }} as _sluice_ik{{ r.index }}
    on _sluice_ik{{ r.index }}._sluice_of = {{ alias }}.{{ cols[r.identity.key] }}
  {%- if r.identity.mapping == 'one_to_one' %}
  left join _sluice_ii{{ r.index }} as _sluice_ii{{ r.index }}
    on _sluice_ii{{ r.index }}._sluice_of = {{ alias }}.{{ cols[r.identity.maps_to] }}
  {%- endif %}
{%- endmacro %}


{% macro _sluice_identity_conflict_fails(r) -%}
  (_sluice_ik{{ r.index }}._sluice_of is not null
  {%- if r.identity.mapping == 'one_to_one' %} or _sluice_ii{{ r.index }}._sluice_of is not null{% endif %})
{%- endmacro %}


{#- The evidence of a row: (the column whose value is claimed twice: the key, the id or both;
    the competing values as JSON, {"erp_customer_id": ["E1", "E2"]} for a key mapped to two ids
    and {"crm_account_id": ["C1", "C2"]} for an id claimed by two keys; the message). -#}
{% macro _sluice_identity_conflict_evidence(r, systems) %}
  {%- set s = dbt.type_string() -%}
  {%- set c = r.identity -%}
  {%- set k = '_sluice_ik' ~ r.index -%}
  {%- set i = '_sluice_ii' ~ r.index -%}
  {%- set ids = dbt.concat([sluice._sluice_lit(tojson(c.maps_to) ~ ':[', s), k ~ "._sluice_competing_json", "']'"]) -%}
  {%- set key_message = dbt.concat([sluice._sluice_lit(systems[0] ~ ' vs ' ~ systems[1] ~ ': ' ~ c.key ~ ' maps to several ' ~ c.maps_to ~ ': ', s), k ~ "._sluice_competing"]) -%}
  {%- if c.mapping == 'many_to_one' -%}
    {{ return((sluice._sluice_lit(c.key, s), dbt.concat(["'{'", ids, "'}'"]), key_message)) }}
  {%- endif -%}
  {%- set keys = dbt.concat([sluice._sluice_lit(tojson(c.key) ~ ':[', s), i ~ "._sluice_competing_json", "']'"]) -%}
  {%- set id_message = dbt.concat([sluice._sluice_lit(systems[0] ~ ' vs ' ~ systems[1] ~ ': ' ~ c.maps_to ~ ' claimed by several ' ~ c.key ~ ': ', s), i ~ "._sluice_competing"]) -%}
  {%- set key_hit = k ~ "._sluice_of is not null" -%}
  {%- set id_hit = i ~ "._sluice_of is not null" -%}
  {%- set fields = "case when " ~ key_hit ~ " and " ~ id_hit ~ " then " ~ sluice._sluice_lit(c.key ~ ', ' ~ c.maps_to, s) ~ " when " ~ key_hit ~ " then " ~ sluice._sluice_lit(c.key, s) ~ " else " ~ sluice._sluice_lit(c.maps_to, s) ~ " end" -%}
  {%- set values = "case when " ~ key_hit ~ " and " ~ id_hit ~ " then " ~ dbt.concat(["'{'", ids, "','", keys, "'}'"]) ~ " when " ~ key_hit ~ " then " ~ dbt.concat(["'{'", ids, "'}'"]) ~ " else " ~ dbt.concat(["'{'", keys, "'}'"]) ~ " end" -%}
  {%- set message = "case when " ~ key_hit ~ " and " ~ id_hit ~ " then " ~ dbt.concat([key_message, "'; '", id_message]) ~ " when " ~ key_hit ~ " then " ~ key_message ~ " else " ~ id_message ~ " end" -%}
  {{ return((fields, values, message)) }}
{% endmacro %}
