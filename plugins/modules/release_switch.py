#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: release_switch
short_description: Switch, list and prune symlinked releases atomically
version_added: "0.1.0"
description:
  - Manages a Capistrano-style release tree on a host, C(<path>/releases/<version>) with a C(<path>/current) link,
    as left by Capistrano, ansistrano and most deploy scripts.
  - O(state=switched) points C(current) at a release atomically. A new link is created beside the old one and
    renamed over it, so C(current) is never missing, not even for an instant.
  - A release is switched to only if it exists and carries the O(complete_marker) file that a finished deploy leaves.
  - Without O(version), switches to the previous good version of this host. That is the newest version older than the
    one rolled back from that the release ledger (M(ops.rollback.release_ledger)) records as verified good. While the
    ledger is empty, it is the complete release just before the current one in version order. RV(rule) says which rule
    was used. For a fleet, choose the target once on the controller (the P(ops.rollback.fleet_targets#filter) filter
    over every host's O(state=listed) RV(history), as the rollback playbook does) and pass O(version) to every host.
  - The switch runs through the collection's rollback core, as every platform's rollback does; options that do not
    apply to the chosen O(state) are refused.
  - The current version is read from where C(current) points, never from modification times.
  - O(health_check), with O(state=switched), once C(current) points at the release and the application was restarted,
    checks that it is healthy before the task returns. Switch, restart and health gate then cost one round trip to the
    host instead of two. The check also runs when the host already runs the release, so a second run still proves it
    healthy. An unhealthy release is left current and the task fails with the check's RV(health) result. It is not
    pointed back, because the release that ran before was already stopped. The endpoints are validated before
    anything is switched.
author: ops.rollback maintainers (!UNKNOWN)
options:
  path:
    description: Application root that holds the releases directory and the current link.
    type: path
    required: true
  version:
    description:
      - Release to switch to, as named in the releases directory (for example C(v1.2.9)).
      - A version containing C(/), C(..), NUL, whitespace or shell metacharacters is refused before anything is touched.
      - Omit it to switch to the previous good version (see the description).
    type: str
  state:
    description:
      - V(switched) points C(current) at the release.
      - V(listed) only reports the releases and the current one.
      - V(pruned) removes old releases, keeping the O(keep) newest and always the current one.
    type: str
    choices: [switched, listed, pruned]
    default: switched
  restart_command:
    description:
      - Command that restarts the application after a switch, as an argument list run without a shell, one item per
        argument, for example V([/usr/bin/systemctl, restart, demo]). A single item such as
        V(/usr/bin/systemctl restart demo) is taken as the name of one program, which does not exist.
      - The command runs in a session of its own, with its standard input from C(/dev/null), and must finish within
        O(restart_timeout). Processes it leaves running (an application it starts) keep running; they should not write
        to its standard output or error, which are read only until the command exits.
      - When it exits with a non-zero code, cannot be executed (no such file, not executable, a missing C(#!)
        interpreter) or is killed after O(restart_timeout), C(current) is pointed back at the release that is still
        running and the task fails saying why, with RV(restarted=false) and RV(to_version) the release that still
        serves. Nothing is left half done.
      - If a run is interrupted between the switch and a successful restart, the next run restarts, even though
        C(current) already points at the target.
    type: list
    elements: str
  restart_timeout:
    description:
      - Seconds O(restart_command) may run, more than zero; fractions of a second are allowed, for example V(0.5).
      - A restart still running after that is killed with every process it started (its process group is sent
        C(SIGTERM), then C(SIGKILL) a few seconds later) and counts as a failed restart, as described in
        O(restart_command).
      - Validated before anything is switched.
    type: float
    default: 120
    version_added: "0.2.0"
  rolled_back_from:
    description:
      - With O(state=switched), the version this rollback leaves. It is recorded as V(bad) in the release ledger
        before C(current) is touched, so a run interrupted after the switch never loses that verdict, and it is
        recorded also when the host already runs O(version) (the re-run of an interrupted rollback).
      - Omit it for a plain switch, such as a deploy, that says nothing about the version it leaves.
    type: str
    version_added: "0.2.0"
  note:
    description: With O(rolled_back_from), the note stored with its verdict, for example why the rollback ran.
    type: str
    version_added: "0.2.0"
  keep:
    description: With O(state=pruned), how many of the newest releases to keep (the current one is always kept).
    type: int
  releases_dir:
    description: Directory under O(path) that holds one directory per release.
    type: str
    default: releases
  current_link:
    description: Name of the link under O(path) that points at the running release.
    type: str
    default: current
  complete_marker:
    description: File that a finished deploy leaves in a release; a release without it is refused.
    type: str
    default: REVISION
  ledger_file:
    description: Release ledger under O(path); read to choose the previous version and to report each release's verdict.
    type: str
    default: rollback-ledger.json
  lock:
    description:
      - With O(state=listed), take this host's rollback lock first, as M(ops.rollback.rollback_lock) does, then list.
        What is reported is what the release tree is under this run's lock, and one round trip does both. A lock held
        by another run fails the task, naming that run, and nothing is read or changed.
      - Not taken in check mode. Release it with M(ops.rollback.rollback_lock) and O(ops.rollback.rollback_lock#module:state=released).
    type: dict
    version_added: "0.2.0"
    suboptions:
      owner:
        description: Identifier of this run (the rollback playbook's run id).
        type: str
        required: true
      file:
        description: The lock file under O(path).
        type: str
        default: .ops-rollback.lock
      ttl:
        description: Seconds after which the lock is expired and another run may take it over.
        type: int
        default: 3600
      force:
        description: Take the lock over even from a run that looks alive. Use only once you know that run is gone.
        type: bool
        default: false
      holder:
        description: Who takes the lock; filled in by the action plugin (C(user), C(controller), C(pid)).
        type: dict
        default: {}
extends_documentation_fragment:
  - ops.rollback._health_gate
  - ops.rollback._attributes
  - ops.rollback._attributes.action_group_release
attributes:
  action:
    description: Has an action plugin that runs on the controller; with O(lock), it fills in O(lock.holder) and takes
      over a lock left by a run of this controller that no longer exists, as M(ops.rollback.rollback_lock) does.
    support: full
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: ops.rollback.release_ledger
  - module: ops.rollback.rollback_lock
  - module: ops.rollback.health_check
"""

EXAMPLES = r"""
- name: Roll the application back to v1.2.9
  ops.rollback.release_switch:
    path: /srv/demo
    version: v1.2.9

- name: Roll back to v1.2.9 and restart the application
  ops.rollback.release_switch:
    path: /srv/demo
    version: v1.2.9
    restart_command: [/usr/bin/systemctl, restart, demo]

- name: Roll back to v1.2.9 and restart, pointing current back if the restart takes over 30 seconds
  ops.rollback.release_switch:
    path: /srv/demo
    version: v1.2.9
    restart_command: [/usr/bin/systemctl, restart, demo]
    restart_timeout: 30

- name: Roll back to v1.2.9, restart, and wait until the release answers as v1.2.9 and healthy
  ops.rollback.release_switch:
    path: /srv/demo
    version: v1.2.9
    restart_command: [/usr/bin/systemctl, restart, demo]
    health_check:
      endpoints:
        - url: http://127.0.0.1:8000/health
        - url: http://127.0.0.1:8000/version
          json_query: version
          equals: v1.2.9
      delay: 1
      successes: 2

- name: Roll back from v1.3.0 to v1.2.9, recording v1.3.0 as bad before the switch
  ops.rollback.release_switch:
    path: /srv/demo
    version: v1.2.9
    rolled_back_from: v1.3.0
    note: "error rate 8% after the v1.3.0 deploy"
    restart_command: [/usr/bin/systemctl, restart, demo]

- name: Roll back to the previous good version of this host
  ops.rollback.release_switch:
    path: /srv/demo
  register: switch

- name: List releases and the current one
  ops.rollback.release_switch:
    path: /srv/demo
    state: listed
  register: releases

- name: Take this host's rollback lock, then list releases under it
  ops.rollback.release_switch:
    path: /srv/demo
    state: listed
    lock:
      owner: "{{ run_id }}"
  register: releases

- name: Keep only the five newest releases
  ops.rollback.release_switch:
    path: /srv/demo
    state: pruned
    keep: 5
"""

RETURN = r"""
from_version:
  description:
    - Version C(current) pointed to before the task (null when there was no link).
    - When the restart failed, could not be executed or was killed, the release still running, as RV(to_version).
  returned: always
  type: str
  sample: v1.3.0
to_version:
  description:
    - Version C(current) points to after the task (in check mode, would point to), also when the task failed.
    - When the restart failed, could not be executed or was killed, the release still running, which C(current)
      points back at.
  returned: always
  type: str
  sample: v1.2.9
restarted:
  description:
    - Whether O(restart_command) ran and succeeded (in check mode, would run).
    - V(false) when the task failed before the restart or on it (non-zero exit, not executable, killed after
      O(restart_timeout)); V(true) when it failed on O(health_check) after a restart.
  returned: when O(state=switched)
  type: bool
  sample: true
rc:
  description: Exit code of O(restart_command); null when it could not be executed or was killed.
  returned: when the restart failed
  type: int
  sample: 5
stdout:
  description: The end (64 KiB at most) of what O(restart_command) wrote to its standard output.
  returned: when the restart failed
  type: str
  sample: ""
stderr:
  description: The end (64 KiB at most) of what O(restart_command) wrote to its standard error.
  returned: when the restart failed
  type: str
  sample: "Failed to restart demo.service: Unit demo.service not found."
health:
  description:
    - Result of O(health_check), as M(ops.rollback.health_check) returns it (RV(ops.rollback.health_check#module:passed),
      RV(ops.rollback.health_check#module:rounds), RV(ops.rollback.health_check#module:p95_latency_ms),
      RV(ops.rollback.health_check#module:endpoints)), also when the task failed on it.
  returned: when O(health_check) is set, O(state=switched) and not in check mode
  type: dict
  sample: {passed: true, rounds: 2, p95_latency_ms: 3, endpoints: [{url: http://127.0.0.1:8000/health, ok: true,
           status: 200, latency_ms: 2, p95_latency_ms: 3, attempts: 2, failures: 0, reason: null}]}
recorded:
  description: The verdict O(rolled_back_from) wrote in the release ledger (in check mode, would write).
  returned: when O(rolled_back_from) was not yet recorded as bad
  type: dict
  sample: {v1.3.0: bad}
plan:
  description: What the switch did (in check mode, would do), in words; empty when nothing needed changing.
  returned: when O(state=switched)
  type: list
  elements: str
  sample: [point /srv/demo/current at /srv/demo/releases/v1.2.9, "restart: /usr/bin/systemctl restart demo"]
lock:
  description: The lock O(lock) took (or already held), as M(ops.rollback.rollback_lock) returns it.
  returned: when O(lock) is set and not in check mode
  type: dict
  sample: {owner: 20261123T035900Z-99, holder: {user: alice, controller: laptop, pid: 4242}}
current:
  description: The version C(current) points to (as RV(from_version)); with RV(history), RV(good), RV(bad) and RV(syntax)
    the state the rollback playbook reads from each host.
  returned: when O(state=listed)
  type: str
  sample: v1.3.0
current_missing:
  description:
    - The release C(current) points at when that release does not exist (pruned, or never deployed); RV(current) is
      then null. Such a version is never rolled back from nor recorded in the ledger.
  returned: when O(state=listed) and C(current) points at a missing release
  type: str
  sample: v1.3.5
good:
  description: Versions whose newest ledger verdict is V(good).
  returned: when O(state=listed)
  type: list
  elements: str
  sample: [v1.2.8, v1.2.9]
bad:
  description: Versions whose newest ledger verdict is V(bad) (rolled back from).
  returned: when O(state=listed)
  type: list
  elements: str
  sample: [v1.3.0]
syntax:
  description: The version syntax of symlinked releases, V(release) (path-safe release names).
  returned: when O(state=listed)
  type: str
  sample: release
history:
  description:
    - Every version the release tree or the ledger knows, oldest first in version order, as the rollback core reads
      it. Each has C(version), C(revision) (always null, releases have none), C(deployable), and C(why) when it is
      not deployable (no release directory, or no O(complete_marker)).
  returned: when O(state=listed)
  type: list
  elements: dict
  sample: [{version: v1.2.8, revision: null, deployable: true}, {version: v1.2.7, revision: null, deployable: false,
           why: "there is no release directory /srv/demo/releases/v1.2.7 (pruned, or never deployed here)"}]
rule:
  description: How the target was chosen, V(explicit), V(ledger) or V(release-before-current).
  returned: when O(state=switched)
  type: str
  sample: explicit
release:
  description: Directory of the release C(current) points to after the task.
  returned: when a release is current
  type: str
  sample: /srv/demo/releases/v1.2.9
releases:
  description: Every release directory, oldest first in version order.
  returned: always
  type: list
  elements: dict
  contains:
    version:
      description: Release name.
      type: str
      sample: v1.2.9
    complete:
      description: Whether the release carries the complete marker.
      type: bool
      sample: true
    current:
      description: Whether C(current) points to it (after the task).
      type: bool
      sample: true
    verdict:
      description: The release ledger's verdict, V(good), V(bad) or null when it has none.
      type: str
      sample: good
removed:
  description: Releases removed (or that would be removed in check mode).
  returned: when O(state=pruned)
  type: list
  elements: str
  sample: [v1.2.6, v1.2.7]
"""

from ansible_collections.ops.rollback.plugins.module_utils._common.lock import lock_argument_spec
from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils.health.checker import (
    checker_from_params,
    health_check_argument_spec,
)
from ansible_collections.ops.rollback.plugins.module_utils.release.driver import (
    DEFAULT_LOCK_FILE,
    DEFAULT_RESTART_TIMEOUT,
    SymlinkDriver,
)
from ansible_collections.ops.rollback.plugins.module_utils.release.ledger import DEFAULT_LEDGER_FILE, FileLedger
from ansible_collections.ops.rollback.plugins.module_utils.release.switch import run_release_switch
from ansible_collections.ops.rollback.plugins.module_utils.release.tree import ReleaseTree


def argument_spec():
    return dict(
        path=dict(type='path', required=True),
        version=dict(type='str'),
        state=dict(type='str', default='switched', choices=['switched', 'listed', 'pruned']),
        restart_command=dict(type='list', elements='str'),
        restart_timeout=dict(type='float', default=DEFAULT_RESTART_TIMEOUT),
        health_check=dict(type='dict', options=health_check_argument_spec()),
        rolled_back_from=dict(type='str'),
        note=dict(type='str'),
        keep=dict(type='int'),
        releases_dir=dict(type='str', default='releases'),
        current_link=dict(type='str', default='current'),
        complete_marker=dict(type='str', default='REVISION'),
        ledger_file=dict(type='str', default=DEFAULT_LEDGER_FILE),
        lock=lock_argument_spec(file=dict(type='str', default=DEFAULT_LOCK_FILE)),
    )


# Options that only mean something for some states; elsewhere they are refused.
STATE_OPTIONS = {
    'version': ['switched'],
    'restart_command': ['switched'],
    'health_check': ['switched'],
    'rolled_back_from': ['switched'],
    'note': ['switched'],
    'lock': ['listed'],
    'keep': ['pruned'],
}


def switch(module):
    params = module.params
    # Built first: a bad endpoint is refused before anything is switched.
    health = checker_from_params(params['health_check'], 'health_check.endpoints') if params['health_check'] else None
    tree = ReleaseTree(params['path'], params['releases_dir'], params['current_link'], params['complete_marker'])
    driver = SymlinkDriver(tree, FileLedger.beside(tree.path, params['ledger_file']),
                           restart_command=params['restart_command'], restart_timeout=params['restart_timeout'])
    return run_release_switch(driver, state=params['state'], version=params['version'], keep=params['keep'],
                              check_mode=module.check_mode, health=health,
                              rolled_back_from=params['rolled_back_from'], note=params['note'],
                              lock=params['lock'], warn=module.warn)


def main():
    run_module(argument_spec(), switch, state_options=STATE_OPTIONS, required_if=[('state', 'pruned', ['keep'])])


if __name__ == '__main__':
    main()
