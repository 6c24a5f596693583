#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: compose_rollback
short_description: Pin Docker Compose services back to an image the engine has, recreate them and wait until healthy
version_added: "0.3.0"
description:
  - Runs on the Docker host, with python3's standard library only. It drives the compose CLI, C(docker compose) (the v2
    plugin) when C(docker compose version) works, else C(docker-compose) (v1), and reads containers and images with
    C(docker inspect).
  - For each service of O(services), the target is O(version) (a tag, a digest, an image ID or a full image reference;
    or a map of service to version), or without it the previous good version. That is the newest image the release
    ledger records as verified good among the images built before the running one. While the ledger is empty, it is the
    image of the service's repository built just before the one running (the engine's C(Created) time). RV(rule) says
    which rule chose it. The history is every image of the repository the engine has, with the images the service ran
    before (kept in the pins) even once they lost their tags.
  - The target is B(pinned) to exactly the image that ran, not to a tag that may have moved (a rebuilt C(:v2), a new
    C(latest)). The pin is the image's repository digest (C(RepoDigests), an image pulled from a registry); an image built
    on this host has no digest, so it is pinned to its image ID (C(sha256:...)), the hash of its configuration, which
    names exactly that content on this engine.
  - The pin is written either in the variable the compose file takes the image from (an C(image) field of
    C(app:${APP_VERSION}) or C(${APP_IMAGE}), set in the project's C(.env)), or in the override file
    C(docker-compose.ops-rollback.yml) in the project directory (an C(image) field of C(sha256:...)). See O(pin). Files
    are written to a temporary file renamed over the old one. The pin a run replaces is kept in
    C(.ops-rollback/pins.json) (and in the override file's comments) and returned as RV(services), key C(previous_pin),
    so the rollback itself can be undone with O(version) set to its C(image_id).
  - Then C(up -d --no-deps <service>) recreates that service alone, with the override file added to C(-f) when it
    exists, and with O(wait) the task waits until every container of the service runs the target, is running, not
    restarting, and C(healthy) when the image has a healthcheck. A container that exits or turns C(unhealthy) fails the
    task at once, naming its status, exit code, C(State.Error) and its last health check outputs; the service is left as
    it is. Services are rolled back one after the other; every target and plan is chosen before the first one changes.
  - Already at the target (every container runs the target image and the compose files resolve to it), nothing changes
    and C(changed=false). A second run never toggles back, and never goes one more step back either - while the pin of
    the last rollback is in force and its image runs, the previous version is that one (rule C(already-rolled-back)).
    Pass O(version) to go further back.
  - The release ledger is C(.ops-rollback/ledger.json) in the project directory, one list of verdicts per service. The
    rollback lock is the file C(.ops-rollback/lock), taken for the whole task (or, with O(lock), held by the run that
    took it with O(state=listed)), so two runs cannot roll the same project back at once. The lock a task took for itself
    expires after every service's O(wait_timeout) and 10 minutes; one left by a task of this host that was killed is
    taken over at once, with a warning.
  - The rollback runs through the collection's rollback core, as every platform's rollback does.
author: ops.rollback maintainers (!UNKNOWN)
options:
  project_src:
    description: The compose project's directory on the Docker host, where its compose file and C(.env) are.
    type: path
    required: true
  files:
    description:
      - The compose files, relative to O(project_src), as C(-f) would name them. Default, the first of C(compose.yaml),
        C(compose.yml), C(docker-compose.yml), C(docker-compose.yaml) with its C(.override) file, as compose reads them.
      - The pins' override file is added after them whenever it exists.
    type: list
    elements: str
  project_name:
    description:
      - The compose project name. Default, C(COMPOSE_PROJECT_NAME) from the environment or C(.env), else the directory's
        name as compose derives it.
    type: str
  services:
    description:
      - The services to roll back. Default, the keys of O(version) when it is a map, else every service with an
        C(image) field. A service not in the compose files is refused, with nothing changed.
    type: list
    elements: str
  version:
    description:
      - The version to roll back to, the same for every service in O(services) - a tag (V(v1.2.9)), a digest or image ID
        (V(sha256:...)), or an image reference (V(app:v1.2.9), V(app@sha256:...)) - or a map of service to version
        (for example C(app) to V(v1.2.9) and C(worker) to V(v1.2.8)). A version the engine does not have is refused, listing those it has.
      - Without it, the previous good version of each service.
      - With O(state=recorded), the version verified good.
    type: raw
  pin:
    description:
      - Where the pin is written.
      - V(variable) sets the variable of the image field in C(.env), and removes the service's entry from the override
        file if it has one. A variable that is the whole image (C(${APP_IMAGE})) holds the digest or the image ID. A
        variable that is the tag (C(app:${APP_VERSION})) holds C(tag@sha256:<digest>); for an image built here, which
        has no digest, only the tag fits, and a warning says that the pin then follows the tag. Refused when the image
        field takes no variable, when the variable is also set in the environment (compose reads that over C(.env)), or
        when other services share it.
      - V(override) writes the C(image) field of the service in C(docker-compose.ops-rollback.yml). Include it in your own
        C(up) too (C(-f), or C(COMPOSE_FILE) in C(.env)), or a later plain C(up) runs the tag again.
      - V(auto) uses the variable when it can hold an exact pin, else the override file.
    type: str
    choices: [auto, variable, override]
    default: auto
  wait:
    description: Wait until every container of the service runs the target, running and healthy.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each service with O(wait). On timeout the task fails, naming each container's state.
    type: int
    default: 300
extends_documentation_fragment:
  - ops.rollback._rollback_states
  - ops.rollback._lock
  - ops.rollback._attributes
attributes:
  action_group:
    description: Use C(group/ops.rollback.docker) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - ops.rollback.docker
  check_mode:
    support: full
    details:
      - Reads the project, chooses the targets and reports the plan and the diff; no file, container or lock changes.
  diff_mode:
    support: full
    details:
      - The pin line of C(.env) or of the override file, and each container's image, before and after.
  idempotent:
    support: full
notes:
  - Compose's own C(latest) problem is why the pin is a digest or an image ID - re-applying a tag brings back whatever the
    tag names now, not the image that worked.
  - The engine must still have the target image. Nothing is pulled.
  - Containers are found by their labels C(com.docker.compose.project) and C(com.docker.compose.service).
seealso:
  - module: ops.rollback.release_ledger
  - name: Compose file reference, interpolation
    description: How compose resolves variables in the image field.
    link: https://docs.docker.com/compose/compose-file/12-interpolation/
"""

EXAMPLES = r"""
- name: Roll service app back to v1.2.9, pinned to its digest, and wait until healthy
  ops.rollback.compose_rollback:
    project_src: /srv/shop
    services: [app]
    version: v1.2.9

- name: Roll every service back to its previous good version, recording the version left as bad
  ops.rollback.compose_rollback:
    project_src: /srv/shop
    rolled_back_from: v1.3.0
    note: "INC-4711: 5xx after deploy"
  register: rollback

- name: Say what ran before and what runs now
  ansible.builtin.debug:
    msg: "{{ rollback.images.before }} -> {{ rollback.images.after }} ({{ rollback.rule }})"

- name: Two services to different versions, pinned in the override file
  ops.rollback.compose_rollback:
    project_src: /srv/shop
    version:
      app: v1.2.9
      worker: v1.2.7
    pin: override

- name: Undo the rollback - back to exactly the image that ran before it
  ops.rollback.compose_rollback:
    project_src: /srv/shop
    services: [app]
    version: "{{ rollback.services.app.previous_pin.image_id }}"

- name: Read the history and the ledger under the run's lock
  ops.rollback.compose_rollback:
    project_src: /srv/shop
    state: listed
    lock:
      owner: "{{ rollback_run_id }}"
"""

RETURN = r"""
from_version:
  description: The version that ran before the task; C(service=version, ...) when the services ran different ones.
  returned: always
  type: str
  sample: v1.3.0
to_version:
  description: The version that runs after the task (in check mode, would run), as RV(from_version).
  returned: always
  type: str
  sample: v1.2.9
rule:
  description: How the target was chosen, C(explicit) (O(version)), C(ledger), C(release-before-current) or
    C(already-rolled-back) (the pin of the last rollback is in force); per service when they differ.
  returned: with O(state=rolled_back)
  type: str
  sample: explicit
plan:
  description: What the task does (in check mode, would do), in words; empty when nothing changes.
  returned: with O(state=rolled_back)
  type: list
  elements: str
images:
  description: The image each service's containers ran before (as compose named it) and the pin it runs after.
  returned: with O(state=rolled_back)
  type: dict
  sample: {"before": {"app": "shop/app:v1.3.0"}, "after": {"app": "shop/app@sha256:8f2c..."}}
services:
  description:
    - Per service, the core's result - C(from_version), C(to_version), C(rule), C(plan), C(from_image),
      C(from_image_id), C(to_image), C(to_image_id), C(waited), C(wait_seconds).
    - C(pin) - where the pin is (C(mode), C(file), C(variable), C(value)).
    - C(previous_pin) - the pin it replaced and the image that ran before (C(value), C(image_id), C(version),
      C(image)); pass its C(image_id) as O(version) to undo the rollback.
    - With O(state=listed), each service's C(current), C(history), C(good), C(bad).
  returned: always
  type: dict
  sample: {"app": {"from_version": "v2", "to_version": "v1", "to_image_id": "sha256:9ec2e50b5dd4...",
           "pin": {"mode": "override", "file": "docker-compose.ops-rollback.yml", "variable": null,
                   "value": "sha256:9ec2e50b5dd4..."},
           "previous_pin": {"value": null, "image_id": "sha256:183f8447ec3c...", "version": "v2",
                            "image": "shop/app:v2"}}}
project:
  description: The project, C(name), C(src) and C(files).
  returned: always
  type: dict
  sample: {"name": "shop", "src": "/srv/shop", "files": ["docker-compose.yml"]}
compose:
  description: The compose command used, C(docker compose) or C(docker-compose).
  returned: unless O(state=unlocked)
  type: str
  sample: docker-compose
recorded:
  description: The verdicts written to the ledger, O(rolled_back_from) bad.
  returned: when O(rolled_back_from) was recorded
  type: dict
  sample: {"v1.3.0": "bad"}
current:
  description: The version running now.
  returned: with O(state=listed)
  type: str
history:
  description: The images the service can run, oldest built first, each with C(version), C(aliases) (tags, digests,
    image ID), C(image_id), C(created), C(images), C(current); for several services, the versions they all have.
  returned: with O(state=listed)
  type: list
  elements: dict
platform_rollback:
  description: With O(state=listed), the last rollback of this module when its pin is in force and its image runs
    (C(message), C(at), C(restored), C(pin)); the rollback playbook then keeps the service where it is.
  returned: with O(state=listed), when the pin of the last rollback is in force
  type: dict
syntax:
  description: The version syntax, C(image).
  returned: with O(state=listed)
  type: str
good:
  description: The versions the ledger records as verified good.
  returned: with O(state=listed), and O(state=recorded) of one service
  type: list
  elements: str
bad:
  description: The versions the ledger records as rolled back from.
  returned: with O(state=listed), and O(state=recorded) of one service
  type: list
  elements: str
entries:
  description: The ledger after O(state=recorded) of one service, each C(version), C(state), C(at), C(note).
  returned: with O(state=recorded) of one service
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

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils._common.lock import lock_argument_spec
from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils._common.states import STATE_OPTIONS, STATE_REQUIRED_IF, STATES
from ansible_collections.ops.rollback.plugins.module_utils.docker.compose import ComposeCli, ComposeProject
from ansible_collections.ops.rollback.plugins.module_utils.docker.compose_driver import PINS, run_compose

# The lock is also taken by a rollback (held for the task, or the run's own with lock.owner).
OPTIONS_BY_STATE = dict(STATE_OPTIONS, lock=['listed', 'unlocked', 'rolled_back'])


def argument_spec():
    return dict(
        project_src=dict(type='path', required=True),
        files=dict(type='list', elements='str'),
        project_name=dict(type='str'),
        services=dict(type='list', elements='str'),
        state=dict(type='str', default='rolled_back', choices=list(STATES)),
        version=dict(type='raw'),
        pin=dict(type='str', default='auto', choices=list(PINS)),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=300),
        rolled_back_from=dict(type='str'),
        note=dict(type='str'),
        lock=lock_argument_spec(),
    )


def roll_back(module):
    params = module.params
    cli = ComposeCli(run=lambda argv, cwd=None: module.run_command(argv, cwd=cwd))
    project = ComposeProject(cli, params['project_src'], files=params['files'], project_name=params['project_name'],
                             write_cache=not module.check_mode)
    if params['wait_timeout'] < 1:
        raise InvalidInputError('wait_timeout must be at least 1 second (got {0}). Nothing was changed.'.format(
            params['wait_timeout']), option='wait_timeout')
    return run_compose(project, services=params['services'], version=params['version'], pin=params['pin'],
                       state=params['state'], check_mode=module.check_mode,
                       wait=params['wait'], wait_timeout=params['wait_timeout'],
                       rolled_back_from=params['rolled_back_from'], note=params['note'], lock=params['lock'],
                       warn=module.warn)


def main():
    run_module(argument_spec(), roll_back, state_options=OPTIONS_BY_STATE, required_if=STATE_REQUIRED_IF)


if __name__ == '__main__':
    main()
