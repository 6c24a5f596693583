#!/usr/bin/env python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/ecs.py [--desired N] [--tick S] [--rounds R]: ecs_revert against the same
rollback written directly in boto3, on the same moto server and simulated ECS
scheduler (lab/aws/ecs_simulator.py).

Each round deploys v2 over v1 and waits, then times one rollback to v1 by:
  - boto3:      update_service to v1's task definition ARN + the stock
                services_stable waiter, polling as often as ecs_revert does
  - ecs_revert: the module as Ansible runs it (a python process with the
                module's arguments): history, target, ledger, update, and the
                wait until the deployment is the only one and COMPLETED
Both run as their own python process, interleaved, and the medians and their
ratio are printed. The scheduler starts one task per tick (--tick, default
0.5 s), so a rollout of --desired tasks (default 10) takes about 2 x desired x
tick seconds; the real ECS takes minutes. Timings stay here; no test asserts on them.

Run it in the env of scripts/setup.sh --print-env.
"""
import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time

import boto3
from moto.server import ThreadedMotoServer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.join(REPO, 'lab', 'aws'))
from ecs_simulator import EcsSimulator  # noqa: E402  (the lab's module, not a package)

REGION = 'eu-west-1'
CREDENTIALS = {'AWS_ACCESS_KEY_ID': 'testing', 'AWS_SECRET_ACCESS_KEY': 'testing', 'AWS_DEFAULT_REGION': REGION}

RAW = '''
import sys, boto3
from ansible_collections.ops.rollback.plugins.module_utils.ecs.driver import POLL_SECONDS
ecs = boto3.client('ecs', endpoint_url=sys.argv[1], region_name='{region}')
ecs.update_service(cluster='bench', service='web', taskDefinition=sys.argv[2])
ecs.get_waiter('services_stable').wait(cluster='bench', services=['web'],
                                       WaiterConfig={{'Delay': POLL_SECONDS, 'MaxAttempts': 300}})
'''.format(region=REGION)

MODULE = '''
import json, sys
from ansible.module_utils.testing import patch_module_args
from ansible_collections.ops.rollback.plugins.modules import ecs_revert
with patch_module_args(json.loads(sys.argv[1])):
    ecs_revert.main()
'''


class Server:
    """The moto server as EcsSimulator expects it: ``client(api)``."""

    def __init__(self, url):
        self.url = url

    def client(self, api):
        return boto3.client(api, endpoint_url=self.url, region_name=REGION)


def seconds(argv, env):
    started = time.monotonic()
    run = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    took = time.monotonic() - started
    if run.returncode:
        sys.exit('bench: {0} failed:\n{1}'.format(argv[:3], run.stdout))
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--desired', type=int, default=10)
    parser.add_argument('--tick', type=float, default=0.5)
    parser.add_argument('--rounds', type=int, default=3)
    options = parser.parse_args()
    os.environ.update(CREDENTIALS)
    logging.getLogger('werkzeug').setLevel(logging.ERROR)   # one line per request otherwise
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
    server.start()
    url = 'http://127.0.0.1:{0}'.format(server._server.server_port)
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, '.collections'))
    times = {'boto3': [], 'ecs_revert': []}
    try:
        with EcsSimulator(Server(url), tick=options.tick) as ecs:
            ecs.cluster('bench')
            v1 = ecs.task_definition('web', 'registry.example/web:v1')
            v2 = ecs.task_definition('web', 'registry.example/web:v2')
            ecs.service('bench', 'web', v1, desired=options.desired)
            args = json.dumps({'cluster': 'bench', 'service': 'web', 'version': 'v1', 'endpoint_url': url,
                               'region': REGION, 'wait_timeout': 600})
            for _round in range(options.rounds):
                for what in ('boto3', 'ecs_revert'):
                    ecs.deploy('bench', 'web', v2, wait=False)
                    ecs.settle('bench', 'web', timeout=600)
                    argv = [sys.executable, '-c', RAW, url, v1] if what == 'boto3' else \
                        [sys.executable, '-c', MODULE, args]
                    times[what].append(round(seconds(argv, env), 2))
                    ecs.settle('bench', 'web', timeout=600)
    finally:
        server.stop()
    raw, module = statistics.median(times['boto3']), statistics.median(times['ecs_revert'])
    print('ECS rollback of {0} tasks, one task started per {1} s, median of {2} rounds:'.format(
        options.desired, options.tick, options.rounds))
    print('  boto3 update_service + services_stable: {0:6.2f} s  {1}'.format(raw, times['boto3']))
    print('  ecs_revert:                             {0:6.2f} s  {1}'.format(module, times['ecs_revert']))
    print('  ratio ecs_revert / boto3: {0:.2f}x'.format(module / raw))


if __name__ == '__main__':
    main()
