# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection to AWS, shared by every AWS module (ECS, ELBv2, Route53, CloudFront, SSM).

``AWS_AUTH_SPEC`` is the connection option group (mirrored by the
``ops.rollback._aws_auth`` doc fragment), with the option names, aliases and
environment variables of amazon.aws. ``AwsClient`` makes every call through
``call``: botocore's ``standard`` retry mode retries throttling and
transient errors with jittered exponential backoff, and what still fails
becomes the collection's error, saying what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import env_fallback

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
)

try:
    import boto3
    import botocore.config
    import botocore.exceptions
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None
except ImportError as import_error:   # reported by the module with missing_required_lib
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR = import_error

AWS_AUTH_SPEC = dict(
    region=dict(type='str', aliases=['aws_region'], fallback=(env_fallback, ['AWS_REGION', 'AWS_DEFAULT_REGION'])),
    profile=dict(type='str', aliases=['aws_profile'], fallback=(env_fallback, ['AWS_PROFILE'])),
    endpoint_url=dict(type='str', aliases=['aws_endpoint_url'], fallback=(env_fallback, ['AWS_URL'])),
    access_key=dict(type='str', aliases=['aws_access_key_id', 'aws_access_key'], no_log=False,
                    fallback=(env_fallback, ['AWS_ACCESS_KEY_ID', 'AWS_ACCESS_KEY'])),
    secret_key=dict(type='str', aliases=['aws_secret_access_key', 'aws_secret_key'], no_log=True,
                    fallback=(env_fallback, ['AWS_SECRET_ACCESS_KEY', 'AWS_SECRET_KEY'])),
    session_token=dict(type='str', aliases=['aws_session_token'], no_log=True,
                       fallback=(env_fallback, ['AWS_SESSION_TOKEN'])),
    validate_certs=dict(type='bool', default=True),
)

# Attempts per call (the first included) in botocore's standard retry mode: throttling
# and 5xx are retried with jittered exponential backoff, about 20 s in all at worst.
MAX_ATTEMPTS = 6

# Error codes that mean the credentials were refused, not the permission.
_BAD_CREDENTIALS = ('UnrecognizedClientException', 'InvalidClientTokenId', 'SignatureDoesNotMatch',
                    'InvalidSignatureException', 'AuthFailure', 'ExpiredToken', 'ExpiredTokenException',
                    'InvalidAccessKeyId')
_THROTTLED = ('Throttling', 'ThrottlingException', 'ThrottledException', 'RequestLimitExceeded',
              'TooManyRequestsException', 'PriorRequestNotComplete', 'Rate exceeded')


def aws_params(params):
    """The connection options of a module's ``params``."""
    return dict((key, params.get(key)) for key in AWS_AUTH_SPEC)


