#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: health_check
short_description: Check that HTTP endpoints are healthy, and stay healthy, before and after a rollback
version_added: "0.1.0"
description:
  - Probes one or more HTTP(S) endpoints in rounds. A round probes every endpoint once; it passes when every
    endpoint answers as expected.
  - The check passes once O(successes) consecutive rounds pass, by default the first passing round. With
    O(successes) above V(1), a failing round resets that streak, so a service that flaps between healthy and
    unhealthy does not pass. The check fails after O(retries) rounds without such a streak, and reports for every
    endpoint why its last failure happened.
  - An answer is healthy when its status is one of O(endpoints[].status), the body matches
    O(endpoints[].body_regex), the JMESPath O(endpoints[].json_query) gives O(endpoints[].equals), and it arrived
    within O(endpoints[].max_latency_ms). Each of these is checked only when set.
  - Requests use Ansible's own HTTP client, so proxy environment variables and TLS validation behave as in
    M(ansible.builtin.uri).
  - The module runs on the managed host, so C(127.0.0.1) is that host's loopback. Use C(delegate_to) to check from
    elsewhere.
author: ops.rollback maintainers (!UNKNOWN)
requirements:
  - jmespath on the host that runs the check, only for an O(endpoints[].json_query) that is more than a simple path
    of keys and list indexes.
