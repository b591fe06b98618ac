select customer_id, sum(amount) as total from {{ ref('locked_orders') }} group by customer_id
