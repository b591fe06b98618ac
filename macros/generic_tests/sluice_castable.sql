{#- Castable or well-formed: fails rows whose non-NULL value cannot be read as `data_type`, or does not match the regular expression `pattern` (class schema_violation). -#}
{% test sluice_castable(model, column_name, data_type=none, pattern=none, sluice_severity=none, route=none, owner=none, error_class=none, max_attempts=none, attempt_interval=none, dead_letter_after=none) %}
  {{ return(adapter.dispatch('test_sluice_castable', 'sluice')(model, column_name, data_type, pattern, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after)) }}
{% endtest %}

{% macro default__test_sluice_castable(model, column_name, data_type, pattern, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after) %}
  {{ sluice._sluice_rule_test('castable', model, {'column_name': column_name, 'data_type': data_type, 'pattern': pattern, 'sluice_severity': sluice_severity, 'route': route, 'owner': owner, 'error_class': error_class, 'max_attempts': max_attempts, 'attempt_interval': attempt_interval, 'dead_letter_after': dead_letter_after}) }}
{% endmacro %}
