select * from {{ ref('stg_billing_invoices') }}
