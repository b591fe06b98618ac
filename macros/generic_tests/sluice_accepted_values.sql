{#- Accepted values: fails rows whose non-NULL value is not in `values` (class invalid_value). -#}
{% test sluice_accepted_values(model, column_name, values=none, quote=true, sluice_severity=none, route=none, owner=none, error_class=none, max_attempts=none, attempt_interval=none, dead_letter_after=none) %}
  {{ return(adapter.dispatch('test_sluice_accepted_values', 'sluice')(model, column_name, values, quote, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after)) }}
{% endtest %}

{% macro default__test_sluice_accepted_values(model, column_name, values, quote, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after) %}
  {{ sluice._sluice_rule_test('accepted_values', model, {'column_name': column_name, 'values': values, 'quote': quote, 'sluice_severity': sluice_severity, 'route': route, 'owner': owner, 'error_class': error_class, 'max_attempts': max_attempts, 'attempt_interval': attempt_interval, 'dead_letter_after': dead_letter_after}) }}
{% endmacro %}
