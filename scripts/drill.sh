#!/usr/bin/env bash
# The drill: a real rollback against the local lab, as an on-call engineer
# would run it.
#   1. set up this machine (scripts/setup.sh) and a fresh lab of 3 hosts;
#   2. deploy v1.2.9 (healthy, recorded good), then the broken v1.3.0;
#   3. roll back with the real playbook, as an alert would describe it
#      (critical, error rate 8 %): the rules decide, the migrations between
#      v1.3.0 and v1.2.9 are checked against the app's repository and the
#      database, the database is backed up and the backup verified, the
#      fleet is rolled back host by host, each drained from the lab's HAProxy
#      first and put back once healthy, verified, and the incident report is written
#      (lab/drill.yml and lab/drill-lb.yml; `scripts/lab.sh data` makes the database and repository);
#   4. show what every host serves and the incident report, then run the same
#      command again to show it converges (changed=0);
#   5. the same failure caught by an alert, with nobody at the keyboard:
#      scripts/alerting.sh starts Prometheus, Alertmanager and the collection's
#      rulebook; playbooks/drill.yml (lab/drill-alert.yml) puts load on the
#      hosts, deploys the broken v1.3.0 again, and prints the scorecard once the
#      alert-triggered rollback has made demo healthy: bad deploy -> alert ->
#      rollback start -> healthy, and the requests that failed meanwhile.
# The alerting chain is stopped at the end (left running, it would roll back
# any broken build deployed to the lab later); the lab stays up, and
# `scripts/lab.sh down` removes it.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
eval "$(scripts/setup.sh --print-env)"
export ANSIBLE_CONFIG="$REPO/ansible.cfg"
HOSTS=${DRILL_HOSTS:-3}

step() { printf '\n=== %s\n' "$*"; }
served() {
  local port
  for port in $(seq 8101 $((8100 + HOSTS))); do
    printf '  127.0.0.1:%s/version -> %s\n' "$port" "$(curl -s --max-time 5 "http://127.0.0.1:$port/version" || echo unreachable)"
  done
  printf '  through HAProxy on lablb, 127.0.0.1:8180/version -> %s\n' \
    "$(curl -s --max-time 5 http://127.0.0.1:8180/version | head -n 1 || echo unreachable)"
}

step "A fresh lab of $HOSTS hosts"
scripts/lab.sh down >/dev/null
scripts/lab.sh up "$HOSTS"

step "The demo app's database and repository (for the migration check and the backup)"
scripts/lab.sh data

step "Deploy v1.2.9 (healthy) and the broken v1.3.0"
ansible-playbook lab/deploy.yml -e version=v1.2.9 >/dev/null
ansible-playbook lab/deploy.yml -e version=v1.3.0 -e broken=true >/dev/null
served

step "Roll back: ansible-playbook ops.rollback.rollback -e version=v1.2.9 (the lab holds one service, demo)"
report_dir=$OPS_ROLLBACK_CACHE/lab/reports
incident=DRILL-$(date -u +%Y%m%d-%H%M%S)
ansible-playbook ops.rollback.rollback -e version=v1.2.9 -e @lab/drill.yml -e @lab/drill-lb.yml \
  -e severity=critical -e '{"signals": {"error_rate": 8}}' -e incident_id="$incident" \
  -e 'reason="drill: v1.3.0 fails its health check"'
served

step "The incident report: $report_dir/$incident.md"
cat "$report_dir/$incident.md"

step "The same command again: nothing left to change"
ansible-playbook ops.rollback.rollback -e version=v1.2.9 -e @lab/drill.yml -e @lab/drill-lb.yml | sed -n '/PLAY RECAP/,/^$/p'

step "Now an alert rolls back: Prometheus, Alertmanager and the rulebook ops.rollback.auto_rollback"
trap 'scripts/alerting.sh down >/dev/null 2>&1 || true' EXIT
scripts/alerting.sh up "$HOSTS"

step "The drill: load on every host, the broken v1.3.0 deployed again, the alert-triggered rollback scored"
ansible-playbook ops.rollback.drill -e @lab/drill-alert.yml -e drill_name="$incident-alert"
served
echo "What the rulebook did: $OPS_ROLLBACK_CACHE/alerting/rulebook.log (the chain is stopped now)"
echo "The lab is still up: scripts/lab.sh down removes it; scripts/alerting.sh up starts the chain again."
