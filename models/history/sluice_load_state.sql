{#- The current load state of every relation: its latest recorded load (see sluice_load_history),
    with how old the data it publishes is. -#}
select
  h.model_name, h.model_unique_id, h.relation_name, h.state, h.invocation_id as batch_id,
  h.as_of, h.published_at, h.rows_in, h.rows_published, h.rows_held, h.missing, h.inputs_json,
  h.accepted_by, h.accepted_at, h.accepted_reason
from (
  select x.*, row_number() over (partition by x.model_unique_id order by x.as_of desc, x.invocation_id desc) as _sluice_rn
  from {{ ref('sluice_load_history') }} as x
) as h
where h._sluice_rn = 1
