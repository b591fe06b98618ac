{#- Who may read the quarantine and write decisions (var sluice_grants), in the shape of dbt's
    `grants` config, per relation kind:

      sluice_grants:
        quarantine: {select: [reviewer_role]}
        decisions: {insert: [reviewer_role]}

    `quarantine` covers every model's quarantine relation (a model's meta.sluice.grants.quarantine
    replaces it for that model); `decisions` covers sluice_decisions and
    sluice_decision_approvals. Returns the privileges of `kind` ({privilege: [grantee, ...]}),
    or none when the settings say nothing about it. A bad setting stops the build naming the var
    and the key. Engines without grants (DuckDB) are left alone: sluice._sluice_grants_enforced. -#}
{% macro _sluice_grants(kind, model_meta=none) %}
  {%- set settings = sluice.get_setting('grants', model_meta) -%}
  {%- set where = "sluice: var 'sluice_grants'" -%}
  {%- if settings is none -%}{{ return(none) }}{%- endif -%}
  {%- if settings is not mapping -%}
    {{ exceptions.raise_compiler_error(where ~ " must be a mapping of quarantine and decisions to privileges, got " ~ settings) }}
  {%- endif -%}
  {%- for key in settings if key not in ['quarantine', 'decisions'] -%}
    {{ exceptions.raise_compiler_error(where ~ ": unknown key '" ~ key ~ "' (expected quarantine or decisions)") }}
  {%- endfor -%}
  {%- set privileges = settings.get(kind) -%}
  {%- if privileges is none -%}{{ return(none) }}{%- endif -%}
  {%- if privileges is not mapping -%}
    {{ exceptions.raise_compiler_error(where ~ ": key '" ~ kind ~ "' must map privileges to grantees (e.g. {select: [analyst]}), got " ~ privileges) }}
  {%- endif -%}
  {%- set grants = {} -%}
  {%- for privilege, grantees in privileges.items() -%}
    {%- set names = [grantees] if grantees is string else (grantees or []) -%}
    {%- if grantees is mapping or names is not iterable or names | reject('string') | list | length > 0 -%}
      {{ exceptions.raise_compiler_error(where ~ ": key '" ~ kind ~ "." ~ privilege ~ "' must be a grantee or a list of grantees, got " ~ grantees) }}
    {%- endif -%}
    {%- do grants.update({privilege: names | list}) -%}
  {%- endfor -%}
  {{ return(grants) }}
{% endmacro %}


{#- Whether the target's engine has grants the package applies (DuckDB has none: whoever can
    open the file reads and writes everything in it). -#}
{% macro _sluice_grants_enforced() %}
  {{ return(target.type in ['postgres', 'snowflake']) }}
{% endmacro %}


{#- The model's quarantine gets exactly the privileges of sluice_grants.quarantine, as dbt gives
    a model its `grants`: the listed ones granted, others this connection granted revoked. Inside
    the model's transaction; nothing when the settings say nothing. -#}
{% macro _sluice_grant_quarantine(quarantine, model_meta) %}
  {%- set grants = sluice._sluice_grants('quarantine', model_meta) -%}
  {%- if grants is not none and sluice._sluice_grants_enforced() -%}
    {%- do apply_grants(quarantine, grants, should_revoke=true) -%}
  {%- endif -%}
{% endmacro %}


{#- GRANT statements giving sluice_grants.decisions to the decisions and approvals tables, for
    the on-run-start hook (sluice.create_bookkeeping): granted at every build, never revoked
    there, as the hook does not read the warehouse's catalog. -#}
{% macro _sluice_grant_decisions_sql(relations) %}
  {#- a bad setting stops the run before any model -#}
  {%- do sluice._sluice_grants('quarantine') -%}
  {%- set grants = sluice._sluice_grants('decisions') -%}
  {%- set statements = [] -%}
  {%- if grants is not none and sluice._sluice_grants_enforced() -%}
    {%- for relation in relations -%}
      {%- for privilege, grantees in grants.items() if grantees | length > 0 -%}
        {%- do statements.append(get_grant_sql(relation, privilege, grantees)) -%}
      {%- endfor -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(statements) }}
{% endmacro %}
