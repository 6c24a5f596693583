#!/usr/bin/env bash
# scripts/lab.sh: a lab of N Debian hosts in docker containers, reached over
# ssh on 127.0.0.1, on which the symlink platform is deployed and rolled back.
#
# Usage:
#   scripts/lab.sh image        build (or reuse) the lab image, print its name
#   scripts/lab.sh image-name   print the image name (ops-rollback-lab:<hash>)
#   scripts/lab.sh up [N]       make the lab exactly hosts 1..N (default 3),
#                               wait for their sshd, write inventory/lab/hosts.yml
#   scripts/lab.sh down         remove the lab's containers, network, inventory
#   scripts/lab.sh status       list the lab's containers
#   scripts/lab.sh data         (re)create the demo app's data for the drill:
#                               database ops_rollback_lab_demo on the
#                               controller's PostgreSQL (127.0.0.1:5432, user
#                               postgres) with its golang-migrate table at the
#                               v1.3.0 schema, and the app's migrations as a
#                               git repository at $CACHE/lab/demo-app (tags
#                               v1.2.9 and v1.3.0; v1.3.0 adds a nullable
#                               column). lab/drill.yml points the rollback at both.
#
# Host i: container ops-rollback-lab-i (label ops.rollback.lab=1, hostname
# labi) on the docker network ops-rollback-lab, ssh on 127.0.0.1:(2200+i),
# demo app on 127.0.0.1:(8100+i). Ports are published on loopback only: the
# controller talks to 127.0.0.1, never to the containers' own addresses.
#
# The load balancer: container ops-rollback-lab-lb (hostname lablb, inventory
# group lb), ssh on 127.0.0.1:2200, HAProxy on 127.0.0.1:8180 (backend demo,
# admin socket /run/haproxy/admin.sock) and nginx on 127.0.0.1:8190
# (upstream demo in /etc/nginx/ops-rollback/upstreams/demo.conf), both in
# front of hosts 1..N (lab/lb/: configs, and lab-lb-reload to reload them).
#
# Image: lab/image/build-rootfs.sh debootstraps a root fs; its tarball is
# cached at $CACHE/lab-image-<hash>.tar, hash = sha256 of lab/image/*, and
# imported as ops-rollback-lab:<hash> (also tagged :latest). The lab's ssh
# key is $CACHE/lab/id_ed25519. CACHE is
# ${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}.
# Needs root and a running dockerd (scripts/setup.sh starts one).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE=${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}
DOCKER=/usr/bin/docker   # Debian's client, matching Debian's engine
IMAGE_REPO=ops-rollback-lab
NETWORK=ops-rollback-lab
LABEL=ops.rollback.lab=1
PREFIX=ops-rollback-lab-
LB=${PREFIX}lb
SSH_BASE=2200
HTTP_BASE=8100
LB_HAPROXY_PORT=8180
LB_NGINX_PORT=8190
PARALLEL=${OPS_ROLLBACK_LAB_PARALLEL:-8}
UP_TIMEOUT=${OPS_ROLLBACK_LAB_TIMEOUT:-90}
INVENTORY=$REPO/inventory/lab/hosts.yml

log() { echo "lab: $*" >&2; }
die() { echo "lab: ERROR: $*" >&2; exit 1; }

