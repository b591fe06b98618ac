{#- Unique event or key: on a sluice model the first copy by `order_by` is published and the other copies are routed (default deduplicate); as a plain test, fails each repeated value (class duplicate_event). -#}
{% test sluice_unique(model, column_name=none, columns=none, order_by=none, count_in_gate=false, sluice_severity=none, route=none, owner=none, error_class=none, max_attempts=none, attempt_interval=none, dead_letter_after=none) %}
  {{ return(adapter.dispatch('test_sluice_unique', 'sluice')(model, column_name, columns, order_by, count_in_gate, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after)) }}
{% endtest %}

{% macro default__test_sluice_unique(model, column_name, columns, order_by, count_in_gate, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after) %}
  {{ sluice._sluice_rule_test('unique', model, {'column_name': column_name, 'columns': columns, 'order_by': order_by, 'count_in_gate': count_in_gate, 'sluice_severity': sluice_severity, 'route': route, 'owner': owner, 'error_class': error_class, 'max_attempts': max_attempts, 'attempt_interval': attempt_interval, 'dead_letter_after': dead_letter_after}) }}
{% endmacro %}
