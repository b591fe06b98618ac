{#- Incremental: later builds read rows loaded after the newest published one, plus (through
    sluice.batch_filter) the source rows of the model's open exceptions, so they are replayed. -#}
select * from {{ ref('stg_supplier_feed') }}
{% if sluice.is_incremental() %}
where {{ sluice.batch_filter("_loaded_at > (select max(_loaded_at) from " ~ this ~ ")") }}
{% endif %}
