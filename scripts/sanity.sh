#!/usr/bin/env bash
# scripts/sanity.sh: ansible-lint and ansible-test sanity for ops.rollback,
# both with no ignore entries, runnable offline (only PyPI is needed, for the
# requirements of ansible-test's own sanity virtualenvs).
#
#   0. No ignore entries: tests/sanity/ignore-*.txt and .ansible-lint-ignore
#      may not list any (comments and blank lines only, if they exist).
#   1. ansible-lint, from the repository root: production profile, config in
#      .ansible-lint (offline: it never asks Galaxy for anything).
#   2. ansible-test sanity --python X.Y (the venv's Python, 3.11), locally
#      (no containers), in a copy of the collection at
#      $CACHE/sanity/ansible_collections/ops/rollback (ansible-test needs
#      that path layout). The copy holds the collection's own files only:
#      no .git, .collections, .ansible, tests/output, caches, nor anything
#      .gitignore names. ansible-test takes every file of a tree without .git.
#
# ansible-test bootstraps pip in each sanity virtualenv with a get-pip script
# from a host that is not reachable here. Step 2 first writes a stand-in at
# ~/.ansible/test/cache/get_pip_<pip version>.py (the path ansible-test looks
# for before it downloads): it runs `pip install <its arguments>` in the new
# virtualenv with the pip of the Python that runs ansible-test (ensurepip's
# bundled pip when that is missing).
#
# Environment: the project venv, from `scripts/setup.sh --print-env`, unless a
# venv with ansible-lint and ansible-test is already active.
# CACHE is ${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}.
#
# Usage:
#   scripts/sanity.sh                 both tools
#   scripts/sanity.sh lint            ansible-lint only
#   scripts/sanity.sh sanity [ARGS]   ansible-test sanity only; ARGS are
#                                     passed on (e.g. --test pylint)
# Exits non-zero when either tool reports a finding.
set -euo pipefail

what=all
case "${1:-}" in
  "") ;;
  lint) what=lint; shift ;;
  sanity) what=sanity; shift ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  *) echo "usage: $0 [lint | sanity [ansible-test options]]" >&2; exit 2 ;;
esac

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$REPO"

log() { echo "sanity: $*" >&2; }
run() { echo "+ $*" >&2; "$@"; }

# --- environment ----------------------------------------------------------
if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/ansible-test" ] && [ -x "$VIRTUAL_ENV/bin/ansible-lint" ]; then
  log "using the active venv $VIRTUAL_ENV"
  case ":$PATH:" in *":$VIRTUAL_ENV/bin:"*) ;; *) export PATH="$VIRTUAL_ENV/bin:$PATH" ;; esac
else
  eval "$("$REPO/scripts/setup.sh" --print-env)"
fi
CACHE=${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}
mkdir -p "$CACHE"
PYTHON=$VIRTUAL_ENV/bin/python
PY_VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

export ANSIBLE_NOCOLOR=1 NO_COLOR=1 PY_COLORS=0

status=0

# --- 0. no ignore entries -----------------------------------------------------
# Findings are fixed, not listed: an ignore file with entries is a failure.
check_no_ignores() {
  local f found=0
  for f in tests/sanity/ignore-*.txt .ansible-lint-ignore; do
    [ -f "$f" ] || continue
    if grep -Eqv '^[[:space:]]*(#|$)' "$f"; then
      log "ERROR: $f has ignore entries; fix the findings instead:"
      grep -Ev '^[[:space:]]*(#|$)' "$f" >&2
      found=1
    fi
  done
  [ "$found" -eq 0 ] || status=1
}

# --- 1. ansible-lint --------------------------------------------------------
run_lint() {
  # ansible.cfg's collections_path finds this checkout by FQCN through this link
  # (scripts/setup.sh makes it; an already active venv may have skipped that).
  local link="$REPO/.collections/ansible_collections/ops/rollback"
  if [ ! -L "$link" ] || [ "$(readlink "$link")" != "../../.." ]; then
    mkdir -p "$(dirname "$link")"
    rm -rf "$link"
    ln -s ../../.. "$link"
  fi
  local start=$SECONDS rc=0
  log "ansible-lint $(ansible-lint --version 2>/dev/null | head -n 1)"
  run env ANSIBLE_COLLECTIONS_PATH="$REPO/.collections" \
    ansible-lint --offline --profile production --nocolor || rc=$?
  log "ansible-lint: exit $rc after $((SECONDS - start)) s"
  [ "$rc" -eq 0 ] || status=1
}

