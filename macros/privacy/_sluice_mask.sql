{#- Masked columns (config.meta.sluice.mask, or the project's var sluice_mask): never stored in
    clear in sluice's tables. Their values in the quarantine's evidence (row_json, failed_value)
    and in record keys are a keyed hash, `sluice:masked:` and md5(key, ':', value as text), so
    equal values stay comparable; the rules still read the real values. The key comes from the
    environment variable SLUICE_MASK_KEY, read while the model builds, never written by sluice.
    dbt logs every statement at debug level: it writes the key there unless the same value is
    also in an environment variable whose name starts with DBT_ENV_SECRET_, whose values dbt
    scrubs from its logs (`sluice build` sets DBT_ENV_SECRET_SLUICE_MASK_KEY itself;
    docs/privacy.md). -#}

{% macro _sluice_mask_key_env() %}
  {{ return('SLUICE_MASK_KEY') }}
{% endmacro %}


{#- The key, or a clear error naming the variable and the model. -#}
{% macro _sluice_mask_key(spec=none) %}
  {%- set name = sluice._sluice_mask_key_env() -%}
  {%- set key = env_var(name, '') -%}
  {%- if not key -%}
    {%- set what = ("model '" ~ spec.model_name ~ "' masks " ~ (spec.mask | join(', '))) if spec is not none else "a model masks columns" -%}
    {{ exceptions.raise_compiler_error("sluice: " ~ what ~ " (meta.sluice.mask / var sluice_mask) but the environment variable " ~ name ~ " is not set: set it to the masking key (and DBT_ENV_SECRET_" ~ name ~ " to the same value, so dbt scrubs it from its logs)") }}
  {%- endif -%}
  {{ return(key) }}
{% endmacro %}


{#- A text expression masked with the key: NULL stays NULL. -#}
{% macro _sluice_mask_sql(text, key) -%}
  (case when {{ text }} is null then null else {{ dbt.concat(["'sluice:masked:'", dbt.hash(dbt.concat([sluice._sluice_lit(key), "':'", text]))]) }} end)
{%- endmacro %}


{#- The key kind of a masked column (sluice._sluice_key_kind, then masked): its value is encoded
    as for its kind, then masked. -#}
{% macro _sluice_masked_kind(kind) %}
  {{ return('masked_' ~ kind) }}
{% endmacro %}


{#- The masked columns of a row of `alias` as {column name: masked text expression}, for
    sluice.row_to_json. -#}
{% macro _sluice_masked_values(spec, alias) %}
  {%- set out = {} -%}
  {%- for name, kind in (spec.masked or {}).items() -%}
    {%- do out.update({name: sluice._sluice_value_text(alias ~ '.' ~ adapter.quote(name), kind)}) -%}
  {%- endfor -%}
  {{ return(out) }}
{% endmacro %}
