{#- `--vars '{billing_fixed: true}'` stands for billing re-sending the invoice with its amount:
    the faulty row is left out, the gate passes and the invoices are published. A later build
    without it holds again, and the invoices published before stay in place. -#}
select * from {{ ref('stg_billing_invoices') }}
{% if var('billing_fixed', false) %}
where amount is not null
{% endif %}
