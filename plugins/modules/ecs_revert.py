#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ecs_revert
short_description: Roll an AWS ECS service back to an earlier task definition and wait for the rollout
version_added: "0.3.0"
description:
  - Points an ECS service back at an existing revision of its task definition family, with one C(UpdateService) call.
    Nothing is registered; ECS starts a deployment of that revision and replaces the tasks.
  - The target is O(revision), or the newest revision of the family whose container O(container) runs the image
    O(version) (a tag, a digest or a full image reference), or without either, the previous good version. That is the
    newest earlier revision that the release ledger records as verified good. While the ledger is empty, it is the
    revision before the current one, or while a rollout is under way (or stuck), the revision that ran before it.
    RV(rule) says which rule chose it. Deregistered (C(INACTIVE)) revisions are shown in the history but refused as
    targets, because ECS refuses them. The history is the newest 50 revisions of the family (one
    C(DescribeTaskDefinition) call each) and the one the service runs.
  - Already at the target, nothing changes and C(changed=false). A second run never toggles.
  - With O(wait=true) it waits until ECS reports the target's deployment as the only one, its C(rolloutState) is
    C(COMPLETED) and its running count equals the desired count. The stock C(services_stable) waiter looks at the
    counts only and can pass in the middle of a rollout. A rollout that C(FAILED), that the deployment circuit breaker
    replaced, or that passes O(wait_timeout) fails the task, with the deployments and the reasons of the newest stopped
    tasks (C(stoppedReason), each container's exit code and reason). The service is left as ECS left it.
  - If the deployment circuit breaker already rolled the service back (its newest deployment began with the breaker's
    C(rolling back to deployment) event), the previous version is the one the breaker restored. Nothing changes, a
    warning says what the breaker did, and RV(circuit_breaker) returns it.
  - The release ledger is kept in the service's tags, one tag C(ops.rollback/verdict/<version>) per version (the newest
    20 versions). The rollback lock is the SSM parameter C(/ops-rollback/lock/ecs/<cluster>/<service>), created
    without overwrite, so two runs (two AWX jobs) cannot roll back the same service at once.
  - Throttled calls are retried with jittered exponential backoff.
  - The rollback runs through the collection's rollback core, as every platform's rollback does.
author: ops.rollback maintainers (!UNKNOWN)
options:
  cluster:
    description: The ECS cluster of the service, by name or ARN.
    type: str
    required: true
  service:
    description: The ECS service to roll back, by name.
    type: str
    required: true
  version:
    description:
      - The version to roll back to, as an image tag (V(v1.2.9)), a digest (V(sha256:...)) or a full image reference
        (V(123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:v1.2.9)), of the container O(container).
      - A version with whitespace, shell characters or other characters an image reference cannot have is refused
        before anything is touched.
      - With O(state=recorded), the version verified good.
    type: str
  revision:
    description:
      - The revision of the service's task definition family to roll back to, for example V(7) for C(web:7).
      - Mutually exclusive with O(version).
    type: int
  container:
    description:
      - The container of the task definition whose image is the version.
      - Required when the task definition has several containers (an app and its sidecars); with one, that one.
    type: str
  wait:
    description:
      - Wait until the target's deployment has completed. Without it the task returns once ECS accepted the update.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait with O(wait). On timeout the task fails, and ECS goes on rolling out.
    type: int
    default: 600
extends_documentation_fragment:
  - ops.rollback._rollback_states
  - ops.rollback._lock
  - ops.rollback._aws_auth
  - ops.rollback._attributes
  - ops.rollback._attributes.action_group_aws
attributes:
  check_mode:
    support: full
    details:
      - Reads the service and its family, chooses the target and reports the plan and the diff; nothing is written.
  diff_mode:
    support: full
    details:
      - The task definition and its images, before and after, and the ledger's verdicts that change.
  idempotent:
    support: full
