#!/usr/bin/env bash
# scripts/setup.sh: prepare this machine to develop and test ops.rollback.
#
# Runs as root on Debian 12 and is idempotent: run it as often as you like.
#   1. apt: docker.io debootstrap openssh-client make rsync curl python3-venv
#      git shellcheck docker-compose (apt is skipped entirely when all of them are installed;
#      ansible-test sanity skips its shellcheck test without shellcheck), and
#      haproxy nginx prometheus prometheus-alertmanager, whose daemons are
#      not started: the tests run their own, on their own ports; and
#      openjdk-17-jre-headless, which ansible-rulebook's rules engine needs.
#   2. dockerd: started in the background when `docker info` fails
#      (log: /var/log/ops-rollback-dockerd.log).
#   3. A virtualenv built from requirements-test.txt (which includes
#      requirements.txt) at $CACHE/venv-<hash>, hash = sha256 of both files
#      and `python3 -VV`. A venv is complete once it has a `.complete`
#      marker; an incomplete one is rebuilt.
#   4. .collections/ansible_collections/ops/rollback -> ../../.. so
#      ansible.cfg's collections_path finds this checkout by FQCN.
#   5. Databases for the tests and the drill: PostgreSQL on 127.0.0.1:5432
#      (user postgres, trust for 127.0.0.1) and MariaDB on 127.0.0.1:3306
#      (root, empty password). Left alone when they already answer there;
#      else installed from Debian (postgresql, mariadb-server) and started.
#      The client tools (postgresql-client, mariadb-client) are always installed.
#
# CACHE is ${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}.
#
# Usage:
#   scripts/setup.sh               set up, print the venv path on stdout
#   scripts/setup.sh --print-env   set up (progress on stderr), then print
#                                  the shell lines that activate the env
#
# Using the env from another script or a shell (both forms are equivalent;
# the second one skips the checks, once setup.sh has run):
#   eval "$(scripts/setup.sh --print-env)"
#   . "${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}/env.sh"
# They export PATH (venv first), VIRTUAL_ENV, OPS_ROLLBACK_VENV,
# and OPS_ROLLBACK_CACHE.
set -euo pipefail

mode=setup
case "${1:-}" in
  "") ;;
  --print-env) mode=print-env ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  *) echo "usage: $0 [--print-env]" >&2; exit 2 ;;
