# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a platform gives the rollback core (DESIGN.md, "The rollback core").

A driver knows one service on one platform: how to read what runs, what could
run (the history), how to get from one to the other and how to tell when it
got there. It takes plain values, raises the collection's errors, and never
decides anything the runner decides: which target, whether anything changes,
what check mode does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.version import RELEASE


class Plan:
    """What ``apply`` would do: the steps in words (none = nothing to do) and the diff."""

    def __init__(self, steps, before, after):
        self.steps = list(steps)
        self.before = before
        self.after = after

    @property
    def changes(self):
        return bool(self.steps)

    def diff(self):
        return {'before': self.before, 'after': self.after}


class Driver:
    """The interface every platform implements; see the methods for the contract."""

    #: The version syntax the platform accepts (version.RELEASE or version.IMAGE).
    version_syntax = RELEASE
    #: The release ledger (a ``ledger.Ledger``), or None when the platform keeps none.
    ledger = None

    def describe(self):
        """The service in words, for messages: 'deployment web in namespace prod'."""
        raise NotImplementedError

    def load(self):
        """Read the service once, before anything else is asked (states.py); drivers that read lazily need not."""

    def lock_store(self):
        """The service's rollback lock: a store with read(), write(lock, replace) and delete(), under
        lock.RollbackLock's rules (a Lease, an SSM parameter; symlinked releases lock through rollback_lock)."""
        raise NotImplementedError

    def named(self):
        """The result key and value that name what was rolled back: ``{'workload': {...}}``."""
        return {}

    def report(self, result, before, warn, check_mode):
        """What the platform adds to ``run_rollback``'s result (images, deployment ids); ``before``: the
        entry that ran before; ``warn(msg)`` for what the user must hear."""
        return {}

    def platform_rollback(self):
        """When the service runs what a rollback left and nothing was deployed since (the platform's
        own, such as ECS's circuit breaker or Swarm's failure_action, or an earlier run's pin): what
        it did, as a dict (``message``, and ``failed_version`` where known); else None. ``previous``
        then stays where it is."""
        return None

    def current(self):
        """The history entry that runs now (``{'version', 'revision'}``), or None."""
        raise NotImplementedError

    def history(self):
        """Every version the service ran or could run, oldest first, as target.py describes entries."""
        raise NotImplementedError

    def plan(self, target):
        """A ``Plan`` to bring the service to ``target`` (a history entry); changes nothing."""
        raise NotImplementedError

    def apply(self, target, plan):
        """Carry out ``plan``. Raise a ``RollbackError`` that says where the service was left."""
        raise NotImplementedError

    def wait(self, target, timeout):
        """Return once the service converged on ``target`` (a dict of what was waited on),
        or raise ``RollbackTimeoutError`` with the partial state."""
        return {}
