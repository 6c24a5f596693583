# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ECS lab: moto's AWS APIs with the ECS deployment scheduler moto lacks, on 127.0.0.1.

One long-running process (``scripts/aws-lab.sh up`` starts it in the
background) serves, on one port:

* every AWS API moto has (ECS, SSM, ELBv2, EC2, CloudFront, Route53, ...),
  reached with ``endpoint_url`` (any access key; the lab uses ``testing``),
  with ECS deployments that roll out, fail and complete as in AWS
  (ecs_simulator.py);
* ``GET /lab/status/<cluster>/<service>``: what a user would read of the
  service in the console, as JSON, read through the ECS and SSM APIs of this
  server: the ``version`` (the image tag of the PRIMARY deployment's
  container), ``task_definition`` (``family:revision``), ``rollout_state``,
  ``deployments`` (how many), ``running``/``desired``, ``steady`` (one
  deployment, COMPLETED, every desired task running), the ``ledger`` of the
  service's tags (``{version: good|bad}``) and the rollback ``lock`` (the SSM
  parameter's holder, or null). The lab's services serve no HTTP of their
  own, so this is what the lab inventory's verify phase checks;
  ``?container=NAME`` picks the container of a task definition with several;
* ``POST /lab/seed``: moto reset, then the classic 3 a.m. state: cluster
  ``lab``, service ``web`` (2 tasks) deployed with task definitions web:1
  (``registry.example/web:v1``) and web:2 (v2) in turn, then web:3 (v3),
  whose container exits at once, deployed last without a circuit breaker:
  its rollout stays IN_PROGRESS, its tasks failing, the v2 tasks serving;
* ``GET /lab/health``: 200 once the server answers.

Like AWS, which shows a stopped task for about an hour, the lab forgets all
but the newest stopped tasks of a cluster, so that a broken rollout left
running for days stays cheap.

Run: ecs_lab.py [--host 127.0.0.1] [--port 14566] [--region eu-west-1]
"""
from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import urllib.parse
import urllib.request

import boto3
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from ecs_simulator import EcsSimulator

LEDGER_TAG = 'ops.rollback/verdict/'
LOCK_PARAMETER = '/ops-rollback/lock/ecs/{0}/{1}'
KEEP_STOPPED_TASKS = 100
IMAGE = 'registry.example/web:{0}'


class Aws:
    """boto3 clients of one AWS endpoint (the lab's own, or the moto server of a test)."""

    def __init__(self, url, region, access_key='testing', secret_key='testing'):
        self.url = url
        self.region = region
        self.keys = dict(aws_access_key_id=access_key, aws_secret_access_key=secret_key)

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, region_name=self.region, **self.keys)


def version_of(image):
    """The version an image names: its tag (``v2``), or its digest (``sha256:...``)."""
    if '@' in image:
        return image.split('@', 1)[1]
    name = image.rsplit('/', 1)[-1]
    return name.split(':', 1)[1] if ':' in name else 'latest'


def service_status(aws, cluster, service, container=None):
    """What a user reads of an ECS service: its version, rollout, tasks, ledger and lock; None if it is not there."""
    ecs, ssm = aws.client('ecs'), aws.client('ssm')
    try:
        found = ecs.describe_services(cluster=cluster, services=[service], include=['TAGS'])['services']
    except ecs.exceptions.ClusterNotFoundException:
        return None
    if not found or found[0].get('status') != 'ACTIVE':
        return None
    described = found[0]
    deployments = described.get('deployments') or []
    primary = deployments[0] if deployments else {}
    arn = primary.get('taskDefinition') or described['taskDefinition']
    definition = ecs.describe_task_definition(taskDefinition=arn)['taskDefinition']
    containers = definition['containerDefinitions']
    chosen = [c for c in containers if c['name'] == container] if container else containers[:1]
    tags = described.get('tags')
    if tags is None:
        tags = ecs.list_tags_for_resource(resourceArn=described['serviceArn'])['tags']
    ledger = dict((t['key'][len(LEDGER_TAG):], t['value'].split(' ')[0]) for t in tags
                  if t['key'].startswith(LEDGER_TAG))
    try:
        lock = json.loads(ssm.get_parameter(Name=LOCK_PARAMETER.format(cluster, service))['Parameter']['Value'])
    except ssm.exceptions.ParameterNotFound:
        lock = None
    except ValueError:
        lock = '(unreadable)'
    rollout = primary.get('rolloutState')
    running, desired = primary.get('runningCount', 0), described.get('desiredCount', 0)
    return {
        'cluster': cluster,
        'service': service,
        'version': version_of(chosen[0]['image']) if chosen else None,
        'images': dict((c['name'], c['image']) for c in containers),
        'task_definition': '{0}:{1}'.format(definition['family'], definition['revision']),
        'rollout_state': rollout,
        'rollout_state_reason': primary.get('rolloutStateReason'),
        'deployments': len(deployments),
        'running': running,
        'desired': desired,
        'failed_tasks': primary.get('failedTasks', 0),
        'steady': len(deployments) == 1 and rollout == 'COMPLETED' and running == desired,
        'ledger': ledger,
        'lock': lock,
    }


