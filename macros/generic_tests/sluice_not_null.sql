{#- Required field: fails rows where the column is NULL (class missing_required_field). -#}
{% test sluice_not_null(model, column_name, sluice_severity=none, route=none, owner=none, error_class=none, max_attempts=none, attempt_interval=none, dead_letter_after=none) %}
  {{ return(adapter.dispatch('test_sluice_not_null', 'sluice')(model, column_name, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after)) }}
{% endtest %}

{% macro default__test_sluice_not_null(model, column_name, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after) %}
  {{ sluice._sluice_rule_test('not_null', model, {'column_name': column_name, 'sluice_severity': sluice_severity, 'route': route, 'owner': owner, 'error_class': error_class, 'max_attempts': max_attempts, 'attempt_interval': attempt_interval, 'dead_letter_after': dead_letter_after}) }}
{% endmacro %}
