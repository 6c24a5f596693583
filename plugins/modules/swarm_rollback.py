#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: swarm_rollback
short_description: Roll a Docker Swarm service back to an image version and wait until its tasks run it
version_added: "0.4.0"
description:
  - Rolls a Swarm service back to its previous spec, or to an image version of its repository, through the Docker
    Engine API, and waits until every task runs the target.
  - The target is O(version) (a tag, a digest or an image reference of the service's repository), or without it the
    previous good version. That is the newest earlier version that the release ledger records as verified good.
    While the ledger is empty, it is the version of the service's C(PreviousSpec), which is what
    C(docker service update --rollback) goes back to. RV(rule) says which rule chose it.
  - The history is what the engine knows. The current image, the C(PreviousSpec)'s image and every image of the
    current image's repository present on the engine (C(docker images <repository>)). Versions the service ran
    (current, C(PreviousSpec), those in the ledger) are ordered by when their images were built; images it never ran
    come after them, so previous is never one of those, but O(version) may name them. A version the engine has no
    image of is refused, listing the versions it has.
  - A version is an image's tag, else its repository digest. A digest given as O(version) is a repository digest
    (C(RepoDigests), for images from a registry) or an image ID. The image is pinned by digest
    (C(repo:tag@sha256:...)) when the engine knows the image's repository digest; RV(target) reports both.
  - When the target is the C(PreviousSpec) and O(rollback_config) is not given, the engine's own rollback
    (C(POST /services/{id}/update?rollback=previous)) restores the whole previous spec. Otherwise only the image of
    the service changes; its spec stays the same otherwise (C(ForceUpdate) untouched). Every update carries the
    service's version index, so an update someone made meanwhile makes it fail instead of being overwritten.
  - A service paused by an earlier failed update (update status C(paused) or C(rollback_paused)) is named in a
    warning and resumed by the rollback.
  - If the engine already rolled the service back by itself (C(failure_action=rollback), update status
    C(rollback_completed)), previous stays there. Nothing changes, a warning says what the engine did, and
    RV(engine_rollback) returns it.
  - Already at the target, nothing changes and C(changed=false). A second run never toggles back.
  - The release ledger is the label C(ops.rollback.ledger) (compact JSON) of the Swarm config
    C(ops-rollback-ledger.<service>), written with the config's version index. The rollback lock is the Swarm config
    C(ops-rollback-lock.<service>), which the engine creates only once. Neither is a label of the service itself.
    Any update of a service, a label's included, replaces its C(PreviousSpec) and clears its update status.
  - The rollback runs through the collection's rollback core, as every platform's rollback does.
author: ops.rollback maintainers (!UNKNOWN)
options:
  name:
    description: The Swarm service to roll back, by name.
    type: str
    required: true
  version:
    description:
      - The version to roll back to, as an image tag (V(v1.2.9)), a digest (V(sha256:...)) or an image reference of
        the service's repository (V(registry.example/web:v1.2.9)).
      - A version with whitespace, shell characters or other characters an image reference cannot have is refused
        before anything is touched.
      - With O(state=recorded), the version verified good.
    type: str
  wait:
    description:
      - Wait until the update status is C(completed) or C(rollback_completed) and every task meant to run runs the
        target image and is running. Without it the task returns once the engine accepted the update.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait with O(wait). On timeout the task fails, and the engine goes on.
    type: int
    default: 300
  rollback_config:
    description:
      - How this rollback rolls out, over the service's own rollback settings.
      - Given, the rollback is always an update of the image (not the engine's rollback), whose rollout follows these
        settings. The service keeps them as its update and rollback settings, as C(docker service update
        --update-* --rollback-*) would. Not given, the engine's rollback follows the service's rollback settings and
        an image update its update settings.
    type: dict
    suboptions:
      parallelism:
        description: Tasks replaced at once (V(0) all at once).
        type: int
      delay:
        description: Seconds between replacing one batch of tasks and the next.
        type: float
      failure_action:
        description: What the engine does when a task of the rollout fails.
        type: str
        choices: [continue, pause, rollback]
      monitor:
        description: Seconds the engine watches each new task for a failure.
        type: float
      max_failure_ratio:
        description: The share of tasks that may fail during the rollout (V(0) to V(1)).
        type: float
      order:
        description: Stop an old task before its replacement starts, or start the replacement first.
        type: str
        choices: [stop-first, start-first]
extends_documentation_fragment:
  - ops.rollback._rollback_states
  - ops.rollback._lock
  - ops.rollback._docker_conn
  - ops.rollback._attributes
  - ops.rollback._attributes.action_group_docker
attributes:
  check_mode:
    support: full
    details:
      - Reads the service, its tasks and the engine's images, chooses the target and reports the plan and the diff;
        nothing is written.
  diff_mode:
    support: full
    details:
      - The service's image before and after, and the ledger's verdicts that change.
  idempotent:
    support: full
notes:
  - Talk to a manager node of the swarm; a worker is refused. The images of other versions must be present on the
    engine the module talks to, or reachable in a registry by every node that runs a task.
  - Removing the service leaves its configs C(ops-rollback-ledger.<service>) and C(ops-rollback-lock.<service>);
    a service created again under the same name finds its ledger.
seealso:
  - module: ops.rollback.k8s_rollback
  - module: ops.rollback.health_check
  - name: docker service rollback
    description: The engine's rollback to the previous spec.
    link: https://docs.docker.com/reference/cli/docker/service/rollback/
"""

EXAMPLES = r"""
- name: Roll service web back to its previous spec (or the previous good version) and wait
  ops.rollback.swarm_rollback:
    name: web
    rolled_back_from: v1.3.0
    note: "INC-4711: 5xx after deploy"
  register: rollback

- name: Say what ran before and what runs now
  ansible.builtin.debug:
    msg: "{{ rollback.images.before }} -> {{ rollback.images.after }} ({{ rollback.rule }})"

- name: Roll web back to the image tag v1.2.9, one task at a time, on a remote manager over TLS
  ops.rollback.swarm_rollback:
    name: web
    version: v1.2.9
    rollback_config:
      parallelism: 1
      delay: 5
      monitor: 10
      failure_action: pause
    docker_host: tcp://manager1.example.com:2376
    validate_certs: true
    ca_path: /etc/docker/ca.pem
    client_cert: /etc/docker/cert.pem
    client_key: /etc/docker/key.pem

- name: Read the history and the ledger under the run's lock
  ops.rollback.swarm_rollback:
    name: web
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
rule:
  description: How the target was chosen, C(explicit) (O(version)), C(ledger), C(release-before-current) (the
    C(PreviousSpec) while the ledger is empty) or C(already-rolled-back) (the engine already rolled back).
  returned: with O(state=rolled_back)
  type: str
  sample: release-before-current
plan:
  description: What the task does (in check mode, would do), in words; empty when nothing changes.
  returned: with O(state=rolled_back)
  type: list
  elements: str
method:
  description: C(engine-rollback) (the engine's rollback to the C(PreviousSpec)) or C(image-update).
  returned: when the service is (or would be) updated
  type: str
  sample: engine-rollback
images:
  description: The service's image before and after.
  returned: with O(state=rolled_back)
  type: dict
  sample: {"before": "registry.example/web:v1.3.0", "after": "registry.example/web:v1.2.9"}
target:
  description: The target's image reference, its repository digest (null when the engine knows none) and image ID.
  returned: with O(state=rolled_back)
  type: dict
  sample: {"image": "registry.example/web:v1.2.9@sha256:4f1c...", "digest": "sha256:4f1c...", "id": "sha256:9a0b..."}
update_status:
  description: The service's update status after the task (C(completed), C(rollback_completed), C(paused)...), null
    when it has none.
  returned: with O(state=rolled_back)
  type: str
  sample: rollback_completed
tasks:
  description: The tasks meant to run after the task, each C(id), C(slot), C(image), C(desired_state), C(state),
    C(error), C(message).
  returned: with O(state=rolled_back)
  type: list
  elements: dict
resumed:
  description: The update status (C(state), C(message)) of a service an earlier update had left paused, which this
    rollback resumed.
  returned: when the service was paused
  type: dict
waited:
  description: What was waited on, C(update_status), C(image) and C(tasks).
  returned: when the service was updated and O(wait=true)
  type: dict
wait_seconds:
  description: Seconds the rollout took.
  returned: when the service was updated and O(wait=true)
  type: float
engine_rollback:
  description: What the engine's own rollback did when it had already rolled the service back, C(message), C(at),
    C(restored), C(failed), C(failed_version).
  returned: when the engine had already rolled the service back and nothing changed
  type: dict
platform_rollback:
  description: With O(state=listed), the engine's own rollback (as RV(engine_rollback)) when the service's update status
    is C(rollback_completed); the rollback playbook then keeps the service where it is.
  returned: with O(state=listed), when the engine had rolled the service back
  type: dict
recorded:
  description: The verdicts written to the ledger, O(rolled_back_from) bad.
  returned: when O(rolled_back_from) was recorded
  type: dict
  sample: {"v1.3.0": "bad"}
service:
  description: The service, C(name), C(id) and C(version_index) (as read before any change).
  returned: always
  type: dict
current:
  description: The version running now.
  returned: with O(state=listed)
  type: str
history:
  description: The versions, in the order previous follows, each C(version), C(image), C(aliases), C(id), C(digest),
    C(created), C(present), C(sources) (C(current), C(previous_spec)), C(ran) and C(current).
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
from ansible_collections.ops.rollback.plugins.module_utils.docker.client import (
    DOCKER_CONN_SPEC,
    DOCKER_IMPORT_ERROR,
    HAS_DOCKER,
    connect,
    docker_params,
)
from ansible_collections.ops.rollback.plugins.module_utils.docker.driver import SwarmDriver


def argument_spec():
    return dict(
        DOCKER_CONN_SPEC,
        name=dict(type='str', required=True),
        state=dict(type='str', default='rolled_back', choices=list(STATES)),
        version=dict(type='str'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=300),
        rollback_config=dict(type='dict', options=dict(
            parallelism=dict(type='int'),
            delay=dict(type='float'),
            failure_action=dict(type='str', choices=['continue', 'pause', 'rollback']),
            monitor=dict(type='float'),
            max_failure_ratio=dict(type='float'),
            order=dict(type='str', choices=['stop-first', 'start-first']),
        )),
        rolled_back_from=dict(type='str'),
        note=dict(type='str'),
        lock=lock_argument_spec(),
    )


def roll_back(module):
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib('docker'), exception=DOCKER_IMPORT_ERROR)
    params = module.params
    driver = SwarmDriver(connect(**docker_params(params)), params['name'], rollback_config=params['rollback_config'])
    return run_module_state(driver, module)


def main():
    run_module(argument_spec(), roll_back, state_options=dict(STATE_OPTIONS, rollback_config=['rolled_back']),
               required_if=STATE_REQUIRED_IF)


if __name__ == '__main__':
    main()
