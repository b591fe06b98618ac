{#- A sluice model's trend alerts (`meta.sluice.alerts`, read by `sluice build` after dbt;
    docs/metrics.md), checked whole by the start-of-build check as the sidecar reads them: the
    alerts and their keys, each threshold present, percentages, factors, builds and durations.
    A bad one stops the build before any model runs, naming the model and the key. -#}
{% macro _sluice_check_alerts(model_name, alerts) %}
  {%- if alerts is none -%}{{ return(none) }}{%- endif -%}
  {%- set alert_keys = {'error_rate': ['above', 'for_builds'], 'rising': ['factor', 'over'], 'queue_age': ['above']} -%}
  {%- if alerts is not mapping -%}
    {{ sluice._sluice_config_error(model_name, none, 'meta.sluice.alerts', "expected a mapping of error_rate, rising, queue_age") }}
  {%- endif -%}
  {%- for kind, body in alerts.items() -%}
    {%- set where = 'meta.sluice.alerts.' ~ kind -%}
    {%- if kind not in alert_keys -%}
      {{ sluice._sluice_config_error(model_name, none, where, "unknown alert (expected one of error_rate, rising, queue_age)") }}
    {%- elif body is not mapping or alert_keys[kind][0] not in body -%}
      {{ sluice._sluice_config_error(model_name, none, where, "expected a mapping with " ~ (alert_keys[kind] | join(', ')) ~ ", " ~ alert_keys[kind][0] ~ " required") }}
    {%- endif -%}
    {%- for k in body if k not in alert_keys[kind] -%}
      {{ sluice._sluice_config_error(model_name, none, where ~ '.' ~ k, "unknown key (expected " ~ (alert_keys[kind] | join(', ')) ~ ")") }}
    {%- endfor -%}
    {%- for k, value in body.items() -%}
      {%- set key = where ~ '.' ~ k -%}
      {%- set number = value is number and value is not boolean -%}
      {%- if kind == 'error_rate' and k == 'above' -%}
        {%- set pct = modules.re.match('^\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*%\s*$', value) if value is string else none -%}
        {%- if not ((pct and (pct.group(1) | float) <= 100) or (number and 0 <= value <= 1)) -%}
          {{ sluice._sluice_config_error(model_name, none, key, "expected a percentage from 0% to 100% like '2%', or a fraction from 0 to 1, got '" ~ value ~ "'") }}
        {%- endif -%}
      {%- elif k == 'for_builds' and not (number and value >= 1 and value == (value | int)) -%}
        {{ sluice._sluice_config_error(model_name, none, key, "expected a whole number of builds of at least 1, got '" ~ value ~ "'") }}
      {%- elif k == 'factor' and not (number and value > 0) -%}
        {{ sluice._sluice_config_error(model_name, none, key, "expected a positive number, got '" ~ value ~ "'") }}
      {%- elif k in ('over', 'above') and kind != 'error_rate' and not sluice._sluice_duration(model_name, none, key, value) -%}
        {{ sluice._sluice_config_error(model_name, none, key, "expected a duration of more than 0 seconds like '2 days' or '36 hours', got '" ~ value ~ "'") }}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
{% endmacro %}
