#!/usr/bin/env python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/swarm.py [--replicas N] [--rounds R]: swarm_rollback against `docker service update --rollback`,
on the local engine's single-node swarm (initialised when inactive, and left so).

Each round deploys v2 over v1 (`docker service update --image`, waited on), then times one rollback to
v1 by:
  - cli:    `docker service update --rollback --quiet <service>`, which waits until the service
            converged (its progress monitor, without --detach)
  - module: swarm_rollback as Ansible runs it (a python process with the module's arguments):
            history, target, the engine's rollback=previous, and the wait until the update status is
            rollback_completed and every task runs v1
Both are the engine's rollback to the PreviousSpec, with the same rollback settings (parallelism 1,
delay 0, monitor 1 s). They run interleaved, each as its own process, and the medians and their
ratio are printed. The images are tests/integration/docker_support.py's (built when missing).
Timings stay here; no test asserts on them.

Run it in the env of scripts/setup.sh --print-env.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))
from docker_support import APP, docker, ensure_images, ensure_swarm  # noqa: E402  (beside the tests, not a package)

SERVICE = 'ops-rb-bench-swarm'

MODULE = '''
import json, sys
sys.path.insert(0, {collections!r})
from ansible.module_utils.testing import patch_module_args
from ansible_collections.ops.rollback.plugins.modules import swarm_rollback
with patch_module_args(json.loads(sys.argv[1])):
    swarm_rollback.main()
'''.format(collections=os.path.join(REPO, '.collections'))


def timed(argv):
    started = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if out.returncode != 0:
        sys.exit('failed: {0}\n{1}{2}'.format(' '.join(argv[:4]), out.stdout, out.stderr))
    return elapsed, out.stdout


def image(tag):
    return '{0}:{1}'.format(APP, tag)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--replicas', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    ensure_swarm()
    ensure_images()
    docker('service', 'rm', SERVICE, check=False)
    docker('config', 'rm', 'ops-rollback-ledger.' + SERVICE, 'ops-rollback-lock.' + SERVICE, check=False)
    docker('service', 'create', '--quiet', '--name', SERVICE, '--replicas', str(args.replicas),
           '--update-parallelism', '1', '--update-delay', '0s', '--update-monitor', '1s',
           '--rollback-parallelism', '1', '--rollback-delay', '0s', '--rollback-monitor', '1s', image('v1'))
    times = {'cli': [], 'module': []}
    try:
        for round_ in range(args.rounds):
            for how in (('cli', 'module') if round_ % 2 == 0 else ('module', 'cli')):
                docker('service', 'update', '--quiet', '--image', image('v2'), SERVICE)
                if how == 'cli':
                    elapsed, _out = timed(['docker', 'service', 'update', '--rollback', '--quiet', SERVICE])
                else:
                    elapsed, out = timed([sys.executable, '-c', MODULE, json.dumps({'name': SERVICE})])
                    result = json.loads(out)
                    assert result['method'] == 'engine-rollback' and result['to_version'] == 'v1', result
                running = docker('service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Image}}',
                                 SERVICE).stdout.split()
                assert running == [image('v1')] * args.replicas, running
                times[how].append(elapsed)
                print('round {0} {1:6} {2:6.2f} s'.format(round_ + 1, how, elapsed), flush=True)
    finally:
        docker('service', 'rm', SERVICE, check=False)
        docker('config', 'rm', 'ops-rollback-ledger.' + SERVICE, 'ops-rollback-lock.' + SERVICE, check=False)
    cli, module = statistics.median(times['cli']), statistics.median(times['module'])
    print('replicas {0}, {1} rounds: docker service update --rollback {2:.2f} s, swarm_rollback {3:.2f} s, '
          'ratio {4:.2f}'.format(args.replicas, args.rounds, cli, module, module / cli))


if __name__ == '__main__':
    main()
