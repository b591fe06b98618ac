-- depends_on: {{ ref('erp_customers') }}
select
    erp_customer_no,
    crm_customer_id,
    customer_name,
    segment,
    country,
    _loaded_at
from {{ source('erp', 'erp_customers') }}