notes:
  - "The credentials need C(ecs:DescribeServices), C(ecs:ListServices), C(ecs:ListTaskDefinitions),
    C(ecs:DescribeTaskDefinition), C(ecs:UpdateService), C(ecs:ListTasks), C(ecs:DescribeTasks), C(ecs:TagResource) and
    C(ecs:UntagResource) (ledger); C(ssm:GetParameter), C(ssm:PutParameter) and C(ssm:DeleteParameter) on
    C(/ops-rollback/lock/*) (lock). A refused call names the permission it needed."
seealso:
  - module: ops.rollback.lb_switch
  - module: ops.rollback.cdn_invalidate
  - name: Amazon ECS deployment circuit breaker
    description: How ECS rolls a failing deployment back by itself.
    link: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
"""

EXAMPLES = r"""
- name: Roll service web back to the image tag v1.2.9 and wait for the rollout
  ops.rollback.ecs_revert:
    cluster: prod
    service: web
    container: app
    version: v1.2.9
    region: eu-west-1

- name: Roll back to the previous good version, recording the version left as bad
  ops.rollback.ecs_revert:
    cluster: prod
    service: web
    rolled_back_from: v1.3.0
    note: "INC-4711: 5xx after deploy"
  register: rollback

- name: Say what ran before and what runs now
  ansible.builtin.debug:
    msg: "{{ rollback.task_definition.before }} -> {{ rollback.task_definition.after }} ({{ rollback.rule }})"

- name: Roll back to a revision of the family, without waiting
  ops.rollback.ecs_revert:
    cluster: prod
    service: web
    revision: 41
    wait: false

- name: Read the history and the ledger under the run's lock
  ops.rollback.ecs_revert:
    cluster: prod
    service: web
    state: listed
    lock:
      owner: "{{ rollback_run_id }}"
"""

RETURN = r"""
from_version:
  description: The version that ran before the task.
  returned: always
  type: str
  sample: v1.3.0
to_version:
  description: The version that runs after the task (in check mode, would run).
  returned: always
  type: str
  sample: v1.2.9
from_revision:
  description: The task definition revision that ran before.
  returned: with O(state=rolled_back)
  type: int
  sample: 42
to_revision:
  description: The task definition revision of the target.
  returned: with O(state=rolled_back)
  type: int
  sample: 41
rule:
  description: How the target was chosen, C(explicit) (O(version)), C(revision), C(ledger), C(release-before-current),
    or C(already-rolled-back) (the circuit breaker already rolled back).
  returned: with O(state=rolled_back)
  type: str
  sample: ledger
plan:
  description: What the task does (in check mode, would do), in words; empty when nothing changes.
  returned: with O(state=rolled_back)
  type: list
  elements: str
task_definition:
  description: The task definition ARNs before and after.
  returned: with O(state=rolled_back)
  type: dict
  sample: {"before": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:42",
           "after": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:41"}
images:
  description: The images of the containers, before and after.
  returned: with O(state=rolled_back)
  type: dict
  sample: {"before": {"app": "web:v1.3.0"}, "after": {"app": "web:v1.2.9"}}
deployment:
  description: The id of the deployment the update started.
  returned: when the service was updated
  type: str
  sample: ecs-svc/1234567890123456789
waited:
  description: The target's deployment once it completed, C(deployment), C(rollout_state), C(running), C(desired).
  returned: when the service was updated and O(wait=true)
  type: dict
  sample: {"deployment": "ecs-svc/1234567890123456789", "rollout_state": "COMPLETED", "running": 2, "desired": 2}
wait_seconds:
  description: Seconds the rollout took.
  returned: when the service was updated and O(wait=true)
  type: float
circuit_breaker:
  description: What the deployment circuit breaker did when it had already rolled the service back, C(message),
    C(at), C(restored), and where known C(failed), C(failed_version), C(failed_deployment), C(reason).
  returned: when the circuit breaker had already rolled the service back and nothing changed
  type: dict
platform_rollback:
  description: With O(state=listed), what the circuit breaker did when the service runs its rollback (as
    RV(circuit_breaker)); the rollback playbook then keeps the service where it is.
  returned: with O(state=listed), when the circuit breaker had already rolled the service back
  type: dict
recorded:
  description: The verdicts written to the ledger, O(rolled_back_from) bad.
  returned: when O(rolled_back_from) was recorded
  type: dict
  sample: {"v1.3.0": "bad"}
service:
  description: The service, C(cluster), C(name) and C(arn).
  returned: always
  type: dict
current:
  description: The version running now.
  returned: with O(state=listed)
  type: str
history:
  description: Every revision of the family, oldest first, with C(version), C(revision), C(arn), C(images),
    C(aliases), C(current) and, when it cannot be rolled back to, C(deployable=false) and C(why).
  returned: with O(state=listed)
  type: list
  elements: dict
syntax:
  description: The version syntax, C(image).
  returned: with O(state=listed)
  type: str
good:
  description: The versions the ledger records as verified good.
  returned: with O(state=listed) and O(state=recorded)
  type: list
  elements: str
bad:
  description: The versions the ledger records as rolled back from.
  returned: with O(state=listed) and O(state=recorded)
  type: list
  elements: str
entries:
  description: The ledger after O(state=recorded), each C(version), C(state), C(at), C(note).
  returned: with O(state=recorded)
  type: list
  elements: dict
lock:
  description: The lock held after the task.
  returned: with O(lock), when the lock was taken or released
  type: dict
held_by:
  description: The run that holds the lock, when O(state=unlocked) left it alone.
  returned: when another run holds the lock
  type: dict
taken_over:
  description: The expired or abandoned lock that was taken over.
  returned: when a lock was taken over
  type: dict
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.ops.rollback.plugins.module_utils._common.lock import lock_argument_spec
from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils._common.states import (
    STATE_OPTIONS,
    STATE_REQUIRED_IF,
    STATES,
    run_module_state,
)
from ansible_collections.ops.rollback.plugins.module_utils.aws.client import (
    AWS_AUTH_SPEC,
    BOTO3_IMPORT_ERROR,
    HAS_BOTO3,
    AwsClient,
    aws_params,
)
from ansible_collections.ops.rollback.plugins.module_utils.ecs.driver import EcsDriver


def argument_spec():
    return dict(
        AWS_AUTH_SPEC,
        cluster=dict(type='str', required=True),
        service=dict(type='str', required=True),
        state=dict(type='str', default='rolled_back', choices=list(STATES)),
        version=dict(type='str'),
        revision=dict(type='int'),
        container=dict(type='str'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=600),
        rolled_back_from=dict(type='str'),
        note=dict(type='str'),
        lock=lock_argument_spec(),
    )


def revert(module):
    if not HAS_BOTO3:
        module.fail_json(msg=missing_required_lib('boto3'), exception=BOTO3_IMPORT_ERROR)
    params = module.params
    driver = EcsDriver(AwsClient.connect(**aws_params(params)), params['cluster'], params['service'],
                       container=params['container'])
    return run_module_state(driver, module)


def main():
    run_module(argument_spec(), revert, state_options=STATE_OPTIONS, mutually_exclusive=[('version', 'revision')],
               required_if=STATE_REQUIRED_IF)


if __name__ == '__main__':
    main()
