-- depends_on: {{ ref('supplier_feed') }}
select
    supplier_id,
    sku,
    unit_cost,
    lead_time_days,
    lower(in_stock) as in_stock,
    reported_at,
    _loaded_at
from {{ source('suppliers', 'supplier_feed') }}
