{#- Reference: fails rows whose non-NULL value has no match in `to`.`field` (class reference_mismatch).
    On a sluice model referencing another sluice model's key, a row referencing a record that
    model holds is held with it (class dependency_held) unless `hold_with_parent: false`. -#}
{% test sluice_relationship(model, column_name, to=none, field=none, sluice_severity=none, route=none, owner=none, error_class=none, max_attempts=none, attempt_interval=none, dead_letter_after=none, hold_with_parent=true) %}
  {{ return(adapter.dispatch('test_sluice_relationship', 'sluice')(model, column_name, to, field, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after, hold_with_parent)) }}
{% endtest %}

{% macro default__test_sluice_relationship(model, column_name, to, field, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after, hold_with_parent) %}
  {{ sluice._sluice_rule_test('relationship', model, {'column_name': column_name, 'to': to, 'field': field, 'sluice_severity': sluice_severity, 'route': route, 'owner': owner, 'error_class': error_class, 'max_attempts': max_attempts, 'attempt_interval': attempt_interval, 'dead_letter_after': dead_letter_after, 'hold_with_parent': hold_with_parent}) }}
{% endmacro %}
