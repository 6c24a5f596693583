# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback lock: one file that says which run is rolling a service back.

A lock is a small JSON document: the run that owns it (``owner``), who and
where (``holder``: user, controller, pid of ansible-playbook), and when it
expires. It is created with ``os.link`` of a fully written temporary file, so
it either exists complete or not at all, and two runs can never both create it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import tempfile

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError


class LockHeldError(RollbackError):
    """Another run holds the lock and it has not expired."""


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _stamp(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def _parse(stamp):
    try:
        return datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def describe(lock):
    """One line a user reads: who holds the lock, since when, until when."""
    holder = lock.get('holder') or {}
    who = '{0}@{1}'.format(holder.get('user', '?'), holder.get('controller', '?'))
    if holder.get('pid'):
        who += ' (ansible-playbook pid {0})'.format(holder['pid'])
    return 'run {0} by {1}, since {2}, expires {3}'.format(
        lock.get('owner', '?'), who, lock.get('acquired_at', '?'), lock.get('expires_at', '?'))


class RollbackLock:
    """The lock file at ``path``; ``clock`` is injectable for tests."""

    def __init__(self, path, clock=_now):
        self.path = path
        self.clock = clock

    def read(self):
        """The lock as a dict, or ``None`` when nobody holds it."""
        try:
            with open(self.path) as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        try:
            lock = json.loads(text)
        except ValueError:
            lock = None
        if not isinstance(lock, dict):
            # Unreadable, so its owner is unknown: treat it as held, never expired.
            return {'owner': '(unreadable lock file)', 'holder': {}, 'acquired_at': None, 'expires_at': None}
        return lock

    def expired(self, lock):
        expires = _parse(lock.get('expires_at'))
        return expires is not None and expires <= self.clock()

    def plan_acquire(self, owner, force=False):
        """What ``acquire`` would do: ``(changed, lock_now_held, taken_over)``; raises ``LockHeldError``."""
        held = self.read()
        if held is None:
            return True, None, None
        if held.get('owner') == owner:
            return False, held, None
        if force or self.expired(held):
            return True, held, held
        raise LockHeldError(
            'Another rollback of this service is running: {0} (lock {1}). Wait for it to finish. If it is no '
            'longer running (killed, or its controller lost), run again with -e rollback_lock_force=true to '
            'take the lock over.'.format(describe(held), self.path),
            held_by=held)

    def acquire(self, owner, holder, ttl, force=False):
        """Take the lock for ``owner``; returns ``(changed, lock, taken_over)``."""
        changed, held, taken_over = self.plan_acquire(owner, force)
        if not changed:
            return False, held, None
        now = self.clock()
        lock = {
            'owner': owner,
            'holder': holder or {},
            'acquired_at': _stamp(now),
            'expires_at': _stamp(now + datetime.timedelta(seconds=ttl)),
        }
        self._write(lock, replace=taken_over is not None)
        # Two runs that take over the same stale lock both replace it; the
        # last write wins, and the other one finds out here.
        if (self.read() or {}).get('owner') != owner:
            return self.acquire(owner, holder, ttl, force=False)
        return True, lock, taken_over

    def release(self, owner):
        """Remove the lock if ``owner`` holds it; returns ``(changed, held_by_another)``."""
        held = self.read()
        if held is None:
            return False, None
        if held.get('owner') != owner:
            return False, held
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return False, None
        return True, None

    def _write(self, lock, replace):
        directory = os.path.dirname(self.path) or '.'
        fd, tmp = tempfile.mkstemp(prefix='.rollback-lock.', dir=directory)
        try:
            with os.fdopen(fd, 'w') as handle:
                json.dump(lock, handle, sort_keys=True)
                handle.write('\n')
            if replace:
                os.replace(tmp, self.path)
                return
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                # Another run created it between our read and our write.
                raise LockHeldError(
                    'Another rollback of this service took the lock just now: {0}. Wait for it to finish.'.format(
                        describe(self.read() or {})),
                    held_by=self.read())
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
