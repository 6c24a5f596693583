#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lb_pools
short_description: The colors of a blue-green service on hosts behind nginx, the version each serves, its ledger and lock
version_added: "0.4.0"
description:
  - Runs on the load balancer host, with python3's standard library only. A blue-green service on plain hosts is one
    nginx upstream block (O(upstream) in O(upstream_file)) in front of several pools of servers, its colors
    (O(colors), for example C(blue) and C(green)). This module is the state of such a service for the rollback
    playbook (the C(blue_green) role); the switch itself is M(ops.rollback.lb_switch) with O(ignore:backend=nginx).
  - O(state=listed) reads the upstream block nginx loads and gives each color its share of the traffic (the weights of
    its servers that are neither C(down) nor C(backup)). The live color is the one with the largest share. It asks every
    server of every color for its version at O(version_url). A color whose servers all answer the same version has
    that version; one with a server that does not answer, or with servers on different versions, has none, and
    RV(colors) says why. RV(history) lists the colors' versions in version order (semver, a C(v) prefix ignored);
    RV(current) is the live color's version.
  - The release ledger (verdicts good and bad, as M(ops.rollback.release_ledger) writes them) and the rollback lock are
    files in O(state_dir). With O(lock), O(state=listed) takes the lock before it reads anything, so what a run plans
    from is what no other run changes. O(state=unlocked) releases it, O(state=recorded) writes the verdicts.
