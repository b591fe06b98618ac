{#- Conflicting identifier: fails every row of a key mapped to more than one `maps_to` id and, one-to-one, of an id claimed by more than one key (class conflicting_identifier, route manual_review). -#}
{% test sluice_identity_conflict(model, column_name, maps_to=none, mapping='one_to_one', source_system=none, target_system=none, sluice_severity=none, route=none, owner=none, error_class=none, max_attempts=none, attempt_interval=none, dead_letter_after=none) %}
  {{ return(adapter.dispatch('test_sluice_identity_conflict', 'sluice')(model, column_name, maps_to, mapping, source_system, target_system, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after)) }}
{% endtest %}

{% macro default__test_sluice_identity_conflict(model, column_name, maps_to, mapping, source_system, target_system, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after) %}
  {{ sluice._sluice_rule_test('identity_conflict', model, {'column_name': column_name, 'maps_to': maps_to, 'mapping': mapping, 'source_system': source_system, 'target_system': target_system, 'sluice_severity': sluice_severity, 'route': route, 'owner': owner, 'error_class': error_class, 'max_attempts': max_attempts, 'attempt_interval': attempt_interval, 'dead_letter_after': dead_letter_after}) }}
{% endmacro %}
