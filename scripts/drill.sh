#!/usr/bin/env bash
# The drill: a real rollback against the local lab, as an on-call engineer
# would run it.
#   1. set up this machine (scripts/setup.sh) and a fresh lab of 3 hosts;
#   2. deploy v1.2.9 (healthy, recorded good), then the broken v1.3.0;
#   3. roll back with the real playbook, as an alert would describe it
#      (critical, error rate 8 %): the rules decide, the migrations between
#      v1.3.0 and v1.2.9 are checked against the app's repository and the
#      database, the database is backed up and the backup verified, the
#      fleet is rolled back and verified, and the incident report is written
#      (lab/drill.yml; `scripts/lab.sh data` makes the database and repository);
#   4. show what every host serves and the incident report, then run the same
#      command again to show it converges (changed=0).
# The lab stays up afterwards; `scripts/lab.sh down` removes it.
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
ansible-playbook ops.rollback.rollback -e version=v1.2.9 -e @lab/drill.yml \
  -e severity=critical -e '{"signals": {"error_rate": 8}}' -e incident_id="$incident" \
  -e 'reason="drill: v1.3.0 fails its health check"'
served

step "The incident report: $report_dir/$incident.md"
cat "$report_dir/$incident.md"

step "The same command again: nothing left to change"
ansible-playbook ops.rollback.rollback -e version=v1.2.9 -e @lab/drill.yml | sed -n '/PLAY RECAP/,/^$/p'
echo "The lab is still up: scripts/lab.sh down removes it."
