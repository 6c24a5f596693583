# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback lock: which run is rolling a service back.

A lock is a small JSON document: the run that owns it (``owner``), who and
where (``holder``: user, controller, pid of ansible-playbook), and when it
expires. ``RollbackLock`` holds the rules (held, expired, taken over) over a
*store* that a platform's driver brings; ``FileLockStore`` is the store of
symlinked releases: a file created with ``os.link`` of a fully written
temporary file, so it either exists complete or not at all, and two runs can
never both create it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import tempfile

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError


def lock_argument_spec(**extra):
    """The ``lock`` option of a module that takes a rollback lock in the same call (the
    suboptions its action plugin fills in; ``extra`` for the store's own, such as a file)."""
    return dict(type='dict', options=dict(
        owner=dict(type='str', required=True),
        ttl=dict(type='int', default=3600),
        force=dict(type='bool', default=False),
        holder=dict(type='dict', default={}),
        **extra))


class LockHeldError(RollbackError):
    """Another run holds the lock and it has not expired."""


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _stamp(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_stamp(stamp):
    try:
        return datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def parse_lock(text, owner_if_unreadable):
    """The lock a store holds as JSON ``text``. Text ops.rollback did not write has an unknown
    owner, so it counts as held and never expires; ``unreadable`` keeps its start for the message."""
    try:
        lock = json.loads(text)
    except ValueError:
        lock = None
    if not isinstance(lock, dict):
        return {'owner': owner_if_unreadable, 'holder': {}, 'acquired_at': None, 'expires_at': None,
                'unreadable': text[:80]}
    return lock


def describe(lock):
    """One line a user reads: who holds the lock, since when, until when."""
    if 'unreadable' in lock:
        return 'a lock ops.rollback did not write (it starts {0!r})'.format(lock['unreadable'])
    holder = lock.get('holder') or {}
    who = '{0}@{1}'.format(holder.get('user', '?'), holder.get('controller', '?'))
    if holder.get('pid'):
        who += ' (ansible-playbook pid {0})'.format(holder['pid'])
    return 'run {0} by {1}, since {2}, expires {3}'.format(
        lock.get('owner', '?'), who, lock.get('acquired_at', '?'), lock.get('expires_at', '?'))


class FileLockStore:
    """A lock kept as a file at ``path`` (its directory must exist)."""

    def __init__(self, path):
        self.path = path

    def __str__(self):
        return self.path

    def read(self):
        """The lock as a dict, or ``None`` when nobody holds it."""
        try:
            with open(self.path) as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        return parse_lock(text, '(unreadable lock file)')

    def write(self, lock, replace):
        """Create the lock (``replace=False``: fail with ``FileExistsError`` if one exists) or replace it."""
        directory = os.path.dirname(self.path) or '.'
        fd, tmp = tempfile.mkstemp(prefix='.rollback-lock.', dir=directory)
        try:
            with os.fdopen(fd, 'w') as handle:
                json.dump(lock, handle, sort_keys=True)
                handle.write('\n')
            if replace:
                os.replace(tmp, self.path)
            else:
                os.link(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def delete(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class RollbackLock:
    """The rules of the lock over a store (``FileLockStore`` or a platform's own); ``clock`` is injectable."""

    def __init__(self, store, clock=_now):
        self.store = store
        self.clock = clock

    def read(self):
        return self.store.read()

    def expired(self, lock):
        expires = parse_stamp(lock.get('expires_at'))
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
        if 'unreadable' in held:
            raise LockHeldError(
                'The lock {0} is not one ops.rollback wrote (it starts {1!r}), so nobody can tell whether a '
                'rollback holds it. Look at it: if no rollback is running, remove it, or run again with '
                '-e rollback_lock_force=true to replace it.'.format(self.store, held['unreadable']),
                held_by=held)
        raise LockHeldError(
            'Another rollback is running here: {0} (lock {1}). Wait for it to finish. If it is no '
            'longer running (killed, or its controller lost), run again with -e rollback_lock_force=true to '
            'take the lock over.'.format(describe(held), self.store),
            held_by=held)

    def new_lock(self, owner, holder, ttl):
        """The lock ``owner`` would write now."""
        if ttl < 1:
            raise InvalidInputError('ttl must be at least 1 second (got {0}).'.format(ttl), option='ttl')
        now = self.clock()
        return {
            'owner': owner,
            'holder': holder or {},
            'acquired_at': _stamp(now),
            'expires_at': _stamp(now + datetime.timedelta(seconds=ttl)),
        }

    def acquire(self, owner, holder, ttl, force=False):
        """Take the lock for ``owner``; returns ``(changed, lock, taken_over)``."""
        lock = self.new_lock(owner, holder, ttl)
        changed, held, taken_over = self.plan_acquire(owner, force)
        if not changed:
            return False, held, None
        try:
            self.store.write(lock, replace=taken_over is not None)
        except FileExistsError:
            # Another run created it between our read and our write.
            raise LockHeldError(
                'Another rollback took the lock {0} just now: {1}. Wait for it to finish.'.format(
                    self.store, describe(self.read() or {})),
                held_by=self.read())
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
        self.store.delete()
        return True, None


def _shown(lock):
    return describe(lock) + '\n' if lock else '(no lock)\n'


def run_lock(store, state, owner, holder=None, ttl=3600, force=False, check_mode=False, warn=None):
    """What rollback_lock does: take (``acquired``) or release (``released``) the lock in ``store``.

    Returns the module's result; ``warn`` is called with what the user should know but is no failure.
    """
    warn = warn or (lambda msg: None)
    lock = RollbackLock(store)
    result = {'changed': False, 'lock': None}
    try:
        before = lock.read()
        if state == 'released':
            ours = before is not None and before.get('owner') == owner
            result['changed'] = ours
            if ours and not check_mode:
                result['changed'], _held_by = lock.release(owner)
            elif before is not None and not ours:
                result['held_by'] = before
                warn('The lock {0} is not this run\'s ({1}); left alone.'.format(store, describe(before)))
        elif check_mode:
            would_write = lock.new_lock(owner, holder, ttl)
            try:
                changed, held, taken_over = lock.plan_acquire(owner, force)
            except LockHeldError as err:
                warn(err.msg)
                result['held_by'] = err.details.get('held_by')
            else:
                result.update(changed=changed, lock=would_write if changed else held)
                if taken_over:
                    result['taken_over'] = taken_over
        else:
            changed, held, taken_over = lock.acquire(owner, holder, ttl, force)
            result.update(changed=changed, lock=held)
            if taken_over:
                result['taken_over'] = taken_over
                warn('Took over the lock {0} from {1}.'.format(store, describe(taken_over)))
    except OSError as err:
        raise RollbackError('Cannot use the lock {0}: {1}. Check that its directory exists and is writable.'.format(
            store, err))
    if result['changed']:
        result['diff'] = {'before': _shown(before), 'after': _shown(result['lock'])}
    return result
