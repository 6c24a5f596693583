#!/usr/bin/env bash
# scripts/docker-lab.sh: the Docker lab, a Swarm service and a Compose project
# on the local engine, left in the state a broken deploy leaves, for the
# Swarm and Compose drills (molecule/swarm, molecule/compose).
#
#   scripts/docker-lab.sh images        build ops-rollback-demo:v1, :v2 and
#                                       :v3-broken from lab/docker (once; rebuilt
#                                       when lab/docker or the lab image change)
#   scripts/docker-lab.sh seed-swarm    (re)create Swarm service demo on
#                                       127.0.0.1:18080: v1, v2, then v3-broken,
#                                       whose update the engine pauses
#   scripts/docker-lab.sh seed-compose  (re)create compose project demo in
#                                       $CACHE/compose-lab/demo on 127.0.0.1:18081:
#                                       v1, v2, then v3-broken up (unhealthy)
#   scripts/docker-lab.sh status        what each one serves, its image, its state
#   scripts/docker-lab.sh down [swarm|compose]   remove service demo (and its
#                                       ledger and lock configs) and the compose
#                                       project, or only one of them; the swarm
#                                       and the images stay
#
# The demo app (lab/docker) answers GET / with {"version": ...} and /health
# with {"status": "ok", ...}; v3-broken's /health answers 500, so its
# HEALTHCHECK fails. Swarm: a single-node swarm (swarm init --advertise-addr
# 127.0.0.1 when the engine is in none), the service published in host mode
# (this kernel has no IPVS for the routing mesh), update failure_action pause:
# the v3-broken task fails its health check, the engine pauses the update and
# keeps restarting v3-broken tasks, and nothing healthy serves: the classic
# broken deploy, whose PreviousSpec is v2. Compose: .env pins
# DEMO_VERSION, which the image field uses (ops-rollback-demo:${DEMO_VERSION}).
# CACHE is ${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}. Needs a running
# dockerd (scripts/setup.sh starts one), the lab image (scripts/lab.sh
# image) and docker-compose (scripts/setup.sh installs Debian's).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE=${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}
DOCKER=/usr/bin/docker   # Debian's client, matching Debian's engine
COMPOSE=${OPS_ROLLBACK_COMPOSE:-docker-compose}
BASE=ops-rollback-lab:latest
APP=ops-rollback-demo
LABEL=ops.rollback.demo.input
VERSIONS=(v1 v2 v3-broken)
SERVICE=demo
SWARM_PORT=18080
COMPOSE_PORT=18081
TIMEOUT=${OPS_ROLLBACK_DOCKER_LAB_TIMEOUT:-120}

log() { echo "docker-lab: $*" >&2; }
die() { echo "docker-lab: ERROR: $*" >&2; exit 1; }

usage() { sed -n '6,20s/^# \{0,1\}//p' "$0" >&2; exit 2; }

cache_dir() {
  mkdir -p "$CACHE"
  CACHE=$(cd "$CACHE" && pwd -P)
  PROJECT=$CACHE/compose-lab/demo
}

# One docker-lab command at a time per cache.
lock() {
  exec 8>"$CACHE/docker-lab.lock"
  flock 8
}

need_docker() {
  "$DOCKER" info >/dev/null 2>&1 || die "dockerd does not answer: run scripts/setup.sh"
}

# The hash of what the images are built from: lab/docker's files and the lab image.
input_hash() {
  local base_id
  base_id=$("$DOCKER" image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) \
    || die "no lab image $BASE: run scripts/lab.sh image"
  { (export LC_ALL=C; cd "$REPO/lab/docker" && sha256sum -- *); echo "$base_id"; } | sha256sum | cut -c1-16
}

broken_arg() { case "$1" in *-broken) echo health ;; *) echo "" ;; esac; }

