#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root:
#   setup (apt, dockerd, venv, lab image, Kubernetes control plane built from
#   Debian's source package) -> ansible-lint + ansible-test sanity -> molecule
#   scenarios `symlink`, `kubernetes`, `ecs`, `swarm` and `compose` -> pytest (unit, then integration on
#   the lab and the control plane). Stop at the first failing stage. The lab, the control
#   plane, the ECS lab (scripts/aws-lab.sh) and the Docker lab's service and
#   project (scripts/docker-lab.sh down) are removed at the end.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"
eval "$(scripts/setup.sh --print-env)"
export ANSIBLE_CONFIG="$REPO/ansible.cfg"

stage() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
trap 'scripts/lab.sh down >/dev/null 2>&1 || true; scripts/kube.sh down >/dev/null 2>&1 || true; scripts/aws-lab.sh down >/dev/null 2>&1 || true; scripts/docker-lab.sh down >/dev/null 2>&1 || true' EXIT

# A drill's alerting chain (scripts/alerting.sh) would roll back the broken
# builds the tests deploy on the lab: stop it first.
scripts/alerting.sh down >/dev/null 2>&1 || true

stage "Lab image"
scripts/lab.sh image

stage "Kubernetes control plane (built once per machine, cached)"
scripts/kube.sh up >/dev/null

stage "ansible-lint and ansible-test sanity"
scripts/sanity.sh

# molecule keeps a scenario's state (such as "prepared") in ~/.ansible/tmp
# between runs of the same checkout path; our sequences have no create or
# destroy to reset it, so a second run would skip prepare. Start clean.
stage "Molecule scenario: symlink"
molecule reset -s symlink >/dev/null 2>&1 || true
molecule test -s symlink

stage "Molecule scenario: kubernetes"
molecule reset -s kubernetes >/dev/null 2>&1 || true
molecule test -s kubernetes

stage "Molecule scenario: ecs"
molecule reset -s ecs >/dev/null 2>&1 || true
molecule test -s ecs
scripts/aws-lab.sh down >/dev/null

stage "Molecule scenario: swarm"
molecule reset -s swarm >/dev/null 2>&1 || true
molecule test -s swarm

stage "Molecule scenario: compose"
molecule reset -s compose >/dev/null 2>&1 || true
molecule test -s compose

stage "pytest: unit and integration"
python -m pytest -p no:cacheprovider tests/unit tests/integration
