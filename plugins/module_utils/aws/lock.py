# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback lock of an AWS service, kept as an SSM parameter.

Tags cannot lock: two runs can both read "no lock" and both tag. An SSM
parameter is created with ``Overwrite=False``, which AWS refuses
(``ParameterAlreadyExists``) when it exists, so of two runs exactly one
creates it. ``SsmLockStore`` is a store under ``lock.RollbackLock``'s rules
(held, expired, taken over), like ``FileLockStore`` and the Kubernetes Lease.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import NotFoundError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.lock import parse_lock

LOCK_PREFIX = '/ops-rollback/lock'


def lock_parameter_name(*parts):
    """The parameter that locks a service, for example ``/ops-rollback/lock/ecs/prod/web``."""
    return '/'.join((LOCK_PREFIX,) + tuple(str(part).strip('/') for part in parts))


class SsmLockStore:
    """A lock kept as the SSM parameter ``name`` (a JSON document), through an ``AwsClient``."""

    def __init__(self, aws, name):
        self.aws = aws
        self.name = name

    def __str__(self):
        return 'SSM parameter {0} in {1}'.format(self.name, self.aws.region)

    def read(self):
        """The lock as a dict, or ``None`` when nobody holds it."""
        try:
            text = self.aws.call('read the rollback lock ' + str(self), 'ssm', 'get_parameter',
                                 Name=self.name)['Parameter']['Value']
        except NotFoundError:
            return None
        return parse_lock(text, '(a parameter ops.rollback did not write)')

    def write(self, lock, replace):
        """Create the parameter (``FileExistsError`` when another run created it first), or replace it."""
        try:
            self.aws.call('take the rollback lock ' + str(self), 'ssm', 'put_parameter', Name=self.name,
                          Value=json.dumps(lock, sort_keys=True), Type='String', Overwrite=bool(replace),
                          Description='ops.rollback: the run rolling this service back')
        except RollbackError as err:
            if err.details.get('code') == 'ParameterAlreadyExists':
                raise FileExistsError(str(self))
            raise

    def delete(self):
        try:
            self.aws.call('release the rollback lock ' + str(self), 'ssm', 'delete_parameter', Name=self.name)
        except NotFoundError:
            pass
