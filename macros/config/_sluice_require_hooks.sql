{#- A sluice model builds only with the package's on-run-start hooks in the project: they check
    every sluice model's settings and create the shared tables before models run in parallel.
    dbt disables a package's hooks with its models when a project sets `+enabled: false` on the
    whole package (`models: sluice: ...`), silently; this names that cause instead of letting
    the build race to create the shared tables. -#}
{% macro _sluice_require_hooks() %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set hooks = graph.nodes.values() | selectattr('resource_type', 'equalto', 'operation') | selectattr('package_name', 'equalto', 'sluice') | list -%}
  {%- if hooks | length == 0 -%}
    {{ exceptions.raise_compiler_error(
      "sluice: model '" ~ model.name ~ "' cannot build: the sluice package's on-run-start hooks are disabled. "
      ~ "dbt disables them with the package's models when dbt_project.yml sets `+enabled: false` on the whole package (models: sluice: +enabled: false). "
      ~ "To leave out the package's own models, disable their folders instead: models: sluice: history: +enabled: false and models: sluice: metrics: +enabled: false."
    ) }}
  {%- endif -%}
{% endmacro %}