usage() { sed -n '4,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }

cache_dir() {
  mkdir -p "$CACHE"
  CACHE=$(cd "$CACHE" && pwd -P)
}

# One lab command at a time per cache (image builds, up, down).
lock() {
  exec 9>"$CACHE/lab.lock"
  flock 9
}

need_docker() {
  "$DOCKER" info >/dev/null 2>&1 || die "dockerd does not answer: run scripts/setup.sh"
}

image_hash() {
  (export LC_ALL=C; cd "$REPO/lab/image" && sha256sum -- *) | sha256sum | cut -c1-12
}

image_name() { echo "$IMAGE_REPO:$(image_hash)"; }

# Unmount whatever a killed debootstrap left mounted under $1, then remove it.
remove_tree() {
  local dir=$1 m
  [ -e "$dir" ] || return 0
  for m in $(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$dir"
}

cmd_image() {
  local name hash tarball tmp t0
  hash=$(image_hash)
  name=$IMAGE_REPO:$hash
  tarball=$CACHE/lab-image-$hash.tar
  if "$DOCKER" image inspect "$name" >/dev/null 2>&1; then
    log "image $name exists"
  else
    if [ ! -f "$tarball" ]; then
      command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/setup.sh"
      log "building the root fs with debootstrap (about a minute or two)"
      t0=$SECONDS
      # Left-overs of interrupted builds.
      for tmp in "$CACHE"/lab-build.*; do remove_tree "$tmp"; done
      tmp=$(mktemp -d "$CACHE/lab-build.XXXXXX")
      trap 'remove_tree "$tmp"' EXIT
      bash "$REPO/lab/image/build-rootfs.sh" "$tmp/rootfs" >"$tmp/build.log" 2>&1 || {
        tail -n 30 "$tmp/build.log" >&2
        die "lab/image/build-rootfs.sh failed"
      }
      if findmnt -rn -o TARGET | grep -qF "$tmp/"; then
        die "something is still mounted under $tmp/rootfs"
      fi
      tar -C "$tmp/rootfs" --numeric-owner -cf "$tmp/image.tar" .
      mv "$tmp/image.tar" "$tarball"
      remove_tree "$tmp"
      trap - EXIT
      log "root fs tarball $tarball ($(du -h "$tarball" | cut -f1), $((SECONDS - t0)) s)"
    fi
    log "importing $name"
    "$DOCKER" import --change 'CMD ["/usr/sbin/sshd","-D","-e"]' \
      --message "ops.rollback lab image, lab/image hash $hash" - "$name" <"$tarball" >/dev/null
  fi
  "$DOCKER" tag "$name" "$IMAGE_REPO:latest"
  echo "$name"
}

ensure_key() {
  local dir=$CACHE/lab
  KEY=$dir/id_ed25519
  if [ -f "$KEY" ] && [ -f "$KEY.pub" ]; then return; fi
  mkdir -p "$dir"
  chmod 0700 "$dir"
  rm -f "$KEY.tmp" "$KEY.tmp.pub"
  ssh-keygen -q -t ed25519 -N '' -C ops-rollback-lab -f "$KEY.tmp"
  mv "$KEY.tmp.pub" "$KEY.pub"
  mv "$KEY.tmp" "$KEY"
  log "generated the lab ssh key $KEY"
}

# Indexes of the lab's existing containers.
existing_indexes() {
  "$DOCKER" ps -a --filter "label=$LABEL" --format '{{.Names}}' \
    | sed -n "s/^$PREFIX\([0-9][0-9]*\)\$/\1/p" | sort -n
}

start_host() {
  local i=$1 image=$2 name=$PREFIX$1 state
  state=$("$DOCKER" inspect -f '{{.State.Running}}' "$name" 2>/dev/null || true)
  case "$state" in
    true) return 0 ;;
    false) "$DOCKER" start "$name" >/dev/null; return ;;
  esac
  "$DOCKER" run -d --init --name "$name" --hostname "lab$i" \
    --label "$LABEL" --label "ops.rollback.lab.index=$i" \
    --network "$NETWORK" \
    -v "$KEY.pub:/root/.ssh/authorized_keys:ro" \
    -p "127.0.0.1:$((SSH_BASE + i)):22" -p "127.0.0.1:$((HTTP_BASE + i)):8000" \
    "$image" >/dev/null
}

# The load balancer: started once, its configs rewritten for hosts 1..N and
# its daemons reloaded on every `up`.
start_lb() {
  local image=$1 state
  state=$("$DOCKER" inspect -f '{{.State.Running}}' "$LB" 2>/dev/null || true)
  case "$state" in
    true) ;;
    false) "$DOCKER" start "$LB" >/dev/null ;;
    *) "$DOCKER" run -d --init --name "$LB" --hostname lablb \
         --label "$LABEL" --label "ops.rollback.lab.index=0" --network "$NETWORK" \
         -v "$KEY.pub:/root/.ssh/authorized_keys:ro" \
         -p "127.0.0.1:$SSH_BASE:22" -p "127.0.0.1:$LB_HAPROXY_PORT:80" -p "127.0.0.1:$LB_NGINX_PORT:8080" \
         "$image" >/dev/null ;;
  esac
}

