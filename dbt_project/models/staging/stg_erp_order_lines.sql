-- depends_on: {{ ref('erp_order_lines') }}
select
    order_id,
    line_no,
    sku,
    quantity,
    unit_price,
    quantity * unit_price as line_amount,
    _loaded_at
from {{ source('erp', 'erp_order_lines') }}
