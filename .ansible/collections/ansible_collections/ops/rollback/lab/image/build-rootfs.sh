#!/usr/bin/env bash
# lab/image/build-rootfs.sh TARGET: build the lab hosts' root filesystem.
#
# Called by `scripts/lab.sh image`, which hashes lab/image/* (this file and
# packages.txt) into the image tag, caches the result as a tarball and
# imports it with `docker import`. Runs as root; TARGET must not exist or
# be empty. debootstrap keeps daemons from starting while it installs.
set -euo pipefail

target=${1:?usage: build-rootfs.sh TARGET}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
suite=bookworm
mirror=${OPS_ROLLBACK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
include=$(grep -v '^[[:space:]]*#' "$here/packages.txt" | xargs | tr ' ' ',')

debootstrap --variant=minbase --include="$include" "$suite" "$target" "$mirror"

# sshd: keys only, root allowed, no DNS lookups. The drop-in is read
# before the main sshd_config, so its values win.
chroot "$target" ssh-keygen -A
cat >"$target/etc/ssh/sshd_config.d/ops-rollback-lab.conf" <<'CONF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
CONF
# In a container without CAP_AUDIT_CONTROL pam_loginuid cannot always set
# the login uid; make it optional so key logins do not get closed.
sed -i 's/^session[[:space:]]\+required[[:space:]]\+pam_loginuid\.so/session optional pam_loginuid.so/' \
  "$target/etc/pam.d/sshd"
mkdir -p "$target/run/sshd" "$target/root/.ssh"
chmod 0755 "$target/run/sshd"
chmod 0700 "$target/root/.ssh"

# Keep it small: no apt caches or lists, no docs.
chroot "$target" apt-get clean
rm -rf "$target"/var/lib/apt/lists/* "$target"/var/cache/apt/*.bin \
       "$target"/var/cache/debconf/*-old "$target"/var/log/*.log \
       "$target"/usr/share/doc/* "$target"/usr/share/man/* "$target"/usr/share/info/*
# Docker provides these per container.
: >"$target/etc/hostname"
rm -f "$target/etc/machine-id"
