# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS connection every AWS module shares (module_utils/aws/client.py), against moto's HTTP
server. Where moto cannot answer as AWS does: throttling comes from a small local endpoint that
answers as AWS documents (so botocore's real retries run), refused credentials and denied access
from botocore's Stubber."""
from __future__ import annotations

import http.server
import json
import socket
import threading

import pytest
from botocore.stub import Stubber

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
)
from ansible_collections.ops.rollback.plugins.module_utils.aws.client import AwsClient


def test_calls_reach_the_aws_api_over_http(moto):
    moto.client('ecs').create_cluster(clusterName='prod')
    aws = AwsClient.connect(**moto.params())
    clusters = aws.call('describe ECS cluster prod', 'ecs', 'describe_clusters', clusters=['prod'])['clusters']
    assert [c['clusterName'] for c in clusters] == ['prod']
    assert aws.region == moto.REGION


def test_pages_gathers_every_page(moto):
    ecs = moto.client('ecs')
    for number in range(1, 6):
        ecs.register_task_definition(family='web', containerDefinitions=[
            {'name': 'web', 'image': 'shop/web:v1.{0}'.format(number), 'memory': 64}])
    aws = AwsClient.connect(**moto.params())
    arns = aws.pages('list revisions', 'ecs', 'list_task_definitions', 'taskDefinitionArns', familyPrefix='web',
                     PaginationConfig={'PageSize': 2})
    assert [arn.rsplit(':', 1)[1] for arn in arns] == ['1', '2', '3', '4', '5']


def test_a_missing_resource_is_not_found_and_says_what_was_asked(moto):
    aws = AwsClient.connect(**moto.params())
    with pytest.raises(NotFoundError) as caught:
        aws.call('read SSM parameter /ops-rollback/lock/web', 'ssm', 'get_parameter', Name='/ops-rollback/lock/web')
    assert 'read SSM parameter /ops-rollback/lock/web' in caught.value.msg
    assert caught.value.details['code'] == 'ParameterNotFound'


def test_no_region_fails_before_any_call(monkeypatch):
    for name in ('AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', 'AWS_CONFIG_FILE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('AWS_CONFIG_FILE', '/nonexistent')
    with pytest.raises(InvalidInputError, match='No AWS region: pass region='):
        AwsClient.connect(access_key='a', secret_key='b')


def test_half_a_key_pair_is_refused():
    with pytest.raises(InvalidInputError, match='Pass both access_key= and secret_key='):
        AwsClient.connect(region='eu-west-1', access_key='AKIAEXAMPLE')


def test_an_unknown_profile_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv('AWS_CONFIG_FILE', str(tmp_path / 'config'))
    (tmp_path / 'config').write_text('[profile prod]\nregion = eu-west-1\n')
    with pytest.raises(InvalidInputError, match='stagin.*check profile='):
        AwsClient.connect(profile='stagin')


def test_an_unreachable_endpoint_says_so():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        closed = sock.getsockname()[1]   # nothing listens once the socket is closed
    aws = AwsClient.connect(region='eu-west-1', endpoint_url='http://127.0.0.1:{0}'.format(closed),
                            access_key='a', secret_key='b', max_attempts=1)
    with pytest.raises(RollbackError, match='cannot reach the AWS API') as caught:
        aws.call('describe ECS service web', 'ecs', 'describe_services', cluster='prod', services=['web'])
    assert caught.value.details['reason'] == 'unreachable'


def _stubbed(moto):
    aws = AwsClient.connect(**moto.params())
    return aws, Stubber(aws.client('ecs'))


class ThrottlingEcs(http.server.BaseHTTPRequestHandler):
    """An ECS endpoint that throttles the first ``throttled`` requests as AWS does (moto never
    throttles, and botocore's Stubber answers before the retry handler runs), then answers."""

    throttled = 0
    requests = 0

    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length', 0)))
        type(self).requests += 1
        if type(self).requests <= self.throttled:
            status, body = 400, {'__type': 'ThrottlingException', 'message': 'Rate exceeded'}
        else:
            status, body = 200, {'clusters': [{'clusterName': 'prod'}], 'failures': []}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/x-amz-json-1.1')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def throttling_ecs():
    def start(throttled):
        handler = type('Handler', (ThrottlingEcs,), {'throttled': throttled, 'requests': 0})
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return handler, 'http://127.0.0.1:{0}'.format(server.server_address[1])
    servers = []
    yield start
    for server in servers:
        server.shutdown()


def test_throttling_is_retried_with_backoff_and_then_succeeds(throttling_ecs):
    handler, url = throttling_ecs(throttled=2)
    aws = AwsClient.connect(region='eu-west-1', endpoint_url=url, access_key='a', secret_key='b')
    clusters = aws.call('describe ECS cluster prod', 'ecs', 'describe_clusters', clusters=['prod'])['clusters']
    assert clusters == [{'clusterName': 'prod'}]
    assert handler.requests == 3


def test_throttling_that_lasts_fails_saying_so(throttling_ecs):
    handler, url = throttling_ecs(throttled=100)
    aws = AwsClient.connect(region='eu-west-1', endpoint_url=url, access_key='a', secret_key='b', max_attempts=3)
    with pytest.raises(RollbackError, match='throttled the request') as caught:
        aws.call('describe ECS cluster prod', 'ecs', 'describe_clusters', clusters=['prod'])
    assert caught.value.details['reason'] == 'throttled'
    assert 'after 3 attempts' in caught.value.msg
    assert handler.requests == 3


@pytest.mark.parametrize('code, reason, words', [
    ('AccessDeniedException', 'forbidden', 'need the IAM permission ecs:UpdateService'),
    ('UnrecognizedClientException', 'unauthorized', 'rejected the credentials'),
    ('ExpiredTokenException', 'unauthorized', 'may have expired'),
])
def test_refused_calls_say_whether_credentials_or_permissions(moto, code, reason, words):
    # moto accepts any credentials: AWS's documented refusals, through the real client.
    aws, stub = _stubbed(moto)
    stub.add_client_error('update_service', service_error_code=code, service_message='refused', http_status_code=400)
    with stub, pytest.raises(RollbackError) as caught:
        aws.call('update ECS service web', 'ecs', 'update_service', cluster='prod', service='web')
    assert words in caught.value.msg
    assert caught.value.details['reason'] == reason
