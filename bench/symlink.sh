#!/usr/bin/env bash
# Wall time of the rollback of N lab hosts (3, 10, 20, 50 by default) with the
# whole ops.rollback.rollback playbook (preflight, batches with health gates,
# verify, ledger), against bench/raw_rollback.yml: the same switch, restart
# and health steps as raw shell tasks in the same batches.
#   bash bench/symlink.sh [N ...]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
eval "$(scripts/setup.sh --print-env)"
export ANSIBLE_CONFIG="$REPO/ansible.cfg" OPS_ROLLBACK_TIMELINE=/dev/null
# The incident reports of the timed runs are not kept.
OPS_ROLLBACK_REPORT_DIR=$(mktemp -d)
export OPS_ROLLBACK_REPORT_DIR
trap 'rm -rf "$OPS_ROLLBACK_REPORT_DIR"' EXIT
sizes=("${@:-3 10 20 50}")
read -r -a sizes <<<"${sizes[*]}"
scripts/lab.sh image >/dev/null

seconds() {  # wall time of a command, which must succeed
  local t0=$EPOCHREALTIME
  "$@" >/tmp/ops-rollback-bench.log 2>&1 || { tail -30 /tmp/ops-rollback-bench.log; exit 1; }
  python3 -c "print(round($EPOCHREALTIME - $t0, 1))"
}
break_fleet() {  # back to the broken v1.3.0 on every host, outside the timing
  ansible demo -m ops.rollback.release_switch \
    -a '{"path": "/srv/demo", "version": "v1.3.0", "restart_command": ["/usr/local/bin/demo-restart"]}' >/dev/null
}

printf '%-6s %14s %14s %8s\n' hosts ops.rollback raw-shell ratio
for n in "${sizes[@]}"; do
  scripts/lab.sh up "$n" >/dev/null
  ansible-playbook lab/deploy.yml -e version=v1.2.9 >/dev/null
  ansible-playbook lab/deploy.yml -e version=v1.3.0 -e broken=true >/dev/null
  ours=$(seconds ansible-playbook ops.rollback.rollback -e service=demo -e version=v1.2.9)
  break_fleet
  raw=$(seconds ansible-playbook bench/raw_rollback.yml -e version=v1.2.9)
  printf '%-6s %13ss %13ss %8s\n' "$n" "$ours" "$raw" "$(python3 -c "print(round($ours / $raw, 2))")"
done
scripts/lab.sh down >/dev/null
