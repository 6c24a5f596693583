# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudFront invalidations, for cdn_invalidate: after a rollback the edge caches still serve
the version rolled back from until they are invalidated.

A ``caller_reference`` makes an invalidation idempotent: one already made
with it is found and waited on, not made again (the rollback playbook uses
the incident id). Waiting uses botocore's waiter machinery with a model that
accepts the status in any case: AWS says ``Completed``, some endpoints
``COMPLETED``, and the stock waiter knows only the first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
    RollbackTimeoutError,
)

try:
    import botocore.exceptions
    import botocore.waiter
except ImportError:   # the module reports boto3 missing
    pass

# How many of a distribution's newest invalidations are searched for a caller reference.
SEARCHED = 100
POLL_SECONDS = 5


def _waiter_model(delay, attempts):
    acceptors = [{'matcher': 'path', 'argument': 'Invalidation.Status', 'expected': status, 'state': 'success'}
                 for status in ('Completed', 'COMPLETED', 'completed')]
    return botocore.waiter.WaiterModel({'version': 2, 'waiters': {'InvalidationDone': {
        'operation': 'GetInvalidation', 'delay': delay, 'maxAttempts': attempts, 'acceptors': acceptors}}})


class Invalidation:
    """One invalidation of ``paths`` on distribution ``distribution_id``, through an ``AwsClient``."""

    def __init__(self, aws, distribution_id, paths, caller_reference=None):
        bad = [p for p in paths if not isinstance(p, str) or not p.startswith('/')]
        if not paths or bad:
            raise InvalidInputError(
                'paths must be a non-empty list of paths that start with /, such as /index.html or /static/*; got '
                '{0}. Nothing was changed.'.format(bad or paths))
        self.aws = aws
        self.distribution_id = distribution_id
        self.paths = sorted(set(paths))
        self.caller_reference = caller_reference

    def __str__(self):
        return 'CloudFront distribution {0}'.format(self.distribution_id)

    def check_distribution(self):
        try:
            self.aws.call('read ' + str(self), 'cloudfront', 'get_distribution', Id=self.distribution_id)
        except NotFoundError:
            raise NotFoundError('There is no {0}: check distribution_id= (aws cloudfront list-distributions). '
                                'Nothing was changed.'.format(self))

    def existing(self):
        """The invalidation made before with this caller reference, or None."""
        if not self.caller_reference:
            return None
        summaries = self.aws.call('list the invalidations of ' + str(self), 'cloudfront', 'list_invalidations',
                                  DistributionId=self.distribution_id, MaxItems=str(SEARCHED))
        for summary in (summaries.get('InvalidationList') or {}).get('Items') or []:
            invalidation = self.get(summary['Id'])
            if invalidation['InvalidationBatch']['CallerReference'] == self.caller_reference:
                return invalidation
        return None

    def get(self, invalidation_id):
        return self.aws.call('read invalidation {0} of {1}'.format(invalidation_id, self), 'cloudfront',
                             'get_invalidation', DistributionId=self.distribution_id, Id=invalidation_id)['Invalidation']

    def create(self):
        reference = self.caller_reference or 'ops.rollback-{0}'.format(time.time())
        return self.aws.call('invalidate {0} on {1}'.format(', '.join(self.paths), self), 'cloudfront',
                             'create_invalidation', DistributionId=self.distribution_id, InvalidationBatch={
                                 'Paths': {'Quantity': len(self.paths), 'Items': self.paths},
                                 'CallerReference': reference})['Invalidation']

    def wait(self, invalidation_id, timeout):
        attempts = max(1, int(timeout // POLL_SECONDS))
        waiter = botocore.waiter.create_waiter_with_client(
            'InvalidationDone', _waiter_model(POLL_SECONDS, attempts), self.aws.client('cloudfront'))
        try:
            waiter.wait(DistributionId=self.distribution_id, Id=invalidation_id)
        except botocore.exceptions.WaiterError as err:
            status = ((err.last_response or {}).get('Invalidation') or {}).get('Status')
            if status is None:
                raise RollbackError('Failed to wait for invalidation {0} of {1}: {2}.'.format(
                    invalidation_id, self, err), id=invalidation_id)
            raise RollbackTimeoutError(
                'Invalidation {0} of {1} is still {2} after {3} s: the edge may serve the old content until it '
                'completes. Watch it with aws cloudfront get-invalidation --distribution-id {4} --id {0}, or wait '
                'longer with wait_timeout=.'.format(invalidation_id, self, status, timeout, self.distribution_id),
                id=invalidation_id, status=status)
        return self.get(invalidation_id)


def run_invalidation(invalidation, check_mode=False, wait=True, wait_timeout=600):
    """What cdn_invalidate does; returns the module's result."""
    invalidation.check_distribution()
    result = {'changed': False, 'distribution_id': invalidation.distribution_id, 'paths': invalidation.paths,
              'caller_reference': invalidation.caller_reference}
    found = invalidation.existing()
    if found is None:
        result['changed'] = True
        result['diff'] = {'before': '', 'after': ''.join('invalidate {0}\n'.format(p) for p in invalidation.paths),
                          'after_header': str(invalidation)}
        if check_mode:
            return result
        found = invalidation.create()
    result.update(id=found['Id'], caller_reference=found['InvalidationBatch']['CallerReference'])
    if wait and found['Status'].lower() != 'completed':
        started = time.monotonic()
        found = invalidation.wait(found['Id'], wait_timeout)
        result['wait_seconds'] = round(time.monotonic() - started, 1)
    result['status'] = found['Status']
    return result
