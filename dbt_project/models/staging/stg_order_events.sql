-- depends_on: {{ ref('order_events') }}
select
    event_id,
    order_id,
    event_type,
    event_at,
    _loaded_at
from {{ source('events', 'order_events') }}
