with order_stats as (
    select
        customer_id,
        count(*) as orders,
        sum(amount) as lifetime_amount,
        max(cast(order_date as date)) as last_order_date
    from {{ ref('orders') }}
    group by customer_id
)

select
    c.customer_id,
    c.customer_name,
    c.email,
    c.segment,
    c.country,
    cast(c.signup_date as date) as signup_date,
    coalesce(s.orders, 0) as orders,
    coalesce(s.lifetime_amount, 0) as lifetime_amount,
    s.last_order_date
from {{ ref('customers') }} as c
left join order_stats as s on s.customer_id = c.customer_id
