-- the order reference rule reads stg_erp_orders while this model builds
-- depends_on: {{ ref('stg_erp_orders') }}
select * from {{ ref('stg_order_events') }}
