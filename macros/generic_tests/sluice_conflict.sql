{#- Conflicting record: fails rows that disagree with their counterpart in `with` (matched on `on`) on a `compare` field (class conflicting_record, route manual_review). -#}
{% test sluice_conflict(model, column_name=none, with=none, match_on=none, compare=none, source_system=none, target_system=none, null_is_conflict=true, missing_is_conflict=false, trim=false, sluice_severity=none, route=none, owner=none, error_class=none, max_attempts=none, attempt_interval=none, dead_letter_after=none) %}
  {{ return(adapter.dispatch('test_sluice_conflict', 'sluice')(model, column_name, with, match_on, compare, source_system, target_system, null_is_conflict, missing_is_conflict, trim, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after)) }}
{% endtest %}

{% macro default__test_sluice_conflict(model, column_name, with, match_on, compare, source_system, target_system, null_is_conflict, missing_is_conflict, trim, sluice_severity, route, owner, error_class, max_attempts, attempt_interval, dead_letter_after) %}
  {{ sluice._sluice_rule_test('conflict', model, {'column_name': column_name, 'with': with, 'match_on': match_on, 'compare': compare, 'source_system': source_system, 'target_system': target_system, 'null_is_conflict': null_is_conflict, 'missing_is_conflict': missing_is_conflict, 'trim': trim, 'sluice_severity': sluice_severity, 'route': route, 'owner': owner, 'error_class': error_class, 'max_attempts': max_attempts, 'attempt_interval': attempt_interval, 'dead_letter_after': dead_letter_after}) }}
{% endmacro %}
