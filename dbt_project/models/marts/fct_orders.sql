with lines as (
    select
        order_id,
        count(*) as line_count,
        sum(quantity) as units,
        sum(line_amount) as lines_amount
    from {{ ref('stg_erp_order_lines') }}
    group by order_id
)

select
    o.order_id,
    o.customer_id,
    o.order_status,
    cast(o.order_date as date) as order_date,
    o.amount,
    o.currency,
    coalesce(l.line_count, 0) as line_count,
    coalesce(l.units, 0) as units,
    l.lines_amount,
    o.amount < 0 as is_negative_amount
from {{ ref('orders') }} as o
left join lines as l on l.order_id = o.order_id
