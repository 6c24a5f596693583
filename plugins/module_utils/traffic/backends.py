# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backends of lb_switch: which options each takes, and the ``TrafficBackend`` (switch.py)
each builds from the module's options, on its platform's client."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils._common.module import refuse_options_not_for
from ansible_collections.ops.rollback.plugins.module_utils.aws.client import AwsClient, aws_params
from ansible_collections.ops.rollback.plugins.module_utils.aws.elb import ListenerWeights
from ansible_collections.ops.rollback.plugins.module_utils.aws.route53 import RecordWeights
from ansible_collections.ops.rollback.plugins.module_utils.k8s.client import K8S_AUTH_SPEC, KubeClient
from ansible_collections.ops.rollback.plugins.module_utils.traffic.haproxy import HAPROXY_SPEC, HaproxyServer
from ansible_collections.ops.rollback.plugins.module_utils.traffic.nginx import NGINX_SPEC, NginxUpstream
from ansible_collections.ops.rollback.plugins.module_utils.k8s.traffic import (
    ISTIO_API_VERSIONS,
    ServiceSelector,
    VirtualServiceWeights,
    label_selector,
)

K8S_BACKENDS = ['kubernetes_service', 'istio']
AWS_BACKENDS = ['alb', 'route53']
# Run on the load balancer's own host: python3's standard library only.
HOST_BACKENDS = ['haproxy', 'nginx']
WEIGHTED = ['istio', 'alb', 'route53']

# Options that mean something for some backends only; elsewhere they are refused. The connection
# options are not here: module_defaults of a group may set both platforms' for every task.
BACKEND_OPTIONS = {
    'name': K8S_BACKENDS,
    'selector': ['kubernetes_service'],
    'weights': WEIGHTED,
    'route': ['istio'],
    'api_version': ['istio'],
    'steps': WEIGHTED,
    'pause': WEIGHTED,
    'health_check': WEIGHTED,
    'listener_arn': ['alb'],
    'rule_arn': ['alb'],
    'hosted_zone_id': ['route53'],
    'zone': ['route53'],
    'record_name': ['route53'],
    'record_type': ['route53'],
}
BACKEND_OPTIONS.update((option, ['haproxy']) for option in HAPROXY_SPEC)
BACKEND_OPTIONS.update((option, ['nginx']) for option in NGINX_SPEC)

# The keys that name a destination in weights[], by backend.
WEIGHT_KEYS = {'istio': ('host', 'subset'), 'alb': ('target_group',), 'route53': ('set_identifier',)}


def refuse_backend_options(params):
    """Options of another backend, and weights named by another backend's keys, are refused."""
    refuse_options_not_for(params, 'backend', BACKEND_OPTIONS)
    if params['backend'] in WEIGHT_KEYS:
        refuse_weight_keys(params['backend'], params['weights'])


def refuse_weight_keys(backend, weights):
    """Each entry of ``weights`` names its destination with this backend's keys only."""
    mine = WEIGHT_KEYS[backend]
    for number, item in enumerate(weights or []):
        others = sorted(key for keys in WEIGHT_KEYS.values() for key in keys
                        if key not in mine and item.get(key) is not None)
        if others or item.get(mine[0]) is None:
            raise InvalidInputError(
                'weights[{0}] {1}: with backend={2}, name each entry by {3} and give its weight. Nothing was '
                'changed.'.format(number, 'sets {0}'.format(', '.join(others)) if others else 'lacks ' + mine[0],
                                  backend, mine[0] + (' (and {0})'.format(mine[1]) if len(mine) > 1 else '')))


def build_backend(params):
    """The backend of ``params['backend']``, connected; its platform's library is present."""
    if params['backend'] == 'haproxy':
        return HaproxyServer.from_params(params)
    if params['backend'] == 'nginx':
        return NginxUpstream.from_params(params)
    if params['backend'] in K8S_BACKENDS:
        client = KubeClient.connect(**dict((key, params[key]) for key in K8S_AUTH_SPEC))
        if params['backend'] == 'kubernetes_service':
            return ServiceSelector(client, params['name'], params['namespace'], params['selector'],
                                   wait=params['wait'], wait_timeout=params['wait_timeout'])
        return VirtualServiceWeights(client, params['name'], params['namespace'], params['weights'],
                                     route=params['route'], api_version=params['api_version'] or ISTIO_API_VERSIONS[0])
    connection = aws_params(params)
    connection['validate_certs'] = params['validate_certs'] is not False
    aws = AwsClient.connect(**connection)
    if params['backend'] == 'alb':
        return ListenerWeights(aws, params['listener_arn'], params['weights'], rule_arn=params['rule_arn'])
    return RecordWeights(aws, params['record_name'], params['weights'], hosted_zone_id=params['hosted_zone_id'],
                         zone=params['zone'], record_type=params['record_type'] or 'A', wait=params['wait'],
                         wait_timeout=params['wait_timeout'])


def backend_warnings(backend, result):
    """What the user must hear after a switch: traffic sent where nothing serves it (force), and what the
    backend itself warns about (haproxy: a reload would forget the change)."""
    warnings = []
    if result.get('ready_pods') == 0:
        warnings.append('{0} selects no ready pod ({1}): it has no endpoints, and its traffic fails until such pods '
                        'are ready.'.format(backend.describe(), label_selector(result['after'])))
    for group, healthy in sorted((result.get('healthy_targets') or {}).items()):
        if not healthy:
            warnings.append('Target group {0} gets more traffic through {1} but has no healthy target (force=true): '
                            'that traffic fails until its targets pass their health checks.'.format(
                                group, backend.describe()))
    if hasattr(backend, 'warnings'):
        warnings.extend(backend.warnings(result))
    return warnings
