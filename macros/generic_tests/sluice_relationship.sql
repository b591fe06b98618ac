{#- Reference: fails rows whose non-NULL value has no match in `to`.`field` (class reference_mismatch). -#}
{% test sluice_relationship(model, column_name, to=none, field=none, severity=none, route=none, owner=none, description=none, error_class=none) %}
  {{ return(adapter.dispatch('test_sluice_relationship', 'sluice')(model, column_name, to, field, severity, route, owner, description, error_class)) }}
{% endtest %}

{% macro default__test_sluice_relationship(model, column_name, to, field, severity, route, owner, description, error_class) %}
  {{ sluice._sluice_rule_test('relationship', model, {'column_name': column_name, 'to': to, 'field': field, 'severity': severity, 'route': route, 'owner': owner, 'description': description, 'error_class': error_class}) }}
{% endmacro %}
