#!/usr/bin/env bash
# scripts/aws-lab.sh: the ECS lab, AWS on 127.0.0.1 for the ECS drill.
#
# One process (lab/aws/ecs_lab.py, the project's venv): moto's AWS APIs in
# server mode with the ECS deployment scheduler moto lacks
# (lab/aws/ecs_simulator.py: rollouts, failing tasks, the circuit breaker),
# and GET /lab/status/<cluster>/<service>, the service's version, rollout,
# tasks, ledger and lock as JSON (what inventory/ecs/lab.yml verifies).
#
#   scripts/aws-lab.sh up       start it in the background (idempotent: a
#                               running lab is left as it is); prints its URL
#   scripts/aws-lab.sh seed     reset it, then cluster lab, service web: v1,
#                               v2, then the broken v3 deployed last without a
#                               circuit breaker, its rollout stuck IN_PROGRESS;
#                               prints the service's status
#   scripts/aws-lab.sh status [CLUSTER SERVICE]   that status (default lab web)
#   scripts/aws-lab.sh down     stop it (everything in it is gone)
#
# The port is $OPS_ROLLBACK_AWS_PORT (default 14566). CACHE is
# ${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}; the pid file and the log
# are $CACHE/aws-run/ecs-lab.{pid,log}.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE=${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
RUN=$CACHE/aws-run
PORT=${OPS_ROLLBACK_AWS_PORT:-14566}
URL=http://127.0.0.1:$PORT
PID=$RUN/ecs-lab.pid
LOG=$RUN/ecs-lab.log

log() { echo "aws-lab: $*" >&2; }
die() { echo "aws-lab: ERROR: $*" >&2; exit 1; }

alive() { [ -f "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; }
answers() { curl -sf --max-time 5 "$URL/lab/health" >/dev/null 2>&1; }

up() {
  mkdir -p "$RUN"
  if alive && answers; then
    log "already up: $URL (pid $(cat "$PID"))"
    echo "$URL"
    return
  fi
  if alive; then  # started, not answering yet (or hung): give it a moment, then start over
    for _ in $(seq 1 20); do answers && { echo "$URL"; return; }; sleep 0.5; done
    down
  fi
  [ -n "${OPS_ROLLBACK_VENV:-}" ] || eval "$("$REPO/scripts/setup.sh" --print-env)"
  nohup "$OPS_ROLLBACK_VENV/bin/python" "$REPO/lab/aws/ecs_lab.py" --port "$PORT" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PID"
  for _ in $(seq 1 60); do
    if answers; then
      log "up: $URL (pid $(cat "$PID"), log $LOG)"
      echo "$URL"
      return
    fi
    alive || break
    sleep 0.5
  done
  tail -n 20 "$LOG" >&2 || true
  die "the ECS lab did not come up on $URL (log: $LOG)"
}

down() {
  if alive; then
    kill "$(cat "$PID")" 2>/dev/null || true
    for _ in $(seq 1 20); do alive || break; sleep 0.25; done
    if alive; then kill -9 "$(cat "$PID")" 2>/dev/null || true; fi
  fi
  rm -f "$PID"
  log "down"
}

seed() {
  answers || die "the ECS lab is not running on $URL: scripts/aws-lab.sh up"
  curl -sf --max-time 120 -X POST "$URL/lab/seed" || die "seeding failed (log: $LOG)"
}

status() {
  answers || die "the ECS lab is not running on $URL: scripts/aws-lab.sh up"
  curl -s --max-time 30 "$URL/lab/status/${1:-lab}/${2:-web}"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  seed) seed ;;
  status) shift; status "$@" ;;
  *) echo "usage: $0 up|seed|status [CLUSTER SERVICE]|down" >&2; exit 2 ;;
esac
