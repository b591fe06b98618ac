-- depends_on: {{ ref('billing_invoices') }}
select
    invoice_id,
    order_id,
    invoice_date,
    amount,
    currency,
    _loaded_at
from {{ source('billing', 'billing_invoices') }}
