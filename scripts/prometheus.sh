#!/usr/bin/env bash
# scripts/prometheus.sh: a Prometheus on loopback for the tests and the lab.
#
# Debian's /usr/bin/prometheus (scripts/setup.sh installs it, with its
# daemon not started), run as our own process on 127.0.0.1 only.
#
#   scripts/prometheus.sh up [CONFIG]  start it with the scrape config CONFIG (a
#                                      prometheus.yml), or with one that scrapes
#                                      $OPS_ROLLBACK_PROMETHEUS_TARGETS every second;
#                                      wait until it is ready and print its URL.
#                                      Idempotent: when it runs already, a changed
#                                      config is reloaded, an unchanged one left alone
#   scripts/prometheus.sh down         stop it and delete its data
#   scripts/prometheus.sh status       its URL and the health of each scrape
#                                      target; exit 3 when it is not running
#
# Environment:
#   OPS_ROLLBACK_PROMETHEUS_PORT     port on 127.0.0.1 (default 19090)
#   OPS_ROLLBACK_PROMETHEUS_DIR      its config, data, pid and log
#                                    (default $CACHE/prometheus-<port>; a test
#                                    passes a temp dir)
#   OPS_ROLLBACK_PROMETHEUS_TARGETS  host:port list, comma-separated, for the
#                                    default config (default: the lab's demo
#                                    apps, 127.0.0.1:8101,127.0.0.1:8102,127.0.0.1:8103)
#   OPS_ROLLBACK_PROMETHEUS_WEB_CONFIG  a web config file (basic auth users,
#                                    TLS) for --web.config.file; none by default
#   OPS_ROLLBACK_PROMETHEUS_AUTH     user:password this script's own readiness
#                                    and status requests send, with basic auth on
#
# CACHE is ${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}.
set -euo pipefail

CACHE=${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}
PORT=${OPS_ROLLBACK_PROMETHEUS_PORT:-19090}
RUN=${OPS_ROLLBACK_PROMETHEUS_DIR:-$CACHE/prometheus-$PORT}
TARGETS=${OPS_ROLLBACK_PROMETHEUS_TARGETS:-127.0.0.1:8101,127.0.0.1:8102,127.0.0.1:8103}
PROMETHEUS=/usr/bin/prometheus
WEB_CONFIG=${OPS_ROLLBACK_PROMETHEUS_WEB_CONFIG:-}
URL=http://127.0.0.1:$PORT
# curl's own options: basic auth for our requests when Prometheus asks for it.
CURL=(curl -s)
[ -n "${OPS_ROLLBACK_PROMETHEUS_AUTH:-}" ] && CURL+=(-u "$OPS_ROLLBACK_PROMETHEUS_AUTH")

log() { echo "prometheus: $*" >&2; }
die() { echo "prometheus: ERROR: $*" >&2; exit 1; }

running() { [ -f "$RUN/pid" ] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; }
ready() { "${CURL[@]}" -f -o /dev/null "$URL/-/ready"; }

default_config() {
  local targets
  targets=$(printf '%s' "$TARGETS" | sed 's/[[:space:]]//g; s/,/", "/g')
  cat <<EOF
# Written by scripts/prometheus.sh: the demo apps, scraped every second.
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: ["$targets"]
EOF
}

wait_ready() {
  for _ in $(seq 1 60); do
    ready && return
    running || die "it exited while starting (log: $RUN/prometheus.log):
$(tail -n 5 "$RUN/prometheus.log" 2>/dev/null)"
    sleep 0.25
  done
  die "not ready on $URL within 15 s (log: $RUN/prometheus.log)"
}

up() {
  [ -x "$PROMETHEUS" ] || die "$PROMETHEUS is missing: run scripts/setup.sh (Debian package prometheus)"
  mkdir -p "$RUN/data"
  local config=$RUN/prometheus.yml new
  new=$(mktemp "$RUN/prometheus.yml.XXXXXX")
  if [ $# -ge 1 ]; then
    [ -r "$1" ] || die "config $1 cannot be read"
    cp "$1" "$new"
  else
    default_config >"$new"
  fi
  local problem
  if ! problem=$(/usr/bin/promtool check config "$new" 2>&1); then
    rm -f "$new"
    die "config ${1:-(default)} is not valid: $(printf '%s' "$problem" | tail -n 3)"
  fi
  if running; then
    if cmp -s "$new" "$config"; then
      rm -f "$new"
      log "up already, same config: $URL"
    else
      mv "$new" "$config"
      # SIGHUP reloads the config; a bad one was refused above.
      kill -HUP "$(cat "$RUN/pid")"
      log "up already, config reloaded: $URL"
    fi
    wait_ready
    echo "$URL"
    return
  fi
  mv "$new" "$config"
  if curl -s -o /dev/null "$URL/" 2>/dev/null; then
    die "something else answers on 127.0.0.1:$PORT: set OPS_ROLLBACK_PROMETHEUS_PORT to a free port"
  fi
  local web=()
  if [ -n "$WEB_CONFIG" ]; then
    [ -r "$WEB_CONFIG" ] || die "web config $WEB_CONFIG cannot be read"
    web=(--web.config.file="$WEB_CONFIG")
  fi
  # Short retention: test and lab data only matter for minutes.
  nohup "$PROMETHEUS" --config.file="$config" --storage.tsdb.path="$RUN/data" \
      --storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$PORT" \
      --web.enable-lifecycle "${web[@]}" >"$RUN/prometheus.log" 2>&1 </dev/null &
  echo $! >"$RUN/pid"
  wait_ready
  log "up: $URL (dir $RUN)"
  echo "$URL"
}

down() {
  if running; then
    local pid
    pid=$(cat "$RUN/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -rf "$RUN/pid" "$RUN/data"
  log "down"
}

status() {
  if ! running; then
    echo "prometheus: not running (dir $RUN)"
    exit 3
  fi
  echo "prometheus: $URL (pid $(cat "$RUN/pid"), dir $RUN)$(ready || echo ' NOT READY')"
  "${CURL[@]}" -f "$URL/api/v1/targets" | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
if not targets:
    print("  no targets yet (Prometheus takes about 5 s to discover them after a start or a reload)")
for target in targets:
    error = target.get("lastError") or ""
    print("  {0:<28} {1:<7} {2}".format(target["scrapeUrl"], target["health"], error))
' || true
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up [CONFIG] | down | status" >&2; exit 2 ;;
esac
