select
    e.event_id,
    e.order_id,
    e.event_type,
    cast(e.event_at as timestamp) as event_at,
    o.order_id is null as order_unknown
from {{ ref('events') }} as e
left join {{ ref('orders') }} as o on o.order_id = e.order_id
