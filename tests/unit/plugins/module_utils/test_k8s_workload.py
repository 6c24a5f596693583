# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image references as versions, and rollout states read from a workload's status."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.images import image_aliases, image_version, parse_image
from ansible_collections.ops.rollback.plugins.module_utils.k8s.workload import pod_template, rollout_state

DIGEST = 'sha256:' + 'cd' * 32


@pytest.mark.parametrize('image, parsed, version', [
    ('web', ('web', None, None), 'web'),
    ('registry:5000/team/web:v1.2.9', ('registry:5000/team/web', 'v1.2.9', None), 'v1.2.9'),
    ('registry:5000/team/web', ('registry:5000/team/web', None, None), 'registry:5000/team/web'),
    ('web@' + DIGEST, ('web', None, DIGEST), DIGEST),
    ('web:v1@' + DIGEST, ('web', 'v1', DIGEST), 'v1'),
])
def test_image_reference_parts_and_version(image, parsed, version):
    assert parse_image(image) == parsed
    assert image_version(image) == version


def test_every_spelling_of_an_image_names_it():
    assert image_aliases('reg/web:v1@' + DIGEST) == sorted(
        ['reg/web:v1@' + DIGEST, 'v1', 'reg/web:v1', DIGEST, 'reg/web@' + DIGEST])


def test_pod_templates_compare_without_the_replica_set_hash():
    deployment = {'metadata': {'creationTimestamp': None, 'labels': {'app': 'web'}}, 'spec': {'containers': []}}
    replica_set = {'metadata': {'labels': {'app': 'web', 'pod-template-hash': 'abc'}}, 'spec': {'containers': []}}
    assert pod_template(deployment) == pod_template(replica_set)


def _obj(spec, status, generation=2):
    return {'metadata': {'generation': generation}, 'spec': spec, 'status': dict(status, observedGeneration=2)}


@pytest.mark.parametrize('kind, spec, status, done, words', [
    ('Deployment', {'replicas': 3}, {'updatedReplicas': 1, 'replicas': 3}, False, '1 of 3 replicas updated'),
    ('Deployment', {'replicas': 3}, {'updatedReplicas': 3, 'replicas': 4}, False, '1 old replicas pending termination'),
    ('Deployment', {'replicas': 3}, {'updatedReplicas': 3, 'replicas': 3, 'availableReplicas': 2}, False,
     '2 of 3 updated replicas available'),
    ('Deployment', {'replicas': 3}, {'updatedReplicas': 3, 'replicas': 3, 'availableReplicas': 3}, True,
     '3 of 3 replicas updated and available'),
    ('StatefulSet', {'replicas': 2}, {'currentRevision': 'a', 'updateRevision': 'b', 'updatedReplicas': 1}, False,
     '1 of 2 replicas at revision b'),
    ('StatefulSet', {'replicas': 2}, {'currentRevision': 'b', 'updateRevision': 'b', 'readyReplicas': 1}, False,
     '1 of 2 replicas ready'),
    ('StatefulSet', {'replicas': 2}, {'currentRevision': 'b', 'updateRevision': 'b', 'readyReplicas': 2}, True,
     '2 of 2 replicas updated and ready'),
    ('DaemonSet', {}, {'desiredNumberScheduled': 2, 'updatedNumberScheduled': 1}, False, '1 of 2 pods updated'),
    ('DaemonSet', {}, {'desiredNumberScheduled': 2, 'updatedNumberScheduled': 2, 'numberAvailable': 2}, True,
     '2 of 2 pods updated and available'),
])
def test_rollout_state_as_kubectl_rollout_status_reads_it(kind, spec, status, done, words):
    assert rollout_state(kind, _obj(spec, status)) == (done, words)


def test_a_generation_the_controller_has_not_seen_is_not_done():
    obj = _obj({'replicas': 1}, {'updatedReplicas': 1, 'replicas': 1, 'availableReplicas': 1}, generation=3)
    assert rollout_state('Deployment', obj) == (False, 'waiting for the controller to see generation 3')
