{#- Every recorded load of every relation (sluice models, and models recording their load with
    sluice.record_load_state), with the reviewer who accepted it, if one did. Reads the package's
    own tables by name, never through ref(). -#}
select l.*, a.decided_by as accepted_by, a.decided_at as accepted_at, a.reason as accepted_reason
from {{ sluice._sluice_bookkeeping_relation('load_states_table') }} as l
left join ({{ sluice._sluice_load_acceptances_sql(sluice._sluice_bookkeeping_relation('decisions_table')) }}) as a
  on a.model_unique_id = l.model_unique_id and a.invocation_id = l.invocation_id
