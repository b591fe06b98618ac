{{ config(
    pre_hook=before_begin("attach if not exists '" ~ env_var('BUILD_FAULTS_DIR') ~ "/lock.duckdb' as fault_lock"),
    post_hook=after_commit("detach fault_lock"),
) }}
select id, customer_id, amount from {{ ref('raw_orders') }}
