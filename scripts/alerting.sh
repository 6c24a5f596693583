#!/usr/bin/env bash
# scripts/alerting.sh: the lab's alert-triggered rollback chain, on loopback:
#   Prometheus (scripts/prometheus.sh) scrapes the lab's demo apps every second
#   and evaluates lab/alerting/rules.yml (DemoErrorRate, auto_rollback="true");
#   Alertmanager (Debian's prometheus-alertmanager) posts the alerts, with a
#   bearer token, to
#   ansible-rulebook running the collection's rulebook ops.rollback.auto_rollback
#   (source ops.rollback.alertmanager), which runs ops.rollback.rollback
#   against the lab's inventory.
#
#   scripts/alerting.sh up [HOSTS]   start the three (HOSTS: the lab's host count,
#                                    default 3), wait until each is ready. Stops
#                                    and restarts whatever of them already runs.
#   scripts/alerting.sh down         stop them, delete Prometheus' data
#   scripts/alerting.sh status       URLs, pids, and the alerts Alertmanager holds
#
# Files in $OPS_ROLLBACK_ALERTING_DIR (default $CACHE/alerting): the configs,
# the token (0600, made once), *.log (rulebook.log holds what the rulebook did and
# the rollback playbook's output), reports/ (the incident reports of the
# rollbacks it ran: OPS_ROLLBACK_REPORT_DIR).
# Ports on 127.0.0.1: OPS_ROLLBACK_ALERTING_PROMETHEUS_PORT (19190),
# OPS_ROLLBACK_ALERTING_ALERTMANAGER_PORT (19093), OPS_ROLLBACK_ALERTING_SOURCE_PORT
# (15050, the rulebook's event source).
# CACHE is ${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE=${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}
DIR=${OPS_ROLLBACK_ALERTING_DIR:-$CACHE/alerting}
PROM_PORT=${OPS_ROLLBACK_ALERTING_PROMETHEUS_PORT:-19190}
AM_PORT=${OPS_ROLLBACK_ALERTING_ALERTMANAGER_PORT:-19093}
SOURCE_PORT=${OPS_ROLLBACK_ALERTING_SOURCE_PORT:-15050}
ALERTMANAGER=/usr/bin/prometheus-alertmanager

log() { echo "alerting: $*" >&2; }
die() { echo "alerting: ERROR: $*" >&2; exit 1; }

prometheus() {
  OPS_ROLLBACK_PROMETHEUS_PORT=$PROM_PORT OPS_ROLLBACK_PROMETHEUS_DIR=$DIR/prometheus \
    "$REPO/scripts/prometheus.sh" "$@"
}

running() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

# Stop a process started here, with its process group (the rulebook's playbook runs).
stop() {
  running "$1" || { rm -f "$DIR/$1.pid"; return 0; }
  local pid
  pid=$(cat "$DIR/$1.pid")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$DIR/$1.pid"
}

wait_for() {  # name url
  for _ in $(seq 1 120); do
    curl -sf -o /dev/null "$2" && return
    running "$1" || die "$1 exited while starting (log: $DIR/$1.log):
$(tail -n 8 "$DIR/$1.log" 2>/dev/null)"
    sleep 0.25
  done
  die "$1 not ready on $2 within 30 s (log: $DIR/$1.log)"
}

write_configs() {
  local hosts=$1 targets
  targets=$(seq -s ', ' -f '"127.0.0.1:%g"' 8101 $((8100 + hosts)))
  cat >"$DIR/prometheus.yml" <<EOF
# Written by scripts/alerting.sh: the lab's demo apps, every second, and its alerting rule.
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $REPO/lab/alerting/rules.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:$AM_PORT"]
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: [$targets]
        labels:
          service: demo
EOF
  cat >"$DIR/alertmanager.yml" <<EOF
# Written by scripts/alerting.sh: every alert to the rulebook's event source, at once.
route:
  receiver: ops-rollback
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1m
receivers:
  - name: ops-rollback
    webhook_configs:
      - url: http://127.0.0.1:$SOURCE_PORT/alerts
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: $DIR/token
EOF
  cat >"$DIR/rulebook-vars.yml" <<EOF
ALERTMANAGER_HOST: 127.0.0.1
ALERTMANAGER_PORT: $SOURCE_PORT
EOF
}

up() {
  local hosts=${1:-3}
  [ -x "$ALERTMANAGER" ] || die "$ALERTMANAGER is missing: run scripts/setup.sh (Debian package prometheus-alertmanager)"
  command -v ansible-rulebook >/dev/null || die "ansible-rulebook is missing: eval \"\$(scripts/setup.sh --print-env)\" first"
  [ -f "$REPO/inventory/lab/hosts.yml" ] || die "no lab: run scripts/lab.sh up first"
  mkdir -p "$DIR/alertmanager" "$DIR/reports"
  if [ ! -s "$DIR/token" ]; then
    (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$DIR/token")
  fi
  write_configs "$hosts"
  /usr/bin/amtool check-config "$DIR/alertmanager.yml" >/dev/null || die "alertmanager.yml is not valid"
  stop rulebook
  stop alertmanager

  prometheus up "$DIR/prometheus.yml" >/dev/null

  setsid "$ALERTMANAGER" --config.file="$DIR/alertmanager.yml" --storage.path="$DIR/alertmanager" \
      --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
      >"$DIR/alertmanager.log" 2>&1 </dev/null &
  echo $! >"$DIR/alertmanager.pid"
  wait_for alertmanager "http://127.0.0.1:$AM_PORT/-/ready"

  # The token reaches the rulebook through its environment, never its argv.
  (cd "$REPO" && ALERTMANAGER_TOKEN=$(cat "$DIR/token") OPS_ROLLBACK_REPORT_DIR=$DIR/reports \
      ANSIBLE_CONFIG=$REPO/ansible.cfg exec setsid ansible-rulebook --rulebook ops.rollback.auto_rollback \
      -i "$REPO/inventory/lab/hosts.yml" --env-vars ALERTMANAGER_TOKEN --vars "$DIR/rulebook-vars.yml" -v \
      >"$DIR/rulebook.log" 2>&1 </dev/null) &
  echo $! >"$DIR/rulebook.pid"
  wait_for rulebook "http://127.0.0.1:$SOURCE_PORT/health"
  log "up: Prometheus http://127.0.0.1:$PROM_PORT, Alertmanager http://127.0.0.1:$AM_PORT," \
      "rulebook source http://127.0.0.1:$SOURCE_PORT (log $DIR/rulebook.log)"
}

down() {
  stop rulebook
  stop alertmanager
  prometheus down >/dev/null 2>&1 || true
  rm -rf "$DIR/alertmanager"
  log "down"
}

status() {
  local name
  for name in alertmanager rulebook; do
    if running "$name"; then echo "$name: pid $(cat "$DIR/$name.pid")"; else echo "$name: not running"; fi
  done
  prometheus status || true
  if running alertmanager; then
    echo "alerts in Alertmanager:"
    curl -sf "http://127.0.0.1:$AM_PORT/api/v2/alerts" | python3 -c '
import json, sys
for alert in json.load(sys.stdin):
    print("  {0} {1} service={2} since {3}".format(alert["labels"].get("alertname"), alert["status"]["state"],
                                                alert["labels"].get("service"), alert["startsAt"]))
'
  fi
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up [HOSTS] | down | status" >&2; exit 2 ;;
esac