cmd_images() {
  local hash tag stale=0 found
  hash=$(input_hash)
  for tag in "${VERSIONS[@]}"; do
    found=$("$DOCKER" image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$APP:$tag" 2>/dev/null || true)
    [ "$found" = "$hash" ] || stale=1
  done
  if [ "$stale" = 0 ]; then
    log "images $APP:{$(IFS=,; echo "${VERSIONS[*]}")} are up to date (input $hash)"
    return
  fi
  # All of them, in version order and without the build cache: Compose's
  # previous (while the ledger is empty) is the image built before the running one.
  for tag in "${VERSIONS[@]}"; do
    log "building $APP:$tag (input $hash)"
    "$DOCKER" build -q --no-cache --build-arg "BASE=$BASE" --build-arg "VERSION=$tag" \
      --build-arg "BROKEN=$(broken_arg "$tag")" --label "$LABEL=$hash" -t "$APP:$tag" "$REPO/lab/docker" >/dev/null
  done
  log "built $APP:{$(IFS=,; echo "${VERSIONS[*]}")}"
}

need_images() {
  local tag
  for tag in "${VERSIONS[@]}"; do
    "$DOCKER" image inspect "$APP:$tag" >/dev/null 2>&1 || die "no image $APP:$tag: run $0 images"
  done
}

# What 127.0.0.1:$1 serves ("" when nothing answers).
served() { curl -s --max-time 3 "http://127.0.0.1:$1/" 2>/dev/null || true; }

# Wait until $2 (a command) succeeds, saying $1 on timeout.
wait_for() {
  local what=$1 end=$((SECONDS + TIMEOUT))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || die "timed out after ${TIMEOUT}s waiting for $what"
    sleep 0.5
  done
}

serves() { [ "$(served "$1")" = "{\"version\": \"$2\"}" ]; }

# ---- Swarm ------------------------------------------------------------------

swarm_service_exists() { "$DOCKER" service inspect "$SERVICE" >/dev/null 2>&1; }
swarm_update_state() { "$DOCKER" service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$SERVICE"; }
swarm_paused() { [ "$(swarm_update_state)" = paused ]; }
swarm_completed() { [ "$(swarm_update_state)" = completed ]; }
swarm_gone() {
  ! swarm_service_exists && [ -z "$("$DOCKER" ps -aq --filter "label=com.docker.swarm.service.name=$SERVICE")" ]
}

ensure_swarm() {
  local state
  state=$("$DOCKER" info -f '{{.Swarm.LocalNodeState}}')
  case "$state" in
    active) ;;
    inactive) log "swarm init --advertise-addr 127.0.0.1"; "$DOCKER" swarm init --advertise-addr 127.0.0.1 >/dev/null ;;
    *) die "the engine's swarm is $state: fix it (docker info) and run again" ;;
  esac
  [ "$("$DOCKER" info -f '{{.Swarm.ControlAvailable}}')" = true ] || die "this engine is not a swarm manager"
}

swarm_remove() {
  local kind
  if swarm_service_exists; then
    log "removing Swarm service $SERVICE"
    "$DOCKER" service rm "$SERVICE" >/dev/null
  fi
  # Its ledger and lock (scripts/docker-lab.sh seeds start from an empty ledger).
  for kind in ledger lock; do
    if "$DOCKER" config inspect "ops-rollback-$kind.$SERVICE" >/dev/null 2>&1; then
      log "removing Swarm config ops-rollback-$kind.$SERVICE"
      "$DOCKER" config rm "ops-rollback-$kind.$SERVICE" >/dev/null
    fi
  done
  wait_for "the containers of Swarm service $SERVICE to go" swarm_gone
}

cmd_seed_swarm() {
  need_images
  ensure_swarm
  swarm_remove
  log "Swarm service $SERVICE: creating at v1 on 127.0.0.1:$SWARM_PORT (host mode)"
  "$DOCKER" service create --detach --no-resolve-image --name "$SERVICE" --replicas 1 \
    --publish "mode=host,published=$SWARM_PORT,target=8080" \
    --update-failure-action pause --update-delay 0s --update-monitor 2s \
    --rollback-delay 0s --rollback-monitor 2s --restart-delay 1s --stop-grace-period 5s \
    --label ops.rollback.lab=docker "$APP:v1" >/dev/null
  wait_for "Swarm service $SERVICE to serve v1" serves "$SWARM_PORT" v1
  log "Swarm service $SERVICE: update to v2"
  "$DOCKER" service update --detach --no-resolve-image --image "$APP:v2" "$SERVICE" >/dev/null
  wait_for "Swarm service $SERVICE to serve v2" serves "$SWARM_PORT" v2
  wait_for "the update of Swarm service $SERVICE to v2 to complete" swarm_completed
  log "Swarm service $SERVICE: update to v3-broken (failure_action pause)"
  "$DOCKER" service update --detach --no-resolve-image --image "$APP:v3-broken" "$SERVICE" >/dev/null
  wait_for "the engine to pause the update of Swarm service $SERVICE" swarm_paused
  log "Swarm service $SERVICE: the update to v3-broken is paused; its tasks fail their health check"
  swarm_status
}

swarm_status() {
  if ! swarm_service_exists; then
    echo "swarm service $SERVICE: none"
    return
  fi
  echo "swarm service $SERVICE: image $("$DOCKER" service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$SERVICE" | cut -d@ -f1)," \
    "update $(swarm_update_state || true), serves on 127.0.0.1:$SWARM_PORT: $(served "$SWARM_PORT")"
  "$DOCKER" service ps --no-trunc --format '  {{.Name}} {{.Image}} {{.CurrentState}} {{.Error}}' "$SERVICE" | head -n 5 | cut -c1-160
}