esac

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE=${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
DOCKER=/usr/bin/docker   # Debian's client, matching Debian's engine

log() { echo "setup: $*" >&2; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root"

# --- 1. Debian packages --------------------------------------------------
PACKAGES=(docker.io debootstrap openssh-client make rsync curl python3-venv git shellcheck
          postgresql-client mariadb-client docker-compose
          haproxy nginx prometheus prometheus-alertmanager
          openjdk-17-jre-headless)

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    # dpkg -s succeeds for removed-but-not-purged packages too: check status.
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "packages: all present"
    return
  fi
  log "packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # Installed, not started (invoke-rc.d asks policy-rc.d): nothing takes ports 80, 9090 or 9093.
  local policy=/usr/sbin/policy-rc.d had_policy=0
  [ -e "$policy" ] && had_policy=1
  [ "$had_policy" = 1 ] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 0755 "$policy"; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || { [ "$had_policy" = 1 ] || rm -f "$policy"; return 1; }
  [ "$had_policy" = 1 ] || rm -f "$policy"
}

# --- 2. dockerd ----------------------------------------------------------
ensure_dockerd() {
  if "$DOCKER" info >/dev/null 2>&1; then
    log "dockerd: running"
    return
  fi
  log "dockerd: starting (log /var/log/ops-rollback-dockerd.log)"
  nohup /usr/sbin/dockerd >/var/log/ops-rollback-dockerd.log 2>&1 </dev/null &
  local i
  for i in $(seq 1 60); do
    if "$DOCKER" info >/dev/null 2>&1; then
      log "dockerd: up after ~$((i / 2)) s"
      return
    fi
    sleep 0.5
  done
  tail -n 20 /var/log/ops-rollback-dockerd.log >&2 || true
  die "dockerd did not answer within 30 s"
}

# --- 3. virtualenv -------------------------------------------------------
venv_path() {
  local hash
  hash=$(cat "$REPO/requirements.txt" "$REPO/requirements-test.txt" <(python3 -VV 2>&1) \
           | sha256sum | cut -c1-12)
  echo "$CACHE/venv-$hash"
}

ensure_venv() {
  local venv=$1
  # One builder at a time: a second setup.sh (or --print-env) started meanwhile
  # waits here instead of removing a venv that is still being built.
  exec 8>"$CACHE/venv.lock"
  flock 8
  # .complete alone is not enough: a cache restored in part can lack bin/.
  if [ -f "$venv/.complete" ] && [ -x "$venv/bin/python" ]; then
    log "venv: $venv (cached)"
    flock -u 8
    return
  fi
  if [ -e "$venv" ]; then
    log "venv: $venv is incomplete, rebuilding"
    rm -rf "$venv"
  fi
  log "venv: building $venv (pip install -r requirements-test.txt)"
  python3 -m venv "$venv"
  # Run from the repo root so `-r requirements.txt` inside resolves.
  (cd "$REPO" && "$venv/bin/python" -m pip install --no-input --disable-pip-version-check \
      -q -r requirements-test.txt) >&2
  touch "$venv/.complete"
  flock -u 8
  log "venv: ready"
}

# --- 4. collection link --------------------------------------------------
ensure_collection_link() {
  local dir="$REPO/.collections/ansible_collections/ops" link
  link="$dir/rollback"
  if [ -L "$link" ] && [ "$(readlink "$link")" = "../../.." ]; then
    return
  fi
  mkdir -p "$dir"
  rm -rf "$link"
  ln -s ../../.. "$link"
  log "collection: $link -> ../../.."
}

write_env() {
  local venv=$1 out="$CACHE/env.sh" tmp
  # A private temporary name: several setup.sh may write it at once.
  tmp=$(mktemp "$out.XXXXXX")
  cat >"$tmp" <<EOF
# Generated by scripts/setup.sh: source it to use the ops.rollback env.
export OPS_ROLLBACK_CACHE="$CACHE"
export OPS_ROLLBACK_VENV="$venv"
export VIRTUAL_ENV="$venv"
case ":\$PATH:" in *":$venv/bin:"*) ;; *) export PATH="$venv/bin:\$PATH" ;; esac
EOF
  chmod 644 "$tmp"
  mv "$tmp" "$out"
}

# --- 5. databases ---------------------------------------------------------
answers() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_postgresql() {
  if answers 5432; then log "postgresql: running"; return; fi
  log "postgresql: installing and starting it on 127.0.0.1:5432"
  dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q 'install ok installed' || apt_install postgresql
  local version hba
  version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  # The tests connect as postgres over TCP without a password, as on the project's machines.
  grep -q '^host all all 127.0.0.1/32 trust' "$hba" || sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster "$version" main start 2>/dev/null || pg_ctlcluster "$version" main restart
  for _ in $(seq 30); do answers 5432 && return; sleep 1; done
  die "postgresql did not come up on 127.0.0.1:5432"
}

ensure_mariadb() {
  if answers 3306; then log "mariadb: running"; return; fi
  log "mariadb: installing and starting it on 127.0.0.1:3306"
  dpkg-query -W -f='${Status}' mariadb-server 2>/dev/null | grep -q 'install ok installed' || apt_install mariadb-server
  service mariadb start >&2 || (mkdir -p /run/mysqld && chown mysql: /run/mysqld &&
    (mysqld_safe --bind-address=127.0.0.1 >/var/log/ops-rollback-mariadb.log 2>&1 &))
  for _ in $(seq 30); do answers 3306 && break; sleep 1; done
  answers 3306 || die "mariadb did not come up on 127.0.0.1:3306"
  # root over TCP with an empty password, as on the project's machines.
  mariadb -uroot -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');
    CREATE USER IF NOT EXISTS root@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;"
}

install_packages
ensure_dockerd
ensure_postgresql
ensure_mariadb
VENV=$(venv_path)
ensure_venv "$VENV"
ensure_collection_link
write_env "$VENV"

if [ "$mode" = print-env ]; then
  cat "$CACHE/env.sh"
else
  echo "$VENV"
fi
