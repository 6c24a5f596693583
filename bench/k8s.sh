#!/usr/bin/env bash
# bench/k8s.sh [REPLICAS] [ROUNDS]: k8s_rollback against kubectl on the same
# cluster and Deployment (scripts/kube.sh's control plane).
#
# Each round deploys v2 over v1 and waits, then times one rollback to v1 by:
#   - kubectl:       kubectl rollout undo + kubectl rollout status
#   - k8s_rollback:  the module as Ansible runs it (a python process with the
#                    module's arguments), waiting for the rollout
#   - playbook:      ansible-playbook ops.rollback.rollback on a one-service
#                    inventory (preflight with the Lease, roll back, verify,
#                    ledger, report)
# and prints the median of each and their ratios to kubectl. The runs of a
# round are interleaved so load on the machine hits them alike. Timings stay
# here; no test asserts on them.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
REPLICAS=${1:-10}
ROUNDS=${2:-5}
eval "$(scripts/setup.sh --print-env 2>/dev/null)"
export ANSIBLE_CONFIG="$REPO/ansible.cfg"
KUBECONFIG=$(scripts/kube.sh up)
export KUBECONFIG
eval "$(scripts/kube.sh env)"
NS=bench-k8s
WORK=$(mktemp -d)
trap 'kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

kubectl delete namespace "$NS" --ignore-not-found >/dev/null
kubectl create namespace "$NS" >/dev/null
kubectl -n "$NS" create deployment web --image=registry.local/web:v1 --replicas="$REPLICAS" >/dev/null
kubectl -n "$NS" rollout status deployment/web >/dev/null

cat >"$WORK/inventory.yml" <<EOF
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    rollback_platform: kubernetes
    kubernetes_namespace: $NS
    kubernetes_kubeconfig: $KUBECONFIG
  children:
    web:
      hosts:
        web-bench:
          rollback_service: web
          kubernetes_name: web
EOF

# The module run the way Ansible runs a module: a python process, the arguments in a file.
cat >"$WORK/module.py" <<'EOF'
import json, sys
from ansible.module_utils.testing import patch_module_args
from ansible_collections.ops.rollback.plugins.modules import k8s_rollback
with patch_module_args(json.loads(sys.argv[1])):
    k8s_rollback.main()
EOF
ARGS=$(printf '{"name": "web", "namespace": "%s", "version": "v1", "kubeconfig": "%s"}' "$NS" "$KUBECONFIG")

broken() {
  kubectl -n "$NS" set image deployment/web web=registry.local/web:v2 >/dev/null
  kubectl -n "$NS" rollout status deployment/web >/dev/null
}

seconds() {  # seconds COMMAND...: wall time of the command, which must succeed
  local start end
  start=$(date +%s.%N)
  "$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; echo "bench: $* failed" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f\n", b - a}' 
}

raw() { kubectl -n "$NS" rollout undo deployment/web && kubectl -n "$NS" rollout status deployment/web; }
module() { PYTHONPATH="$REPO/.collections" python "$WORK/module.py" "$ARGS"; }
playbook() { ansible-playbook ops.rollback.rollback -i "$WORK/inventory.yml" -e service=web -e version=v1; }

: >"$WORK/raw"; : >"$WORK/module"; : >"$WORK/playbook"
for round in $(seq 1 "$ROUNDS"); do
  for what in raw module playbook; do
    broken
    seconds "$what" >>"$WORK/$what"
  done
  echo "round $round: raw $(tail -n1 "$WORK/raw") s, module $(tail -n1 "$WORK/module") s, playbook $(tail -n1 "$WORK/playbook") s" >&2
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }
r=$(median "$WORK/raw"); m=$(median "$WORK/module"); p=$(median "$WORK/playbook")
printf '\n%d replicas, %d rounds, medians:\n' "$REPLICAS" "$ROUNDS"
printf '  kubectl rollout undo + status  %6.2f s\n' "$r"
printf '  k8s_rollback (waiting)         %6.2f s  %.2fx kubectl\n' "$m" "$(awk -v a="$m" -v b="$r" 'BEGIN {print a / b}')"
printf '  rollback playbook              %6.2f s  %.2fx kubectl\n' "$p" "$(awk -v a="$p" -v b="$r" 'BEGIN {print a / b}')"