configure_lb() {
  local n=$1 i tmp
  tmp=$(mktemp -d)
  cp "$REPO/lab/lb/haproxy.cfg" "$tmp/haproxy.cfg"
  {
    echo "# Managed by ops.rollback.lb_switch (backend nginx)."
    echo "upstream demo {"
    for i in $(seq 1 "$n"); do
      echo "    server $PREFIX$i:8000;"
      echo "    server lab$i $PREFIX$i:8000 check" >>"$tmp/haproxy.cfg"
    done
    echo "}"
  } >"$tmp/demo.conf"
  "$DOCKER" exec "$LB" mkdir -p /etc/nginx/ops-rollback/upstreams /etc/nginx/ops-rollback/maintenance
  "$DOCKER" cp "$tmp/haproxy.cfg" "$LB:/etc/haproxy/haproxy.cfg"
  "$DOCKER" cp "$REPO/lab/lb/nginx.conf" "$LB:/etc/nginx/nginx.conf"
  "$DOCKER" cp "$tmp/demo.conf" "$LB:/etc/nginx/ops-rollback/upstreams/demo.conf"
  "$DOCKER" cp "$REPO/lab/lb/lab-lb-reload" "$LB:/usr/local/bin/lab-lb-reload"
  rm -rf "$tmp"
  "$DOCKER" exec "$LB" rm -f /etc/nginx/sites-enabled/default
  "$DOCKER" exec "$LB" /usr/local/bin/lab-lb-reload all
}

ssh_ok() {
  ssh -i "$KEY" -p "$((SSH_BASE + $1))" -o BatchMode=yes -o ConnectTimeout=3 \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
    root@127.0.0.1 true </dev/null >/dev/null 2>&1
}

