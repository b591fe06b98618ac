-- depends_on: {{ ref('stg_crm_customers') }}
select * from {{ ref('stg_erp_customers') }}
