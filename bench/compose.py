#!/usr/bin/env python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/compose.py [--rounds R] [--port P]: compose_rollback against the same rollback by hand
with docker-compose, on the local engine with the test images of
tests/integration/compose_support.py (built when missing).

Each round deploys v2 (APP_VERSION=v2 in .env, docker-compose up -d) and waits until healthy,
then times one rollback to v1 by:
  - raw:    APP_VERSION=v1 in .env, docker-compose up -d, then docker inspect every
            0.5 s (compose_rollback's poll) until the container runs v1 and is healthy
  - module: compose_rollback as Ansible runs it (a python process with the module's
            arguments): engine check, history, target, plan (every service's, before
            anything changes), lock, pin file, up -d --no-deps, the same wait
Both run interleaved, and the medians and their ratio are printed. The raw way pins a
tag; the module pins the image ID (and keeps the previous pin, the ledger, the lock).
Timings stay here; no test asserts on them.

Run it in the env of scripts/setup.sh --print-env.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))
import compose_support as cs  # noqa: E402  (the tests' helpers, not a package)

MODULE = '''
import json, sys
from ansible.module_utils.testing import patch_module_args
from ansible_collections.ops.rollback.plugins.modules import compose_rollback
with patch_module_args(json.loads(sys.argv[1])):
    compose_rollback.main()
'''


def healthy_at(project, image):
    while True:
        containers = project.containers('app')
        state = containers[0]['State'] if containers else {}
        if containers and containers[0]['Image'] == image and (state.get('Health') or {}).get('Status') == 'healthy':
            return
        time.sleep(0.5)


def reset(project, images):
    override = os.path.join(project.src, 'docker-compose.ops-rollback.yml')
    if os.path.exists(override):
        os.unlink(override)
    shutil.rmtree(os.path.join(project.src, '.ops-rollback'), ignore_errors=True)
    project.write_env({'APP_VERSION': 'v2'})
    project.up()
    healthy_at(project, images['v2'])


def raw(project, images):
    started = time.monotonic()
    project.write_env({'APP_VERSION': 'v1'})
    project.up()
    healthy_at(project, images['v1'])
    return time.monotonic() - started


def module(project, images):
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, '.collections'))
    args = json.dumps({'project_src': project.src, 'version': 'v1', 'pin': 'override'})
    started = time.monotonic()
    proc = subprocess.run([sys.executable, '-c', MODULE, args], env=env, stdout=subprocess.PIPE, text=True,
                          check=False)
    took = time.monotonic() - started
    result = json.loads(proc.stdout)
    if result.get('failed') or project.running_image('app') != [images['v1']]:
        raise SystemExit('compose_rollback failed: {0}'.format(result.get('msg')))
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--port', type=int, default=18790)
    options = parser.parse_args()
    images = cs.build_all()
    root = tempfile.mkdtemp(prefix='bench-compose-')
    project = cs.Project(root, 'opsrbcbench', {'app': options.port}, env={'APP_VERSION': 'v2'})
    times = {'raw': [], 'module': []}
    try:
        for _round in range(options.rounds):
            for name, run in (('raw', raw), ('module', module)):
                reset(project, images)
                times[name].append(run(project, images))
                print('{0:7s} {1:6.2f} s'.format(name, times[name][-1]), flush=True)
    finally:
        project.remove()
        shutil.rmtree(root, ignore_errors=True)
    raw_median, module_median = statistics.median(times['raw']), statistics.median(times['module'])
    print('docker-compose up -d (pinned tag) + wait healthy: median {0:.2f} s'.format(raw_median))
    print('compose_rollback:                                 median {0:.2f} s'.format(module_median))
    print('ratio: {0:.2f}x'.format(module_median / raw_median))


if __name__ == '__main__':
    main()