options:
  endpoints:
    description: The endpoints to probe in every round, and what a healthy answer from each looks like.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description:
          - Full C(http://) or C(https://) URL to request.
          - Credentials in the URL are masked as C(********) in the output and logs, that is the password of a
            C(user:password@) and the value of every query parameter (C(?token=********)). This covers the results,
            messages and errors of the module, its invocation (shown with C(-vvv) and logged on the managed host) and
            the timeline file of P(ops.rollback.timeline#callback). The scheme, user name, host, port, path and
            query keys stay readable, so a failing endpoint can still be told apart.
          - A value of 8 characters or more is masked wherever it appears in the output; a shorter one only in the URL,
            so that short values such as V(1) or V(json) do not blank unrelated text.
          - Prefer O(endpoints[].headers) for tokens, for example C(Authorization) with a bearer token. A URL also ends up
            in the access logs of the server and of any proxy in between.
        type: str
        required: true
      method:
        description: HTTP method. V(HEAD) skips the body, so do not combine it with O(endpoints[].body_regex) or O(endpoints[].json_query).
        type: str
        choices: [GET, HEAD]
        default: GET
      status:
        description:
          - HTTP status code, or list of codes, that counts as healthy.
          - Redirects are followed; the status of the final answer counts.
        type: list
        elements: int
        default: [200]
      body_regex:
        description: Python regular expression that must match somewhere in the body (C(re.search)).
        type: str
      json_query:
        description:
          - JMESPath expression evaluated on the JSON body, for example V(status), V(checks.db) or V(checks[0].ok).
          - Simple paths need no library, so they work on a managed host with only Python's standard library. A simple
            path is a key (V(status)), a dotted path (V(data.version)), list indexes (V(checks[0].ok), V(items[-1]),
            V(a.b[2].c)), or any of these with quoted keys (V("my-key".up)). As in JMESPath, a missing key, an index
            out of range or a step into the wrong type gives V(null).
          - Any other expression, such as a filter V(checks[?status=='down']), a projection or a function, needs the
            Python library C(jmespath) on the host that runs the check.
          - Without O(endpoints[].equals), the result must be non-empty (not null, false, an empty string, list or mapping).
        type: str
      equals:
        description:
          - Value the result of O(endpoints[].json_query) must equal. Types matter, V(1) is not V("1") and V(true) is not V(1).
          - Requires O(endpoints[].json_query).
        type: raw
      max_latency_ms:
        description:
          - Slowest acceptable answer in milliseconds, from sending the request to having read the body.
          - A slower answer fails its round even when everything else is right. Omit to accept any answer within O(timeout).
        type: int
      headers:
        description:
          - HTTP headers to send, for example an C(Authorization) token.
          - Treated as secret, the values are hidden from logs and output.
        type: dict
      validate_certs:
        description: Validate the server's TLS certificate. Set to V(false) only for self-signed test endpoints.
        type: bool
        default: true
  retries:
    description: Most rounds to run before the check fails.
    type: int
    default: 10
  delay:
    description: Seconds to wait between rounds, zero or more. Fractions of a second are allowed, for example V(0.5).
    type: float
    default: 3
  timeout:
    description:
      - Seconds each request may take before it counts as failed (C(timed out)), more than zero. Fractions of a second
        are allowed, for example V(0.5).
    type: float
    default: 5
  successes:
    description:
      - Consecutive passing rounds needed for the check to pass. A failing round starts the count again.
      - The default V(1), like the C(successThreshold) of a Kubernetes probe, passes on the first passing round. Raise
        it for a soak, to see a service that was just restarted stay healthy for several rounds.
      - Must not be more than O(retries).
    type: int
    default: 1
  use_proxy:
    description: Use the proxy from the C(http_proxy)/C(https_proxy) environment variables (honouring C(no_proxy)).
    type: bool
    default: true
extends_documentation_fragment:
  - ops.rollback._attributes.read_only
  - ops.rollback._attributes.action_group_verify
notes:
  - The module never changes anything and always reports RV(changed=false); on failure it still returns
    RV(endpoints) with each endpoint's RV(endpoints[].reason).
  - Latencies come from the host that runs the module; with C(delegate_to) they include the network in between.
seealso:
  - module: ansible.builtin.uri
    description: Single HTTP request with full control over the request and the response.
  - module: ansible.builtin.wait_for
    description: Wait for a port to open, without looking at the HTTP answer.
  - module: ops.rollback.release_switch
  - name: JMESPath tutorial
    description: The query language of O(endpoints[].json_query); only expressions beyond simple paths need C(jmespath).
    link: https://jmespath.org/tutorial.html
"""

EXAMPLES = r"""
- name: Wait until the application answers 200
  ops.rollback.health_check:
    endpoints:
      - url: http://127.0.0.1:8000/health

- name: Verify the rolled-back release by its health JSON, page content and latency, three rounds in a row
  ops.rollback.health_check:
    endpoints:
      - url: http://127.0.0.1:8000/health
        json_query: status
        equals: ok
        max_latency_ms: 500
      - url: http://127.0.0.1:8000/
        status: [200, 304]
        body_regex: '<title>Shop</title>'
    retries: 20
    delay: 2
    successes: 3
  register: health

- name: Show the p95 latency of the check
  ansible.builtin.debug:
    msg: "Healthy after {{ health.rounds }} rounds, p95 latency {{ health.p95_latency_ms }} ms"

- name: Check a nested version and a list item, which needs no jmespath library
  ops.rollback.health_check:
    endpoints:
      - url: http://127.0.0.1:8000/health
        json_query: data.version
        equals: "2.4.1"
      - url: http://127.0.0.1:8000/health
        json_query: checks[0].ok
        equals: true
    retries: 10
    delay: 0.5

- name: Require that no check reports down, with a JMESPath filter (needs jmespath on the managed host)
  ops.rollback.health_check:
    endpoints:
      - url: http://127.0.0.1:8000/health
        json_query: "length(checks[?status == 'down'])"
        equals: 0

- name: Check an endpoint that needs a token, on a self-signed certificate
  ops.rollback.health_check:
    endpoints:
      - url: https://127.0.0.1:8443/ready
        headers:
          Authorization: "Bearer {{ health_token }}"
        validate_certs: false
    timeout: 2
    retries: 5

- name: Check from the controller instead of the managed host
  ops.rollback.health_check:
    endpoints:
      - url: "http://{{ inventory_hostname }}:8000/health"
  delegate_to: localhost

- name: Use longer checks for every health_check in this play
  module_defaults:
    group/ops.rollback.verify:
      retries: 30
      delay: 5
  block:
    - name: Check health with the play's defaults
      ops.rollback.health_check:
        endpoints:
          - url: http://127.0.0.1:8000/health
"""

RETURN = r"""
changed:
  description: Always V(false), the module only reads.
  returned: always
  type: bool
  sample: false
passed:
  description: Whether O(successes) consecutive rounds (by default one round) passed within O(retries) rounds.
  returned: always
  type: bool
  sample: true
rounds:
  description: Rounds run, at most O(retries).
  returned: always
  type: int
  sample: 3
p95_latency_ms:
  description: 95th percentile latency in milliseconds over every answer from every endpoint; V(null) when none answered.
  returned: always
  type: int
  sample: 41
endpoints:
  description: One entry per O(endpoints) item, in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The URL probed.
      returned: always
      type: str
      sample: http://127.0.0.1:8000/health
    ok:
      description: Whether the endpoint passed its last attempt.
      returned: always
      type: bool
      sample: true
    status:
      description: HTTP status of the last attempt; V(null) when it got no answer.
      returned: always
      type: int
      sample: 200
    latency_ms:
      description: Latency of the last attempt in milliseconds; V(null) when it got no answer.
      returned: always
      type: int
      sample: 38
    p95_latency_ms:
      description: 95th percentile latency over every answer from this endpoint; V(null) when none answered.
      returned: always
      type: int
      sample: 41
    attempts:
      description: Requests sent to this endpoint (one per round).
      returned: always
      type: int
      sample: 3
    failures:
      description: Attempts that failed.
      returned: always
      type: int
      sample: 0
    reason:
      description:
        - Why the last failed attempt failed, for example V(status 500, expected 200), V(connection refused),
          V(timed out after 5 s), V(latency 812 ms over max_latency_ms 500) or
          V(json_query 'status' gave 'failing', expected 'ok').
        - An O(endpoints[].json_query) that fails while it is evaluated, for example a JMESPath function given a
          value of the wrong type, gives V(json_query ... could not be evaluated on the body) with the cause.
        - V(null) when the endpoint never failed. Set even when a later attempt passed.
      returned: always
      type: str
      sample: status 500, expected 200
"""

from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils.health.checker import (
    check_health,
    health_check_argument_spec,
)


def main():
    run_module(health_check_argument_spec(), lambda module: check_health(module.params))


if __name__ == '__main__':
    main()
