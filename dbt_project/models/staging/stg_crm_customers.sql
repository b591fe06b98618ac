-- depends_on: {{ ref('crm_customers') }}
select
    customer_id,
    customer_name,
    email,
    segment,
    country,
    signup_date,
    notes,
    _loaded_at
from {{ source('crm', 'crm_customers') }}
