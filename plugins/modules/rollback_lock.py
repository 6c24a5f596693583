#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rollback_lock
short_description: Take or release the lock that lets only one rollback of a service run at a time
version_added: "0.1.0"
description:
  - A lock file on a host of the service says which run is rolling the service back. The preflight phase takes it
    once every check has passed, and the run releases it when it ends, also when a batch or the verification fails.
  - A lock held by another run fails the task, naming the run, its user, controller and start time, and nothing is
    changed. The same run taking the lock again is not a change.
  - A lock left behind by a run that was killed is taken over when it has expired (O(ttl)), when O(force=true), or
    at once when it was taken on this same controller by an C(ansible-playbook) process that no longer exists. The
    action plugin of this module checks that, on the controller.
  - The lock file is created complete or not at all, so two runs can never both believe they hold it.
author: ops.rollback maintainers (!UNKNOWN)
options:
  path:
    description: The lock file. Its directory must exist.
    type: path
    required: true
  owner:
    description: Identifier of this run; the playbook makes one per run (C(rollback_run_id)).
    type: str
    required: true
  state:
    description:
      - V(acquired) takes the lock for O(owner).
      - V(released) removes it if O(owner) holds it; a lock held by another run is left alone, with a warning.
    type: str
    choices: [acquired, released]
    default: acquired
  ttl:
    description: Seconds after which a lock is expired and another run may take it over.
    type: int
    default: 3600
  force:
    description: Take the lock over even from a run that looks alive. Use only once you know that run is gone.
    type: bool
    default: false
  holder:
    description:
      - Who takes the lock, stored in it to be shown to other runs.
      - Filled in by the action plugin (C(user), C(controller), C(pid) of C(ansible-playbook)); keys given here are
        kept.
    type: dict
    default: {}
extends_documentation_fragment:
  - ops.rollback._attributes
attributes:
  action:
    description: Has an action plugin that runs on the controller, fills in O(holder) and checks whether the run
      holding a lock is still alive.
    support: full
  check_mode:
    support: full
    details: Reports whether the lock could be taken; a lock held by another run only warns.
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: ops.rollback.release_switch
"""

EXAMPLES = r"""
- name: Take the lock of the service demo before changing anything
  ops.rollback.rollback_lock:
    path: /srv/demo/.ops-rollback.lock
    owner: "{{ rollback_run_id }}"
  run_once: true

- name: Release it at the end of the run
  ops.rollback.rollback_lock:
    path: /srv/demo/.ops-rollback.lock
    owner: "{{ rollback_run_id }}"
    state: released
  run_once: true
"""

RETURN = r"""
lock:
  description: The lock as it is after the task (in check mode, would be); V(null) once released.
  returned: always
  type: dict
  sample: {owner: 20261123T040500Z-1234567, holder: {user: root, controller: awx-1, pid: 4242},
           acquired_at: "2026-11-23T04:05:00Z", expires_at: "2026-11-23T05:05:00Z"}
held_by:
  description: The lock of another run, when another run holds it (the task then failed, or with V(released) left it).
  returned: when another run holds the lock
  type: dict
  sample: {owner: 20261123T035900Z-99, holder: {user: alice, controller: laptop}}
taken_over:
  description: The expired or abandoned lock this run took over, so the report can say whose it was.
  returned: when a lock was taken over
  type: dict
taken_over_because:
  description: Why the action plugin took a lock over without O(force).
  returned: when the lock of a run that no longer exists on this controller was taken over
  type: str
  sample: the run holding it (ansible-playbook pid 4242 on this controller) no longer exists
"""

from ansible_collections.ops.rollback.plugins.module_utils._common.lock import FileLockStore, run_lock
from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module


def argument_spec():
    return dict(
        path=dict(type='path', required=True),
        owner=dict(type='str', required=True),
        state=dict(type='str', choices=['acquired', 'released'], default='acquired'),
        ttl=dict(type='int', default=3600),
        force=dict(type='bool', default=False),
        holder=dict(type='dict', default={}),
    )


def lock(module):
    params = module.params
    return run_lock(FileLockStore(params['path']), params['state'], params['owner'], holder=params['holder'],
                    ttl=params['ttl'], force=params['force'], check_mode=module.check_mode, warn=module.warn)


def main():
    run_module(argument_spec(), lock)


if __name__ == '__main__':
    main()
