{#- Required field: fails rows where the column is NULL (class missing_required_field). -#}
{% test sluice_not_null(model, column_name, severity=none, route=none, owner=none, description=none, error_class=none) %}
  {{ return(adapter.dispatch('test_sluice_not_null', 'sluice')(model, column_name, severity, route, owner, description, error_class)) }}
{% endtest %}

{% macro default__test_sluice_not_null(model, column_name, severity, route, owner, description, error_class) %}
  {{ sluice._sluice_rule_test('not_null', model, {'column_name': column_name, 'severity': severity, 'route': route, 'owner': owner, 'description': description, 'error_class': error_class}) }}
{% endmacro %}
