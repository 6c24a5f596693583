#!/usr/bin/env bash
# The alert-triggered rollback on the lab, scored: RUNS drills (default 3) of
# playbooks/drill.yml with lab/drill-alert.yml against the chain of
# scripts/alerting.sh (Prometheus, Alertmanager, ansible-rulebook). Each run
# starts the chain afresh (the rulebook's throttle would hold back a second
# rollback of demo for DemoErrorRate), deploys v1.2.9, then lets the drill break
# demo with v1.3.0 and wait for the rulebook's rollback. Prints each scorecard's
# times and failed requests, and alert -> healthy against the 30 s target.
#   bash bench/auto_rollback.sh [RUNS]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
eval "$(scripts/setup.sh --print-env)"
export ANSIBLE_CONFIG="$REPO/ansible.cfg" OPS_ROLLBACK_TIMELINE=/dev/null
OPS_ROLLBACK_ALERTING_DIR=$(mktemp -d)
export OPS_ROLLBACK_ALERTING_DIR
cards=$OPS_ROLLBACK_ALERTING_DIR/cards
trap 'scripts/alerting.sh down >/dev/null 2>&1; scripts/lab.sh down >/dev/null 2>&1; rm -rf "$OPS_ROLLBACK_ALERTING_DIR"' EXIT
runs=${1:-3}
scripts/lab.sh image >/dev/null
scripts/lab.sh up 3 >/dev/null
ansible-playbook lab/deploy.yml -e version=v1.2.8 >/dev/null

printf '%-4s %14s %14s %14s %14s %10s %9s\n' run 'deploy->alert' 'alert->start' 'start->healthy' 'alert->healthy' failed/all target
for run in $(seq 1 "$runs"); do
  ansible-playbook lab/deploy.yml -e version=v1.2.9 >/dev/null
  scripts/alerting.sh up 3 2>/dev/null
  ansible-playbook ops.rollback.drill -e @lab/drill-alert.yml -e drill_name="bench-$run" \
    -e drill_report_dir="$cards" >"$OPS_ROLLBACK_ALERTING_DIR/drill.log" 2>&1 \
    || { tail -40 "$OPS_ROLLBACK_ALERTING_DIR/drill.log"; exit 1; }
  python3 - "$cards/bench-$run-scorecard.json" "$run" <<'PY'
import json, sys
card = json.load(open(sys.argv[1]))
def s(key):
    return '-' if card.get(key) is None else '{0:.1f} s'.format(card[key])
healthy = card.get('alert_to_healthy_seconds')
print('{0:<4} {1:>14} {2:>14} {3:>14} {4:>14} {5:>10} {6:>9}'.format(
    sys.argv[2], s('bad_deploy_to_alert_seconds'), s('alert_to_rollback_start_seconds'),
    s('rollback_start_to_healthy_seconds'), s('alert_to_healthy_seconds'),
    '{0}/{1}'.format(card.get('failed_requests'), card.get('requests')),
    'met' if healthy is not None and healthy < 30 else 'MISSED'))
PY
done
