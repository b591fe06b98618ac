{#- Business rule: fails rows for which `expression` is false (class business_rule_violation). -#}
{% test sluice_expression(model, column_name=none, expression=none, sluice_severity=none, route=none, owner=none, error_class=none, max_attempts=none, attempt_interval=none, dead_letter_after=none) %}
  {{ return(adapter.dispatch('test_sluice_expression', 'sluice')(model, column_name, expression, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after)) }}
{% endtest %}

{% macro default__test_sluice_expression(model, column_name, expression, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after) %}
  {{ sluice._sluice_rule_test('expression', model, {'column_name': column_name, 'expression': expression, 'sluice_severity': sluice_severity, 'route': route, 'owner': owner, 'error_class': error_class, 'max_attempts': max_attempts, 'attempt_interval': attempt_interval, 'dead_letter_after': dead_letter_after}) }}
{% endmacro %}
