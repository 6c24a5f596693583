#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root:
#   setup (apt, dockerd, venv, lab image) -> ansible-lint + ansible-test sanity
#   -> molecule scenario `symlink` -> pytest (unit, then integration on the lab).
# Stop at the first failing stage. The lab is removed at the end.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
eval "$(scripts/setup.sh --print-env)"
export ANSIBLE_CONFIG="$REPO/ansible.cfg"

stage() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
trap 'scripts/lab.sh down >/dev/null 2>&1 || true' EXIT

stage "Lab image"
scripts/lab.sh image

stage "ansible-lint and ansible-test sanity"
scripts/sanity.sh

stage "Molecule scenario: symlink"
molecule test -s symlink

stage "pytest: unit and integration"
python -m pytest -p no:cacheprovider tests/unit tests/integration