# ---- Compose ----------------------------------------------------------------

compose() {
  local files=(-f "$PROJECT/docker-compose.yml")
  # The pin a rollback may have written (compose_rollback's override file).
  [ -f "$PROJECT/docker-compose.ops-rollback.yml" ] && files+=(-f "$PROJECT/docker-compose.ops-rollback.yml")
  (cd "$PROJECT" && "$COMPOSE" --project-directory "$PROJECT" "${files[@]}" "$@")
}

compose_container() {
  "$DOCKER" ps -aq --filter "label=com.docker.compose.project=$SERVICE" --filter "label=com.docker.compose.service=$SERVICE"
}

compose_health() {
  local id
  id=$(compose_container)
  [ -n "$id" ] || return 0
  "$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id"
}

compose_healthy() { [ "$(compose_health)" = healthy ]; }
compose_unhealthy() { [ "$(compose_health)" = unhealthy ]; }
compose_serves_healthy() { serves "$COMPOSE_PORT" "$1" && compose_healthy; }

compose_remove() {
  if [ -f "$PROJECT/docker-compose.yml" ]; then
    log "removing compose project $SERVICE ($PROJECT)"
    compose down -t 2 --remove-orphans >/dev/null 2>&1 || die "docker-compose down failed in $PROJECT"
  fi
  rm -rf "$PROJECT"
}

compose_deploy() {
  local version=$1
  log "compose project $SERVICE: DEMO_VERSION=$version, up -d"
  printf 'DEMO_VERSION=%s\n' "$version" >"$PROJECT/.env"
  compose up -d >/dev/null 2>&1 || { compose up -d || true; die "docker-compose up -d failed in $PROJECT"; }
}

cmd_seed_compose() {
  need_images
  command -v "$COMPOSE" >/dev/null || die "no $COMPOSE: run scripts/setup.sh"
  compose_remove
  mkdir -p "$PROJECT"
  cat >"$PROJECT/docker-compose.yml" <<EOF
# The Docker lab's compose project (scripts/docker-lab.sh seed-compose).
# The image's tag is the pin in .env, as a pipeline would set it.
version: "2.4"
services:
  $SERVICE:
    image: $APP:\${DEMO_VERSION}
    ports:
      - "127.0.0.1:$COMPOSE_PORT:8080"
    restart: unless-stopped
    stop_grace_period: 5s
EOF
  compose_deploy v1
  wait_for "compose service $SERVICE to serve v1, healthy" compose_serves_healthy v1
  compose_deploy v2
  wait_for "compose service $SERVICE to serve v2, healthy" compose_serves_healthy v2
  compose_deploy v3-broken
  wait_for "compose service $SERVICE to run v3-broken, unhealthy" compose_unhealthy
  log "compose project $SERVICE: v3-broken is up and unhealthy"
  compose_status
}

compose_status() {
  if [ ! -f "$PROJECT/docker-compose.yml" ]; then
    echo "compose project $SERVICE: none ($PROJECT)"
    return
  fi
  local id image=""
  id=$(compose_container)
  [ -n "$id" ] && image=$("$DOCKER" inspect -f '{{.Config.Image}}' "$id")
  echo "compose project $SERVICE ($PROJECT): $(tr '\n' ' ' <"$PROJECT/.env" 2>/dev/null)image ${image:-none}," \
    "$(compose_health), serves on 127.0.0.1:$COMPOSE_PORT: $(served "$COMPOSE_PORT")"
}

# -----------------------------------------------------------------------------

cmd=${1:-}
case "$cmd" in
  images|seed-swarm|seed-compose|status) [ $# -le 1 ] || usage ;;
  down)
    [ $# -le 2 ] || usage
    case "${2:-all}" in all|swarm|compose) ;; *) usage ;; esac
    ;;
  *) usage ;;
esac
cache_dir
need_docker
lock
case "$cmd" in
  images) cmd_images ;;
  seed-swarm) cmd_seed_swarm ;;
  seed-compose) cmd_seed_compose ;;
  status) swarm_status; compose_status ;;
  down)
    part=${2:-all}
    if [ "$part" != compose ] && [ "$("$DOCKER" info -f '{{.Swarm.LocalNodeState}}')" = active ]; then
      swarm_remove
    fi
    if [ "$part" != swarm ]; then compose_remove; fi
    log "down${2:+ $2} (the swarm and the images stay)"
    ;;
esac