# Wait until every host 1..N answers over ssh, probing in parallel.
wait_ssh() {
  local n=$1 deadline=$((SECONDS + UP_TIMEOUT)) pending i dir
  dir=$(mktemp -d)
  pending=$(seq 0 "$n")   # 0: the load balancer
  while :; do
    for i in $pending; do
      ( ssh_ok "$i" && touch "$dir/$i" ) &
    done
    wait
    pending=$(for i in $pending; do [ -e "$dir/$i" ] || echo "$i"; done)
    [ -z "$pending" ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      rm -rf "$dir"
      die "no ssh after ${UP_TIMEOUT}s on lab host(s): $(echo "$pending" | xargs)"
    fi
    sleep 1
  done
  rm -rf "$dir"
}

write_inventory() {
  local n=$1 i tmp
  mkdir -p "$(dirname "$INVENTORY")"
  tmp=$INVENTORY.tmp.$$
  {
    echo "# Generated by scripts/lab.sh up — do not edit."
    echo "all:"
    echo "  children:"
    echo "    lb:"
    echo "      hosts:"
    echo "        lablb:"
    echo "          ansible_host: 127.0.0.1"
    echo "          ansible_port: $SSH_BASE"
    echo "          ansible_user: root"
    echo "          ansible_ssh_private_key_file: $KEY"
    echo "          ansible_python_interpreter: /usr/bin/python3"
    echo "          lab_haproxy_url: http://127.0.0.1:$LB_HAPROXY_PORT"
    echo "          lab_nginx_url: http://127.0.0.1:$LB_NGINX_PORT"
    echo "    demo:"
    echo "      hosts:"
    for i in $(seq 1 "$n"); do
      echo "        lab$i: {ansible_port: $((SSH_BASE + i)), lab_http_url: \"http://127.0.0.1:$((HTTP_BASE + i))\"}"
    done
    cat <<EOF
      vars:
        ansible_host: 127.0.0.1
        ansible_user: root
        ansible_ssh_private_key_file: $KEY
        ansible_python_interpreter: /usr/bin/python3
        rollback_platform: symlink
        rollback_service: demo
        symlink_path: /srv/demo
        symlink_restart_command: [/usr/local/bin/demo-restart]
        symlink_version_url: http://127.0.0.1:8000/version
        rollback_health_endpoints:
          - url: http://127.0.0.1:8000/health
            status: 200
            json_query: status
            equals: ok
EOF
  } >"$tmp"
  mv "$tmp" "$INVENTORY"
}

remove_containers() {
  [ $# -gt 0 ] || return 0
  printf '%s\n' "$@" | xargs -n 4 -P 4 "$DOCKER" rm -f >/dev/null
}

cmd_up() {
  local n=${1:-3} image i extras=() t0=$SECONDS dir
  if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 99 ]; then
    die "up N: N must be 1..99"
  fi
  image=$(cmd_image)
  ensure_key

  for i in $(existing_indexes); do
    if [ "$i" -gt "$n" ]; then extras+=("$PREFIX$i"); fi
  done
  if [ ${#extras[@]} -gt 0 ]; then
    log "removing ${#extras[@]} extra host(s)"
    remove_containers "${extras[@]}"
  fi

  if ! "$DOCKER" network inspect "$NETWORK" >/dev/null 2>&1; then
    "$DOCKER" network create --label "$LABEL" "$NETWORK" >/dev/null
  fi

  log "starting hosts 1..$n ($PARALLEL at a time)"
  dir=$(mktemp -d)
  for i in $(seq 1 "$n"); do
    while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n || true; done
    ( start_host "$i" "$image" 2>"$dir/$i.err" || echo "$i" >>"$dir/failed" ) &
  done
  wait
  if [ -s "$dir/failed" ]; then
    sort -n "$dir/failed" | while read -r i; do
      log "host $i: $(tr '\n' ' ' <"$dir/$i.err")"
    done
    rm -rf "$dir"
    die "could not start every host"
  fi
  rm -rf "$dir"

  for i in $(existing_indexes); do
    [ "$i" -le "$n" ] || continue
    if [ "$("$DOCKER" inspect -f '{{.Config.Image}}' "$PREFIX$i")" != "$image" ]; then
      log "note: $PREFIX$i runs an older image; 'scripts/lab.sh down' then 'up' to renew it"
    fi
  done

  start_lb "$image"
  log "waiting for sshd on $n host(s) and the load balancer"
  wait_ssh "$n"
  configure_lb "$n"
  write_inventory "$n"
  log "lab up: $n host(s) in $((SECONDS - t0)) s; inventory ${INVENTORY#"$REPO"/}"
}

cmd_down() {
  local names
  names=$("$DOCKER" ps -aq --filter "label=$LABEL")
  if [ -n "$names" ]; then
    # shellcheck disable=SC2086
    remove_containers $names
  fi
  if "$DOCKER" network inspect "$NETWORK" >/dev/null 2>&1; then
    "$DOCKER" network rm "$NETWORK" >/dev/null
  fi
  rm -f "$INVENTORY"
  log "lab down"
}

cmd_status() {
  local out
  out=$("$DOCKER" ps -a --filter "label=$LABEL" \
          --format '{{.Label "ops.rollback.lab.index"}}\t{{.Names}}\t{{.Status}}\t{{.Ports}}' \
        | sort -n)
  if [ -z "$out" ]; then
    echo "lab: no hosts"
    return
  fi
  { printf -- '-\tNAME\tSTATUS\tPORTS\n'; echo "$out"; } \
    | awk -F '\t' '{ printf "%-22s %-28s %s\n", $2, $3, $4 }'

}

LAB_DB=ops_rollback_lab_demo

# One commit and tag per version: what a real app repository holds.
write_demo_repo() {
  local repo=$CACHE/lab/demo-app
  rm -rf "$repo"
  mkdir -p "$repo/migrations"
  git -C "$repo" init -q
  git -C "$repo" config user.email lab@ops-rollback.invalid
  git -C "$repo" config user.name "ops.rollback lab"
  cat >"$repo/migrations/1_create_orders.up.sql" <<'EOF'
CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, amount integer NOT NULL);
EOF
  echo 'DROP TABLE orders;' >"$repo/migrations/1_create_orders.down.sql"
  git -C "$repo" add -A && git -C "$repo" commit -qm "v1.2.9" && git -C "$repo" tag v1.2.9
  echo 'ALTER TABLE orders ADD COLUMN note text;' >"$repo/migrations/2_add_order_note.up.sql"
  echo 'ALTER TABLE orders DROP COLUMN note;' >"$repo/migrations/2_add_order_note.down.sql"
  git -C "$repo" add -A && git -C "$repo" commit -qm "v1.3.0" && git -C "$repo" tag v1.3.0
}

cmd_data() {
  local psql=(env PGOPTIONS="-c client_min_messages=warning" psql -X -q -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1)
  "${psql[@]}" -d postgres -c "DROP DATABASE IF EXISTS $LAB_DB" -c "CREATE DATABASE $LAB_DB"
  # The schema as v1.3.0's migrations left it, with golang-migrate's own table.
  "${psql[@]}" -d "$LAB_DB" \
    -c "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, amount integer NOT NULL, note text)" \
    -c "INSERT INTO orders (item, amount) SELECT 'item-' || n, n FROM generate_series(1, 1000) AS n" \
    -c "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL)" \
    -c "INSERT INTO schema_migrations VALUES (2, false)"
  write_demo_repo
  mkdir -p "$CACHE/lab/backups"
  log "data: database $LAB_DB (1000 orders, migrated to v1.3.0), repository $CACHE/lab/demo-app"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  image-name) image_name ;;
  image) [ "$(id -u)" -eq 0 ] || die "run as root"; cache_dir; need_docker; lock; cmd_image ;;
  up) cache_dir; need_docker; lock; cmd_up "$@" ;;
  down) cache_dir; need_docker; lock; cmd_down ;;
  status) need_docker; cmd_status ;;
  data) cache_dir; cmd_data ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
