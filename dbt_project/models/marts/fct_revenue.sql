select
    cast(i.invoice_date as date) as invoice_date,
    i.currency,
    count(*) as invoices,
    count(distinct o.customer_id) as customers,
    sum(i.amount) as revenue
from {{ ref('invoices') }} as i
left join {{ ref('orders') }} as o on o.order_id = i.order_id
group by 1, 2
