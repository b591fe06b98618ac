{#- Incremental: later builds only read rows loaded after the newest published one. -#}
select * from {{ ref('stg_supplier_feed') }}
{% if sluice.is_incremental() %}
where _loaded_at > (select max(_loaded_at) from {{ this }})
{% endif %}