author: ops.rollback maintainers (!UNKNOWN)
options:
  colors:
    description:
      - Color -> the addresses of its servers (C(host:port), as nginx's C(server) directive takes them), at least two
        colors. A server belongs to one color only.
    type: dict
  upstream_file:
    description: The file holding the upstream block (included by nginx's main config).
    type: path
    required: true
  upstream:
    description: The name of the upstream block.
    type: str
    required: true
  state_dir:
    description: The directory on the load balancer host of the service's ledger and lock (C(.ops-rollback.lock)) files.
      It must exist.
    type: path
    required: true
  version_url:
    description:
      - Where each server says its version; C({address}) is replaced by the server's address.
    type: str
    default: "http://{address}/version"
  version_query:
    description:
      - A simple path into the JSON answer of O(version_url) (C(version), C(data.version), C(build[0].tag)).
      - Empty, the whole body (stripped) is the version.
    type: str
    default: version
  timeout:
    description: Seconds each version request may take.
    type: int
    default: 5
  state:
    description:
      - V(listed) reads the colors, their versions and shares, and the ledger's verdicts. With O(lock), it takes the
        rollback lock first.
      - V(recorded) writes the ledger's verdicts, O(version) good and O(rolled_back_from) bad, once a rollback was
        verified.
      - V(unlocked) releases the rollback lock of O(lock.owner); a lock held by another run is left alone, with a
        warning.
    type: str
    choices: [listed, recorded, unlocked]
    default: listed
  version:
    description: With O(state=recorded), the version verified good.
    type: str
  rolled_back_from:
    description: With O(state=recorded), the version the rollback left, recorded bad in the same write.
    type: str
  note:
    description: With O(state=recorded), why, stored with the verdicts (the incident and its reason).
    type: str
extends_documentation_fragment:
  - ops.rollback._attributes
  - ops.rollback._lock
attributes:
  action:
    description: Has an action plugin that fills in O(lock.holder) and takes over a lock of a run of this controller
      that no longer exists.
    support: full
  action_group:
    description: Use C(group/ops.rollback.traffic) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - ops.rollback.traffic
  check_mode:
    support: full
    details:
      - O(state=listed) reads as without check mode but takes no lock; the other states report what they would write.
  diff_mode:
    support: full
    details:
      - The ledger's verdicts before and after, with O(state=recorded).
  idempotent:
    support: full
notes:
  - The version requests go from the load balancer host to the servers, as the traffic does.
seealso:
  - module: ops.rollback.lb_switch
  - module: ops.rollback.release_ledger
"""

EXAMPLES = r"""
- name: Take the service's rollback lock, then read which color is live and what each serves
  ops.rollback.lb_pools:
    colors:
      blue: [10.0.0.11:8000, 10.0.0.12:8000]
      green: [10.0.0.21:8000, 10.0.0.22:8000]
    upstream_file: /etc/nginx/upstreams/shop.conf
    upstream: shop
    state_dir: /var/lib/ops-rollback/shop
    lock:
      owner: "{{ rollback_run_id }}"
  register: pools

- name: Say which color is live
  ansible.builtin.debug:
    msg: "{{ pools.live_color }} serves {{ pools.current }} ({{ pools.upstream.shares }})"

- name: Record the rollback verified, v1.2.9 good and v1.3.0 bad
  ops.rollback.lb_pools:
    colors:
      blue: [10.0.0.11:8000, 10.0.0.12:8000]
      green: [10.0.0.21:8000, 10.0.0.22:8000]
    upstream_file: /etc/nginx/upstreams/shop.conf
    upstream: shop
    state_dir: /var/lib/ops-rollback/shop
    state: recorded
    version: v1.2.9
    rolled_back_from: v1.3.0
    note: "INC-4711: 5xx after deploy"

- name: Release the lock
  ops.rollback.lb_pools:
    upstream_file: /etc/nginx/upstreams/shop.conf
    upstream: shop
    state_dir: /var/lib/ops-rollback/shop
    state: unlocked
    lock:
      owner: "{{ rollback_run_id }}"
"""

RETURN = r"""
current:
  description: The version the live color serves; null when no color gets traffic or the live one has no version.
  returned: with O(state=listed)
  type: str
  sample: v1.3.0
history:
  description:
    - One entry per version the colors serve, in version order - C(version), C(color), C(servers), C(share)
      (percent of the traffic), C(current).
  returned: with O(state=listed)
  type: list
  elements: dict
  sample: [{"version": "v1.2.9", "color": "blue", "servers": ["10.0.0.11:8000"], "share": 0.0, "current": false},
           {"version": "v1.3.0", "color": "green", "servers": ["10.0.0.21:8000"], "share": 100.0, "current": true}]
syntax:
  description: The version syntax of this platform, C(release).
  returned: with O(state=listed)
  type: str
  sample: release
good:
  description: The versions the ledger records as verified good.
  returned: with O(state=listed)
  type: list
  elements: str
  sample: [v1.2.9]
bad:
  description: The versions the ledger records as rolled back from.
  returned: with O(state=listed)
  type: list
  elements: str
  sample: [v1.3.0]
colors:
  description:
    - Per color, C(servers), C(share) (percent of the traffic), C(version) (null when its servers do not answer one
      version), C(versions) (each server's answer) and C(why) (why it has no version).
  returned: unless O(state=unlocked)
  type: dict
  sample: {"blue": {"servers": ["10.0.0.11:8000"], "share": 0.0, "version": "v1.2.9",
                    "versions": {"10.0.0.11:8000": "v1.2.9"}}}
live_color:
  description: The color with the largest share of the traffic.
  returned: unless O(state=unlocked)
  type: str
  sample: green
upstream:
  description:
    - The upstream block read - C(name), C(file), C(shares) (percent per color) and C(unknown_servers) (servers of the
      block in no color; their share is under C((other))).
  returned: always
  type: dict
  sample: {"name": "shop", "file": "/etc/nginx/upstreams/shop.conf", "shares": {"blue": 0.0, "green": 100.0},
           "unknown_servers": []}
from_version:
  description: The version the live color serves, before and after (this module switches nothing).
  returned: unless O(state=unlocked)
  type: str
  sample: v1.3.0
to_version:
  description: As RV(from_version).
  returned: unless O(state=unlocked)
  type: str
  sample: v1.3.0
lock:
  description: The lock as taken or released (C(owner), C(expires), C(holder)).
  returned: with O(lock), when the lock was taken or released
  type: dict
held_by:
  description: The lock another run holds, when it refuses this run.
  returned: when another run holds the lock
  type: dict
taken_over:
  description: The lock of another run this run took over (expired, or O(lock.force)).
  returned: when a lock was taken over
  type: dict
entries:
  description: The ledger's entries after the write (in check mode, as they would be).
  returned: with O(state=recorded)
  type: list
  elements: dict
"""

from ansible_collections.ops.rollback.plugins.module_utils._common.lock import lock_argument_spec
from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils._common.states import run_module_state
from ansible_collections.ops.rollback.plugins.module_utils.health.checker import open_url_fetch
from ansible_collections.ops.rollback.plugins.module_utils.traffic.pools import ColorPools

STATE_OPTIONS = {
    'version': ['recorded'],
    'rolled_back_from': ['recorded'],
    'note': ['recorded'],
    'lock': ['listed', 'unlocked'],
}


def argument_spec():
    return dict(
        colors=dict(type='dict'),
        upstream_file=dict(type='path', required=True),
        upstream=dict(type='str', required=True),
        state_dir=dict(type='path', required=True),
        version_url=dict(type='str', default='http://{address}/version'),
        version_query=dict(type='str', default='version'),
        timeout=dict(type='int', default=5),
        state=dict(type='str', default='listed', choices=['listed', 'recorded', 'unlocked']),
        version=dict(type='str'),
        rolled_back_from=dict(type='str'),
        note=dict(type='str'),
        lock=lock_argument_spec(),
    )


def read_pools(module):
    params = module.params
    # Unlocking needs no colors: only the lock file is touched.
    pools = ColorPools(params['colors'] if params['state'] != 'unlocked' else None, params['upstream_file'], params['upstream'], params['state_dir'],
                       fetch=open_url_fetch(), version_url=params['version_url'],
                       version_query=params['version_query'], timeout=params['timeout'])
    return run_module_state(pools, module)


def main():
    run_module(argument_spec(), read_pools, state_options=STATE_OPTIONS,
               required_if=[('state', 'unlocked', ['lock']), ('state', 'recorded', ['version', 'colors']),
                            ('state', 'listed', ['colors'])])


if __name__ == '__main__':
    main()
