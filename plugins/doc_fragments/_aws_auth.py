# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private doc fragment: the AWS connection options (module_utils/aws/client.py AWS_AUTH_SPEC)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  region:
    description:
      - The AWS region, for example V(eu-west-1).
      - Also read from E(AWS_REGION) or E(AWS_DEFAULT_REGION), else from the profile. Without any of them the task
        fails before calling AWS.
    type: str
    aliases: [aws_region]
  profile:
    description:
      - A named profile of the shared AWS configuration (C(~/.aws/config), C(~/.aws/credentials)).
      - Also read from E(AWS_PROFILE). Not used when O(access_key) is given.
    type: str
    aliases: [aws_profile]
  endpoint_url:
    description:
      - The URL of the AWS API to call instead of the region's public one, for example a VPC endpoint or a local
        test server such as moto.
      - Also read from E(AWS_URL).
    type: str
    aliases: [aws_endpoint_url]
  access_key:
    description:
      - The AWS access key id. With O(secret_key); without both, boto3's own chain applies (environment, profile,
        the instance's or task's role).
      - Also read from E(AWS_ACCESS_KEY_ID) or E(AWS_ACCESS_KEY).
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - The AWS secret access key, with O(access_key). Never logged.
      - Also read from E(AWS_SECRET_ACCESS_KEY) or E(AWS_SECRET_KEY).
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - The session token of temporary credentials. Never logged.
      - Also read from E(AWS_SESSION_TOKEN).
    type: str
    aliases: [aws_session_token]
  validate_certs:
    description: Whether to check the TLS certificate of the AWS API. Turn off only for a test endpoint.
    type: bool
    default: true
notes:
  - Every AWS call is retried by botocore's C(standard) retry mode, with jittered exponential backoff, when AWS
    throttles it or answers with a transient error. A call still throttled after 6 attempts fails the task and
    says so.
  - Wrong or expired credentials, a missing IAM permission and an unreachable endpoint each fail the task with a
    message that says which, before anything is changed.
requirements:
  - boto3 and botocore, on the host the module runs on (the controller, in the rollback playbook).
"""
