{#- Every change of every incident (opened, updated, closed), one row each, as `sluice report`
    and `sluice build` append them after a build (see docs/report.md). Reads the sidecar's table
    by name (var sluice_incidents_table, in sluice_schema), never through ref(). Before any
    report has run the table does not exist yet: the pre-hook creates it empty, with the columns
    the sidecar writes (python_sidecar/sluice/warehouse/incidents.py; a test keeps both equal). -#}
{{ config(pre_hook="
  {%- if execute -%}
  {%- do sluice._sluice_ensure_table(api.Relation.create(database=target.database,
        schema=sluice.get_setting('schema') or target.schema,
        identifier=var('sluice_incidents_table', 'sluice_incidents'), type='table'), [
      ('change_id', dbt.type_string()), ('incident_id', dbt.type_string()),
      ('change_type', dbt.type_string()), ('exposure_unique_id', dbt.type_string()),
      ('exposure_name', dbt.type_string()), ('exposure_label', dbt.type_string()),
      ('status', dbt.type_string()), ('previous_status', dbt.type_string()),
      ('criticality', dbt.type_string()), ('owners', dbt.type_string()),
      ('fix_owners', dbt.type_string()), ('root_cause_ids', dbt.type_string()),
      ('rows_held_upstream', dbt.type_bigint()), ('opened_at', dbt.type_timestamp()),
      ('changed_at', dbt.type_timestamp()), ('closed_at', dbt.type_timestamp()),
      ('duration_seconds', dbt.type_bigint()), ('close_reason', dbt.type_string()),
      ('invocation_id', dbt.type_string()), ('opened_invocation_id', dbt.type_string()),
      ('generated_at', dbt.type_timestamp()),
  ]) -%}
  {%- endif -%}
") }}
select * from {{ api.Relation.create(database=target.database, schema=sluice.get_setting('schema') or target.schema, identifier=var('sluice_incidents_table', 'sluice_incidents'), type='table') }}
