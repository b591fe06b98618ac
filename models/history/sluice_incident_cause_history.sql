{#- The root causes each incident change names, one row per change and root cause, as the
    sidecar appends them with the change. Reads the table by name (var
    sluice_incident_causes_table, in sluice_schema); the pre-hook creates it empty before the
    first report (the same columns as python_sidecar/sluice/warehouse/incidents.py). -#}
{{ config(pre_hook="
  {%- if execute -%}
  {%- do sluice._sluice_ensure_table(api.Relation.create(database=target.database,
        schema=sluice.get_setting('schema') or target.schema,
        identifier=var('sluice_incident_causes_table', 'sluice_incident_causes'), type='table'), [
      ('change_id', dbt.type_string()), ('incident_id', dbt.type_string()),
      ('exposure_unique_id', dbt.type_string()), ('invocation_id', dbt.type_string()),
      ('changed_at', dbt.type_timestamp()), ('root_cause_id', dbt.type_string()),
      ('kind', dbt.type_string()), ('effect', dbt.type_string()),
      ('node_unique_id', dbt.type_string()), ('node_name', dbt.type_string()),
      ('resource_type', dbt.type_string()), ('rule_name', dbt.type_string()),
      ('owner', dbt.type_string()), ('owner_basis', dbt.type_string()),
      ('rows_held', dbt.type_bigint()),
  ]) -%}
  {%- endif -%}
") }}
select
    c.*,
    case when c.rule_name is not null then 'rule' else c.resource_type end as culprit_type,
    coalesce(c.rule_name, c.node_name) as culprit_name
from {{ api.Relation.create(database=target.database, schema=sluice.get_setting('schema') or target.schema, identifier=var('sluice_incident_causes_table', 'sluice_incident_causes'), type='table') }} as c
