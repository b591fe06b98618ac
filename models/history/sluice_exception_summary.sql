{#- Current exceptions by model, error class, severity, route and status: the latest status of
    each exception in the history. A `decided` event gives the status the decision set, which the
    same build may have moved on (a retry that is recovered at once): only the builds' events
    (`status`, `published`) say where an exception is. -#}
with latest as (
    select
        e.*,
        row_number() over (partition by e.exception_id order by e.event_at desc, e.to_status) as _sluice_rn
    from {{ sluice._sluice_bookkeeping_relation('events_table') }} as e
    where coalesce(e.event_type, 'status') <> 'decided'
)
select
    model_name,
    model_unique_id,
    error_class,
    severity,
    route,
    to_status as status,
    count(*) as exceptions,
    max(event_at) as last_changed_at
from latest
where _sluice_rn = 1
group by model_name, model_unique_id, error_class, severity, route, to_status
