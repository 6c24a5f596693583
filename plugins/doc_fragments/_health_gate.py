# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private doc fragment: the health_check option of modules that gate on health
(module_utils/health/checker.py health_check_argument_spec)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  health_check:
    description:
      - A health check, as M(ops.rollback.health_check) runs it, with the same options. The module's description says
        when it runs and what a failing check does. It never runs in check mode.
    type: dict
    suboptions:
      endpoints:
        description: The endpoints to probe and what a healthy answer from each looks like.
        type: list
        elements: dict
        required: true
        suboptions:
          url:
            description:
              - Full C(http://) or C(https://) URL to request.
              - The password of C(user:password@) and every query value are masked in the output and logs, as
                M(ops.rollback.health_check) does; prefer O(health_check.endpoints[].headers) for tokens.
            type: str
            required: true
          method:
            description: HTTP method; see M(ops.rollback.health_check).
            type: str
            choices: [GET, HEAD]
            default: GET
          status:
            description: HTTP status code, or list of codes, that counts as healthy.
            type: list
            elements: int
            default: [200]
          body_regex:
            description: Python regular expression that must match somewhere in the body.
            type: str
          json_query:
            description:
              - JMESPath expression evaluated on the JSON body, for example V(status), V(data.version) or V(checks[0].ok).
              - Simple paths need no library. A simple path is a key, a dotted path, list indexes (V(items[-1])), or any
                of these with quoted keys (V("my-key".up)); a missing key, an index out of range or a step into the wrong
                type gives V(null), as in JMESPath.
              - Any other expression, such as a filter, a projection or a function, needs C(jmespath) on the host.
            type: str
          equals:
            description: Value the result of O(health_check.endpoints[].json_query) must equal.
            type: raw
          max_latency_ms:
            description: Slowest acceptable answer in milliseconds.
            type: int
          headers:
            description: HTTP headers to send; the values are secret and hidden from logs and output.
            type: dict
          validate_certs:
            description: Validate the server's TLS certificate.
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
        description: Seconds each request may take, more than zero. Fractions of a second are allowed, for example V(0.5).
        type: float
        default: 5
      successes:
        description:
          - Consecutive passing rounds needed; not more than O(health_check.retries).
          - The default V(1), like the C(successThreshold) of a Kubernetes probe, passes on the first passing round.
            Raise it for a soak.
        type: int
        default: 1
      use_proxy:
        description: Use the proxy from the C(http_proxy)/C(https_proxy) environment variables.
        type: bool
        default: true
"""
