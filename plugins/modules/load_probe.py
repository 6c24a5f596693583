#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: load_probe
short_description: Send steady HTTP traffic during a rollback drill and count what failed
version_added: "0.5.0"
description:
  - A load generator for drills. It sends O(rate) C(GET) requests a second in all, round-robin over O(urls), each
    on its own connection, and counts the requests that failed as a customer would see them, by reason.
  - A request fails on a connection error, on no answer within O(timeout) seconds, or on a status other than
    O(expect_status). Redirects are not followed; a redirect is a status like any other.
  - The probe stops once O(stop_file) exists, or after O(max_seconds) at the latest, then waits for the requests
    still in flight and returns the counts.
  - Meant to run in the background on the controller, C(delegate_to=localhost) with C(async) and C(poll=0),
    and be collected later with M(ansible.builtin.async_status) once the stop file was created. The role
    P(ops.rollback.drill#role) does exactly that (entry points C(load_start) and C(scorecard)).
  - Uses Python's standard library only, so it can also run on a managed host.
author: ops.rollback maintainers (!UNKNOWN)
options:
  urls:
    description:
      - Full C(http://) or C(https://) URLs to request, in turn.
      - HTTPS certificates are validated against the system's trusted CAs.
    type: list
    elements: str
    required: true
  rate:
    description:
      - Requests a second, over all O(urls) together, more than 0. Fractions are allowed, for example V(0.5).
      - The schedule is fixed from the start, so a slow answer does not lower the rate; at most 256 requests wait
        for an answer at once, and a request that finds all 256 busy counts as V(timeout).
    type: float
    default: 20
  timeout:
    description: Seconds a request may take, from connecting to reading the whole answer, before it counts as V(timeout).
    type: float
    default: 2
  expect_status:
    description: The HTTP status of a good answer; any other status counts as a failure named C(HTTP <status>).
    type: int
    default: 200
  stop_file:
    description:
      - The probe stops as soon as this file exists (checked before every request). Use a path that does not exist
        yet, and create it to stop the probe.
      - Without it, the probe runs for O(max_seconds).
    type: path
  max_seconds:
    description: The most seconds the probe runs, whether or not O(stop_file) appeared. Set C(async) a little higher.
    type: float
    default: 900
extends_documentation_fragment:
  - ops.rollback._attributes.read_only
attributes:
  check_mode:
    details:
      - In check mode the module sends nothing; it checks its options and says in RV(msg) what it would do.
notes:
  - The module only reads and always reports RV(changed=false).
  - Times are the controller's (or the managed host's) clock, in UTC. A request is counted at the time it was
    sent, so RV(first_failure) and RV(last_failure) are when the first and the last failed request left.
seealso:
  - module: ops.rollback.health_check
    description: Wait until endpoints are healthy, instead of measuring how long they were not.
  - module: ansible.builtin.async_status
    description: Collect the result of the probe started in the background.
  - name: Asynchronous actions and polling
    description: How C(async) and C(poll) run a task in the background.
    link: https://docs.ansible.com/ansible/latest/playbook_guide/playbooks_async.html
"""

EXAMPLES = r"""
- name: Create a directory for the stop file
  ansible.builtin.tempfile:
    state: directory
    suffix: .drill
  delegate_to: localhost
  register: drill_dir

- name: Start 20 requests a second against both hosts, in the background
  ops.rollback.load_probe:
    urls:
      - http://10.0.0.11:8000/health
      - http://10.0.0.12:8000/health
    rate: 20
    stop_file: "{{ drill_dir.path }}/stop"
    max_seconds: 900
  delegate_to: localhost
  async: 960
  poll: 0
  register: drill_probe

- name: Deploy the broken release, roll back, ... (the drill itself)
  ansible.builtin.debug:
    msg: the drill runs here

- name: Stop the probe
  ansible.builtin.file:
    path: "{{ drill_dir.path }}/stop"
    state: touch
    mode: "0600"
  delegate_to: localhost

- name: Wait for the probe's counts
  ansible.builtin.async_status:
    jid: "{{ drill_probe.ansible_job_id }}"
  delegate_to: localhost
  register: drill_counts
  until: drill_counts.finished
  retries: 30
  delay: 1

- name: Show what the customers saw
  ansible.builtin.debug:
    msg: >-
      {{ drill_counts.failed_requests }} of {{ drill_counts.requests }} requests failed
      ({{ drill_counts.failures }}), from {{ drill_counts.first_failure }} to {{ drill_counts.last_failure }}

- name: Probe one URL for a minute, in the foreground, where 204 is the good answer
  ops.rollback.load_probe:
    urls: [http://127.0.0.1:8000/ping]
    expect_status: 204
    rate: 5
    max_seconds: 60
"""

RETURN = r"""
changed:
  description: Always V(false), the module only reads.
  returned: always
  type: bool
  sample: false
msg:
  description: What the probe would do.
  returned: in check mode
  type: str
  sample: Would send 20 GET requests a second, round-robin over 1 URL(s) (http://127.0.0.1:8000/health), ...
requests:
  description: Requests sent (and answered, failed or timed out). V(0) in check mode.
  returned: always
  type: int
  sample: 1200
failed_requests:
  description: Requests that failed, for any reason.
  returned: always
  type: int
  sample: 37
failures:
  description: Failed requests by reason, for example V(HTTP 500), V(timeout), V(connection refused), V(connection reset) or V(connection closed).
  returned: always
  type: dict
  sample: {"HTTP 500": 30, "connection refused": 7}
first_failure:
  description: When the first failed request was sent, UTC ISO 8601 with milliseconds; V(null) when none failed.
  returned: always
  type: str
  sample: "2026-03-01T12:00:04.250Z"
last_failure:
  description: When the last failed request was sent, UTC ISO 8601 with milliseconds; V(null) when none failed.
  returned: always
  type: str
  sample: "2026-03-01T12:00:41.800Z"
started_at:
  description:
    - When the probe started, UTC ISO 8601 with milliseconds; V(null) in check mode.
    - Not C(started), which M(ansible.builtin.async_status) reserves for its own flag.
  returned: always
  type: str
  sample: "2026-03-01T12:00:00.003Z"
stopped_at:
  description: When the probe stopped sending, UTC ISO 8601 with milliseconds; V(null) in check mode.
  returned: always
  type: str
  sample: "2026-03-01T12:01:00.011Z"
seconds:
  description: Seconds from RV(started_at) to RV(stopped_at).
  returned: always
  type: float
  sample: 60.008
stopped_by:
  description: Why the probe stopped, V(stop_file) or V(max_seconds); V(null) in check mode.
  returned: always
  type: str
  sample: stop_file
per_url:
  description: The counts of each URL of O(urls), by URL.
  returned: always
  type: dict
  sample: {"http://10.0.0.11:8000/health": {"requests": 600, "failed_requests": 30, "failures": {"HTTP 500": 30}}}
"""

from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils.drill.load import load_probe_argument_spec, run_load_probe


def main():
    run_module(load_probe_argument_spec(), lambda module: run_load_probe(module.params, module.check_mode))


if __name__ == '__main__':
    main()
