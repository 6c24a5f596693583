#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cdn_invalidate
short_description: Invalidate CloudFront caches after a rollback, and wait until it is done
version_added: "0.4.0"
description:
  - After a rollback, the CloudFront edge keeps serving what it cached of the version rolled back from. This module
    invalidates O(paths) of the distribution O(distribution_id), and by default waits until CloudFront reports the
    invalidation completed.
  - With O(caller_reference), the invalidation is made once. A second run finds the invalidation made with the same
    reference among the distribution's 100 newest ones, waits for it if needed and reports RV(changed=false). The
    rollback playbook uses the incident id, so a re-run of the same rollback does not invalidate again.
  - Without O(caller_reference), every run makes a new invalidation.
  - An unknown distribution, paths that do not start with C(/), wrong credentials, a missing permission or an
    unreachable endpoint fail the task before anything is invalidated.
author: ops.rollback maintainers (!UNKNOWN)
options:
  distribution_id:
    description: The id of the CloudFront distribution, for example V(E2QWRUHAPOMQZL).
    type: str
    required: true
  paths:
    description:
      - The paths to invalidate, each starting with C(/). A C(*) at the end matches every path with that prefix, for
        example V(/static/*); V(/*) invalidates everything.
      - Duplicates are removed and the paths are sorted.
    type: list
    elements: str
    required: true
  caller_reference:
    description:
      - A unique reference for this invalidation, for example the incident id. It makes the task idempotent, see the
        description.
    type: str
  wait:
    description: Wait until CloudFront reports the invalidation completed. The status is compared in any case.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait with O(wait). On timeout the task fails with RV(id) and the status, and the invalidation goes
        on in CloudFront.
    type: int
    default: 600
extends_documentation_fragment:
  - ops.rollback._aws_auth
  - ops.rollback._attributes
  - ops.rollback._attributes.action_group_aws
attributes:
  check_mode:
    support: full
    details:
      - Checks that the distribution exists and looks for an invalidation with O(caller_reference); nothing is
        invalidated.
  diff_mode:
    support: full
    details:
      - The paths that would be invalidated.
  idempotent:
    support: partial
    details:
      - Idempotent with O(caller_reference) only.
notes:
  - The credentials need C(cloudfront:GetDistribution), C(cloudfront:CreateInvalidation),
    C(cloudfront:GetInvalidation) and, with O(caller_reference), C(cloudfront:ListInvalidations).
seealso:
  - name: Invalidating files
    description: How CloudFront invalidations work and what they cost.
    link: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Invalidation.html
"""

EXAMPLES = r"""
- name: Invalidate the shop's HTML and assets after rolling back
  ops.rollback.cdn_invalidate:
    distribution_id: E2QWRUHAPOMQZL
    paths:
      - /index.html
      - /static/*
    caller_reference: "{{ rollback_incident_id }}"
    region: us-east-1

- name: Start an invalidation of everything, without waiting for it
  ops.rollback.cdn_invalidate:
    distribution_id: E2QWRUHAPOMQZL
    paths: ["/*"]
    wait: false
"""

RETURN = r"""
changed:
  description: Whether an invalidation was made (or would be, in check mode).
  returned: always
  type: bool
  sample: true
distribution_id:
  description: The distribution, as given.
  returned: always
  type: str
  sample: E2QWRUHAPOMQZL
paths:
  description: The paths invalidated, sorted and without duplicates.
  returned: always
  type: list
  elements: str
  sample: ["/index.html", "/static/*"]
id:
  description: The id of the invalidation (made now, or found by O(caller_reference)).
  returned: success, except in check mode when no invalidation exists yet
  type: str
  sample: I2J0I21PCUYOIK
status:
  description: The status CloudFront reports, as it spells it (C(Completed) once done, C(InProgress) before).
  returned: success, except in check mode when no invalidation exists yet
  type: str
  sample: Completed
caller_reference:
  description: The caller reference of the invalidation.
  returned: always
  type: str
  sample: INC-20261130-2210
wait_seconds:
  description: Seconds spent waiting for the invalidation.
  returned: when the task waited
  type: float
  sample: 41.2
diff:
  description: The paths that are (or would be) invalidated.
  returned: when an invalidation is made, in diff mode
  type: dict
  sample: {"before": "", "after": "invalidate /index.html\n"}
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils.aws.client import (
    AWS_AUTH_SPEC,
    BOTO3_IMPORT_ERROR,
    HAS_BOTO3,
    AwsClient,
    aws_params,
)
from ansible_collections.ops.rollback.plugins.module_utils.aws.cloudfront import Invalidation, run_invalidation


def argument_spec():
    spec = dict(
        distribution_id=dict(type='str', required=True),
        paths=dict(type='list', elements='str', required=True),
        caller_reference=dict(type='str'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=600),
    )
    spec.update(AWS_AUTH_SPEC)
    return spec


def invalidate(module):
    if not HAS_BOTO3:
        module.fail_json(msg=missing_required_lib('boto3'), exception=str(BOTO3_IMPORT_ERROR))
    params = module.params
    invalidation = Invalidation(AwsClient.connect(**aws_params(params)), params['distribution_id'], params['paths'],
                                params['caller_reference'])
    return run_invalidation(invalidation, check_mode=module.check_mode, wait=params['wait'],
                            wait_timeout=params['wait_timeout'])


def main():
    run_module(argument_spec(), invalidate)


if __name__ == '__main__':
    main()
