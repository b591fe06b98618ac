-- depends_on: {{ ref('erp_orders') }}
select
    order_id,
    customer_id,
    order_status,
    order_date,
    amount,
    currency,
    _loaded_at
from {{ source('erp', 'erp_orders') }}