def status_response(aws, path, query):
    """``(HTTP status, JSON body)`` of a GET on ``/lab/status/<cluster>/<service>``."""
    match = re.match(r'^/lab/status/([^/]+)/([^/]+)/?$', path)
    if not match:
        return 404, {'error': 'not found: GET /lab/status/<cluster>/<service>'}
    cluster, service = (urllib.parse.unquote(part) for part in match.groups())
    container = (urllib.parse.parse_qs(query).get('container') or [None])[0]
    status = service_status(aws, cluster, service, container)
    if status is None:
        return 404, {'error': 'no ECS service {0} in cluster {1}'.format(service, cluster)}
    return 200, status


class Lab:
    """moto, the ECS scheduler and the lab's own routes, in this process."""

    def __init__(self, host, port, region, tick):
        self.moto_app = DomainDispatcherApplication(create_backend_app)
        self.server = make_server(host, port, self.app, threaded=True, request_handler=MotoRequestHandler)
        self.url = 'http://{0}:{1}'.format(host, self.server.server_address[1])
        self.aws = Aws(self.url, region)
        self.simulator = PruningSimulator(self.aws, tick=tick)
        self.seeding = threading.Lock()

    def client(self, service):
        return self.aws.client(service)

    def app(self, environ, start_response):
        path = environ.get('PATH_INFO') or ''
        if not path.startswith('/lab/'):
            return self.moto_app(environ, start_response)
        method = environ.get('REQUEST_METHOD')
        try:
            if path == '/lab/health':
                code, body = 200, {'ok': True, 'url': self.url}
            elif path == '/lab/seed' and method == 'POST':
                code, body = 200, self.seed()
            elif path.startswith('/lab/status/') and method == 'GET':
                code, body = status_response(self.aws, path, environ.get('QUERY_STRING') or '')
            else:
                code, body = 404, {'error': 'not found: {0} {1}'.format(method, path)}
        except Exception as exc:  # the lab says what broke instead of hanging up
            code, body = 500, {'error': '{0}: {1}'.format(type(exc).__name__, exc)}
        data = json.dumps(body, indent=1, sort_keys=True, default=str).encode() + b'\n'
        reason = {200: 'OK', 404: 'Not Found', 500: 'Internal Server Error'}[code]
        start_response('{0} {1}'.format(code, reason), [('Content-Type', 'application/json'),
                                                        ('Content-Length', str(len(data)))])
        return [data]

    def seed(self):
        """Reset moto, then service web of cluster lab at v1, v2, then the broken v3 stuck IN_PROGRESS."""
        with self.seeding:
            request = urllib.request.Request(self.url + '/moto-api/reset', method='POST')
            urllib.request.urlopen(request, timeout=30).read()
            sim = self.simulator
            with sim.lock:
                sim.broken.clear()
                sim.held.clear()
            sim.cluster('lab')
            arns = dict((v, sim.task_definition('web', IMAGE.format(v), container='web')) for v in ('v1', 'v2', 'v3'))
            sim.service('lab', 'web', arns['v1'], desired=2)
            sim.deploy('lab', 'web', arns['v2'], timeout=60)
            sim.break_image(IMAGE.format('v3'), reason='exec /app/server: exec format error', exit_code=1)
            sim.deploy('lab', 'web', arns['v3'], wait=False)
            # Stuck for good: the first v3 task has failed, the v2 tasks keep serving.
            sim.wait('lab', 'web', lambda s: s['deployments'][0].get('failedTasks', 0) >= 1, timeout=60)
            return service_status(self.aws, 'lab', 'web')

    def serve(self):
        with self.simulator:
            self.server.serve_forever()


class PruningSimulator(EcsSimulator):
    """The simulator, forgetting all but the newest stopped tasks of each cluster."""

    def deploy(self, cluster, service, task_definition, wait=True, timeout=10):
        self.ecs.update_service(cluster=cluster, service=service, taskDefinition=task_definition)
        return self.settle(cluster, service, timeout) if wait else self.describe(cluster, service)

    def tick(self):
        super().tick()
        with self.lock:
            for backend in list(self.backends):
                for tasks in backend.tasks.values():
                    stopped = [arn for arn, task in tasks.items() if task.last_status == 'STOPPED']
                    for arn in stopped[:-KEEP_STOPPED_TASKS]:
                        del tasks[arn]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=14566)
    parser.add_argument('--region', default='eu-west-1', help='the region seed creates the services in')
    parser.add_argument('--tick', type=float, default=0.2, help='seconds between two steps of the ECS scheduler')
    args = parser.parse_args(argv)
    lab = Lab(args.host, args.port, args.region, args.tick)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=lab.server.shutdown, daemon=True).start())
    print('ecs lab: serving AWS APIs (moto {0}) and /lab/status on {1}'.format(
        getattr(sys.modules.get('moto'), '__version__', '?'), lab.url), flush=True)
    lab.serve()
    print('ecs lab: stopped', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
