select
    supplier_id,
    count(*) as skus,
    avg(cast(unit_cost as numeric(12, 2))) as avg_unit_cost,
    avg(cast(lead_time_days as integer)) as avg_lead_time_days,
    sum(case when cast(in_stock as boolean) then 1 else 0 end) as skus_in_stock,
    max(reported_at) as last_reported_at
from {{ ref('supplier_prices') }}
group by supplier_id
