-- the customer reference rule reads stg_crm_customers while this model builds
-- depends_on: {{ ref('stg_crm_customers') }}
select * from {{ ref('stg_erp_orders') }}
