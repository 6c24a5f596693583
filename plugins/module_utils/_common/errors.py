# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions shared by every ops.rollback backend.

Service and model classes raise these instead of calling fail_json, so that
unit tests can drive them without Ansible; each module's main() turns them
into fail_json once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class RollbackError(Exception):
    """Base error: ``str(err)`` is the message a user reads.

    Messages name the action, the object, the cause and the next step.
    ``details`` carries structured facts that go into the failed result.
    """

    def __init__(self, msg, **details):
        super(RollbackError, self).__init__(msg)
        self.msg = msg
        self.details = details


class InvalidInputError(RollbackError):
    """The caller asked for something malformed; nothing was touched."""


class NotFoundError(RollbackError):
    """The thing named (release, service, revision) does not exist."""


class RollbackTimeoutError(RollbackError):
    """The platform did not converge in time; ``details['partial']`` says how far it got."""