# --- 2. ansible-test sanity -------------------------------------------------
write_get_pip_stand_in() {
  local pip_version pip_source path tmp
  pip_version=$("$PYTHON" - <<'EOF'
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
import sys
print(get_venv_packages(SimpleNamespace(version='%d.%d' % sys.version_info[:2]))['pip'])
EOF
)
  pip_source=$("$PYTHON" -c 'import os, pip; print(os.path.dirname(os.path.dirname(os.path.realpath(pip.__file__))))' 2>/dev/null || true)
  path="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp" <<EOF
"""Stand-in for ansible-test's get-pip.py: written by ops.rollback's scripts/sanity.sh.

ansible-test runs it as __main__, through its quiet_pip.py, with the Python of a
new sanity virtualenv that has no pip yet, and get-pip.py's arguments, e.g.
  --disable-pip-version-check pip==$pip_version --no-setuptools --no-wheel
It runs \`pip install\` with them into that virtualenv, taking pip itself from
PIP_SOURCE (site-packages of the Python that runs ansible-test) or, when that has
gone, from ensurepip's bundled wheel. Nothing is fetched but the packages named.
"""
import os
import runpy
import shutil
import subprocess
import sys
import tempfile

PIP_SOURCE = '$pip_source'
GET_PIP_ONLY = ('--no-setuptools', '--no-wheel', '--no-pip')


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    tmp = tempfile.mkdtemp(prefix='get-pip-')
    try:
        pip_dir = os.path.join(PIP_SOURCE, 'pip')
        if os.path.isabs(pip_dir) and os.path.isfile(os.path.join(pip_dir, '__init__.py')):
            # Only pip itself goes on sys.path, not the rest of that site-packages.
            os.symlink(pip_dir, os.path.join(tmp, 'pip'))
            sys.path.insert(0, tmp)
        else:
            subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
        sys.argv = ['pip', 'install', '--upgrade'] + args
        runpy.run_module('pip', run_name='__main__', alter_sys=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
EOF
  if cmp -s "$tmp" "$path"; then rm -f "$tmp"; else mv "$tmp" "$path"; log "wrote $path"; fi
  # A failed download leaves an empty .download file behind; it is never read.
  rm -f "$path.download"
}

sync_collection() {
  local dest=$1
  mkdir -p "$dest"
  # .gitignore's patterns (dir-merge) plus what is not collection content.
  run rsync -a --delete --delete-excluded \
    --exclude=/.git --exclude=/.collections --exclude=/.ansible \
    --exclude=/tests/output --exclude=__pycache__ --exclude=.pytest_cache \
    --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.tox --exclude=.molecule \
    --filter=':- .gitignore' \
    "$REPO/" "$dest/"
}

run_sanity() {
  local root="$CACHE/sanity/ansible_collections/ops/rollback" start=$SECONDS rc=0
  # Without it ansible-test skips the shellcheck test with a mere warning.
  if ! command -v shellcheck >/dev/null; then
    log "ERROR: shellcheck is missing (scripts/setup.sh installs it)"
    status=1
    return
  fi
  write_get_pip_stand_in
  sync_collection "$root"
  log "ansible-test $(ansible-test --version 2>/dev/null)"
  (cd "$root" && run ansible-test sanity --python "$PY_VERSION" --color no "$@") || rc=$?
  log "ansible-test sanity: exit $rc after $((SECONDS - start)) s"
  [ "$rc" -eq 0 ] || status=1
}

check_no_ignores
[ "$what" = sanity ] || run_lint
[ "$what" = lint ] || run_sanity "$@"

if [ "$status" -ne 0 ]; then
  log "FAILED: see the findings above"
else
  log "passed: no findings"
fi
exit "$status"