class AwsClient:
    """One AWS session; ``client(service)`` gives a boto3 client, ``call`` makes the requests."""

    def __init__(self, session, endpoint_url=None, validate_certs=True, max_attempts=MAX_ATTEMPTS):
        self.session = session
        self.endpoint_url = endpoint_url
        self.validate_certs = validate_certs
        self.config = botocore.config.Config(
            retries={'mode': 'standard', 'total_max_attempts': max_attempts},
            connect_timeout=10, read_timeout=60, user_agent_extra='ops.rollback')
        self._clients = {}

    @classmethod
    def connect(cls, region=None, profile=None, endpoint_url=None, access_key=None, secret_key=None,
                session_token=None, validate_certs=True, **config):
        """A session as amazon.aws builds it: explicit keys, else ``profile``, else boto3's own chain
        (environment, shared files, instance or task role). ``config``: for ``AwsClient``."""
        if bool(access_key) != bool(secret_key):
            raise InvalidInputError(
                'Pass both access_key= and secret_key= (or neither, to use a profile or the instance\'s role); '
                'only {0} is set. Nothing was changed.'.format('access_key' if access_key else 'secret_key'))
        try:
            session = boto3.session.Session(
                aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
                aws_session_token=session_token or None, profile_name=profile or None, region_name=region or None)
        except botocore.exceptions.ProfileNotFound as err:
            raise InvalidInputError('{0}: check profile= (or AWS_PROFILE) against ~/.aws/config. Nothing was '
                                    'changed.'.format(err))
        if not session.region_name:
            raise InvalidInputError(
                'No AWS region: pass region= (or set AWS_REGION), or set one in the profile. Nothing was changed.')
        return cls(session, endpoint_url=endpoint_url or None, validate_certs=validate_certs, **config)

    @property
    def region(self):
        return self.session.region_name

    def client(self, api):
        """The boto3 client of ``api`` (``ecs``, ``elbv2``...), made once."""
        if api not in self._clients:
            self._clients[api] = self.session.client(
                api, endpoint_url=self.endpoint_url, verify=self.validate_certs, config=self.config)
        return self._clients[api]

    def call(self, action, api, operation, **kwargs):
        """``operation(**kwargs)`` of ``api``'s client, as its response dict; ``action`` says what
        it was for in errors ("describe ECS service web in cluster prod")."""
        client = self.client(api)
        try:
            return getattr(client, operation)(**kwargs)
        except botocore.exceptions.ClientError as err:
            raise aws_error(err, action, iam_action(client, operation))
        except botocore.exceptions.NoCredentialsError:
            raise RollbackError(
                'Failed to {0}: no AWS credentials found. Pass access_key= and secret_key=, or profile=, or set '
                'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an instance or task role '
                'applies.'.format(action), reason='no_credentials')
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ReadTimeoutError) as err:
            raise RollbackError(
                'Failed to {0}: cannot reach the AWS API ({1}). Check region= and endpoint_url=, and that this '
                'controller reaches AWS (proxy, VPC endpoint).'.format(action, err), reason='unreachable')
        except botocore.exceptions.BotoCoreError as err:
            raise RollbackError('Failed to {0}: {1}.'.format(action, err))

    def pages(self, action, api, operation, key, **kwargs):
        """Every item under ``key`` of every page of a paginated ``operation``."""
        client = self.client(api)
        items = []
        try:
            for page in client.get_paginator(operation).paginate(**kwargs):
                items.extend(page.get(key) or [])
        except botocore.exceptions.ClientError as err:
            raise aws_error(err, action, iam_action(client, operation))
        except botocore.exceptions.BotoCoreError as err:
            raise RollbackError('Failed to {0}: {1}.'.format(action, err))
        return items


def iam_action(client, operation):
    """The IAM action of a client's operation, as a policy names it: ``ecs:UpdateService``."""
    return '{0}:{1}'.format(client.meta.service_model.signing_name, client.meta.method_to_api_mapping[operation])


def error_code(err):
    return err.response.get('Error', {}).get('Code', '')


def aws_error(err, action, permission):
    """The collection's error for a ``ClientError``: wrong credentials, access denied, throttled
    (after botocore's retries), not found, others. ``permission``: the IAM action that was called."""
    code = error_code(err)
    message = err.response.get('Error', {}).get('Message') or code
    status = err.response.get('ResponseMetadata', {}).get('HTTPStatusCode')
    attempts = err.response.get('ResponseMetadata', {}).get('RetryAttempts', 0) + 1
    if code in _BAD_CREDENTIALS:
        return RollbackError(
            'Failed to {0}: AWS rejected the credentials ({1}: {2}). Check access_key=/secret_key= or the profile; '
            'temporary credentials may have expired.'.format(action, code, message), code=code, reason='unauthorized')
    if 'AccessDenied' in code or code in ('UnauthorizedOperation', 'AccessDeniedException'):
        return RollbackError(
            'Failed to {0}: access denied ({1}). The credentials need the IAM permission {2}; grant it, or use '
            'credentials that have it.'.format(action, message, permission), code=code, reason='forbidden')
    if code in _THROTTLED:
        return RollbackError(
            'Failed to {0}: AWS throttled the request and kept throttling it after {1} attempts ({2}). Wait a '
            'minute and run again; something else is calling this API hard.'.format(action, attempts, message),
            code=code, reason='throttled')
    if code.endswith('NotFoundException') or code.startswith('NoSuch') or code.endswith('NotFound') or \
            code == 'ParameterNotFound' or status == 404:
        return NotFoundError('Failed to {0}: not found ({1}).'.format(action, message), code=code)
    return RollbackError('Failed to {0}: {1} ({2}).'.format(action, message, code), code=code, status=status)
