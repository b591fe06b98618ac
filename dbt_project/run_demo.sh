#!/usr/bin/env bash
# The demo: two days of builds on DuckDB, showing every lifecycle of a quarantined row.
#   day 1  dbt build: rows quarantined, one gate held (invoices, a critical missing amount)
#   then   master data reads a conflict between the ERP and the CRM side by side and records
#          which side is right; a reviewer releases order O-1017 (manual review); the ERP team
#          fixes O-1009 at the source
#   day 2  dbt build on the sources as they now are: O-1009 recovers, O-1017 is published,
#          the supplier cost `n/a` reaches dead letter (max_attempts: 2)
# Finally: the summary, the exception lifecycles, the impact report, and the audit trail verified.
set -uo pipefail
cd "$(dirname "$0")"
BIN="${SLUICE_BIN:-../.venv/bin}"
export SLUICE_DEMO_DB="${SLUICE_DEMO_DB:-$PWD/demo.duckdb}"
rm -f "$SLUICE_DEMO_DB" "$SLUICE_DEMO_DB.wal"

"$BIN/dbt" deps --profiles-dir . --quiet

echo "== day 1: dbt build =="
"$BIN/dbt" build --profiles-dir . --target demo
echo "(dbt build exited $?: 1 is expected, the invoices gate holds publication)"

echo
echo "== sluice report after day 1: an incident opens for each exposure that is not healthy =="
"$BIN/sluice" report --project-dir . --profiles-dir . --target demo --format json > /dev/null
"$BIN/python" -c "
import json
with open('target/sluice/impact.json') as f:
    incidents = json.load(f)['incidents']
for i in incidents['open']:
    print(f\"  {i['incident_id']}  {i['exposure_name']:<26} {i['status']:<9} fix: {i['fix_owners']}\")
"

echo
echo "== the reviewers' queue: open exceptions routed to manual review =="
"$BIN/sluice" review list --route manual_review --project-dir . --profiles-dir . --target demo

echo
echo "== the ERP and the CRM disagree on Grace Hopper's segment: both sides, field by field =="
conflict=$("$BIN/sluice" review list --model customer_matches --rule customer_matches_agree_with_crm \
  --format json --project-dir . --profiles-dir . --target demo \
  | "$BIN/python" -c "import json, sys; print(next(r['exception_id'] for r in json.load(sys.stdin) if r['record_key'] == '[\"E-5002\"]'))")
"$BIN/sluice" review show "$conflict" --project-dir . --profiles-dir . --target demo | sed -n '/^conflict/,/^row/p' | sed '$d'
echo "-- master data: the CRM is right; publish the ERP row, the ERP team fixes the segment"
"$BIN/sluice" review release "$conflict" --take target --project-dir . --profiles-dir . --target demo \
  --by "mo@masterdata.example" --reason "segment changed in the CRM after the upgrade"

echo
echo "== a reviewer releases O-1017 (customer C099 was onboarded after the CRM extract) =="
"$BIN/sluice" review release --status open --model orders --rule orders_customer_known \
  --project-dir . --profiles-dir . --target demo \
  --by "ana@finance.example" --reason "C099 onboarded today; the CRM extract lags a day"

echo
echo "== the ERP team corrects O-1009 at the source (status 'shiped' -> 'shipped') =="
"$BIN/python" -c "
import duckdb, os
with duckdb.connect(os.environ['SLUICE_DEMO_DB']) as c:
    c.execute(\"update erp_orders set order_status = 'shipped' where order_id = 'O-1009'\")
"

echo
echo "== source freshness =="
"$BIN/dbt" source freshness --profiles-dir . --target demo --quiet || true

echo
echo "== day 2: dbt build on the sources as they are now =="
"$BIN/dbt" build --profiles-dir . --target demo --exclude "resource_type:seed"
echo "(dbt build exited $?: the invoices gate still holds)"

echo
"$BIN/sluice" summary --project-dir . --target demo

echo
echo "== exception lifecycles (sluice_exception_history) =="
"$BIN/python" -c "
import duckdb, json, os
keys = [json.dumps(k, separators=(',', ':')) for k in (['O-1009'], ['O-1017'], ['SUP-A', 'SKU-400'])]
with duckdb.connect(os.environ['SLUICE_DEMO_DB'], read_only=True) as c:
    rows = c.execute('''
        select model_name, record_key, rule_name, event_type, coalesce(from_status, '-'), to_status, actor
        from sluice_exception_events
        where record_key in ('[\"O-1009\"]', '[\"O-1017\"]', '[\"SUP-A\",\"SKU-400\"]')
        order by record_key, event_at, to_status''').fetchall()
for r in rows:
    print('  {:<16} {:<22} {:<28} {:<9} {:>11} -> {:<12} by {}'.format(*r))
"

echo
"$BIN/sluice" report --project-dir . --profiles-dir . --target demo
rc=$?
[ "$rc" = 1 ] && echo "(sluice report exited 1: not every exposure is healthy, as the demo intends)"
[ "$rc" -gt 1 ] && echo "(sluice report exited $rc)"
"$BIN/python" -c "
import json
with open('target/sluice/impact.json') as f:
    impact = json.load(f)
print('Exposure statuses:')
for e in impact['exposures']:
    owners = ', '.join(o.get('name') or o.get('email') or '?' for o in e['owners'])
    print(f\"  {e['name']:<28} {e['status']:<9} criticality {e['criticality']:<9} rows held upstream {e['rows_held_upstream']:<3} owner {owners}\")
print()
print('Incidents (open first), as recorded in the sluice_incidents table:')
incidents = impact['incidents']
for i in incidents['open'] + incidents['closed']:
    state = 'open for ' + i['open_for'] if i['is_open'] else 'closed after ' + i['duration']
    causes = ', '.join(dict.fromkeys(c['rule_name'] or c['node_name'] for c in i['root_causes']))
    print(f\"  {i['exposure_name']:<26} {(i['status'] or ''):<9} {state:<18} {i['changes']} change(s)  causes: {causes}\")
    print('    ' + ' -> '.join(h['change_type'] + ' ' + (h['status'] or '') for h in i['history']))
print('Who fixes what:')
for rc in impact['root_causes']:
    if rc['is_problem']:
        held = rc['held_records'][0]['command'] if rc['held_records'] else ''
        print(f\"  {rc['node_name']:<28} {rc['kind']:<10} owner {rc['owner']:<22} {held}\")
print('Report: ' + __import__('os').path.abspath('target/sluice/report.html'))
" || true
echo
echo "DuckDB file: $SLUICE_DEMO_DB"

echo
echo "== the audit trail: every event, run and decision sealed (sluice audit verify) =="
"$BIN/sluice" audit verify --project-dir . --profiles-dir . --target demo
