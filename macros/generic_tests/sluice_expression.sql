{#- Business rule: fails rows for which `expression` is false (class business_rule_violation). -#}
{% test sluice_expression(model, column_name=none, expression=none, severity=none, route=none, owner=none, description=none, error_class=none) %}
  {{ return(adapter.dispatch('test_sluice_expression', 'sluice')(model, column_name, expression, severity, route, owner, description, error_class)) }}
{% endtest %}

{% macro default__test_sluice_expression(model, column_name, expression, severity, route, owner, description, error_class) %}
  {{ sluice._sluice_rule_test('expression', model, {'column_name': column_name, 'expression': expression, 'severity': severity, 'route': route, 'owner': owner, 'description': description, 'error_class': error_class}) }}
{% endmacro %}
