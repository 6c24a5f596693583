# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's side of taking a rollback lock, for every action plugin whose module takes one.

Only the controller knows who is asking (user, host name, the pid of
ansible-playbook: the parent of the forked worker an action plugin runs in)
and whether a run that holds a lock taken on this same controller is still
alive. A lock left by a killed run is taken over at once, so an interrupted
rollback re-runs cleanly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import os
import socket

from ansible.plugins.action import ActionBase


def _alive(pid):
    """Whether ``pid`` is a running ansible process on this machine."""
    try:
        with open('/proc/{0}/cmdline'.format(int(pid)), 'rb') as handle:
            return b'ansible' in handle.read()
    except (OSError, TypeError, ValueError):
        return False


def execute_taking_abandoned_locks(execute, args, lock_args):
    """Run ``execute(args) -> result`` with the holder filled into ``lock_args`` (the lock's
    part of ``args``: ``holder``, ``force``), and once more with ``force`` when the lock is
    held by a run of this controller that no longer exists."""
    me = {'user': getpass.getuser(), 'controller': socket.gethostname(), 'pid': os.getppid()}
    lock_args['holder'] = dict(me, **(lock_args.get('holder') or {}))
    result = execute(args)
    holder = (result.get('held_by') or {}).get('holder') or {}
    if result.get('failed') and holder.get('controller') == me['controller'] and not _alive(holder.get('pid')):
        lock_args['force'] = True
        result = execute(args)
        if not result.get('failed'):
            result['taken_over_because'] = (
                'the run holding it (ansible-playbook pid {0} on this controller) no longer exists'.format(
                    holder.get('pid')))
            result.setdefault('warnings', []).append(
                'Took over the rollback lock of an interrupted run: ' + result['taken_over_because'] + '.')
    return result


class LockTakingAction(ActionBase):
    """The action plugin of a module that takes a rollback lock: ``MODULE`` runs as
    ``execute_taking_abandoned_locks`` says whenever ``lock_args`` finds a lock to take."""

    MODULE = None
    _supports_check_mode = True

    def lock_args(self, args):
        """The part of ``args`` that takes a lock (filled in place), or None when the task takes none."""
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super(LockTakingAction, self).run(tmp, task_vars)
        args = dict(self._task.args)

        def execute(module_args):
            return self._execute_module(self.MODULE, module_args=module_args, task_vars=task_vars)

        lock_args = self.lock_args(args)
        result.update(execute(args) if lock_args is None else execute_taking_abandoned_locks(execute, args, lock_args))
        return result


class PlatformLockTakingAction(LockTakingAction):
    """The action plugin of a platform's rollback module (_common/states.py): the lock is taken with
    ``state=listed``."""

    def lock_args(self, args):
        if args.get('state') != 'listed' or not isinstance(args.get('lock'), dict):
            return None
        args['lock'] = dict(args['lock'])
        return args['lock']
