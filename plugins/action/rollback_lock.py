# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ops.rollback.rollback_lock.

Only the controller knows who is asking (user, host name, the pid of
ansible-playbook: the parent of this forked worker) and whether a run that
holds a lock taken on this same controller is still alive. A lock left by a
killed run is taken over at once, so an interrupted rollback re-runs cleanly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import os
import socket

from ansible.plugins.action import ActionBase

MODULE = 'ops.rollback.rollback_lock'


def _alive(pid):
    """Whether ``pid`` is a running ansible process on this machine."""
    try:
        with open('/proc/{0}/cmdline'.format(int(pid)), 'rb') as handle:
            return b'ansible' in handle.read()
    except (OSError, TypeError, ValueError):
        return False


class ActionModule(ActionBase):

    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        me = {'user': getpass.getuser(), 'controller': socket.gethostname(), 'pid': os.getppid()}
        args['holder'] = dict(me, **(args.get('holder') or {}))
        result.update(self._execute_module(MODULE, module_args=args, task_vars=task_vars))

        held = result.get('held_by') or {}
        holder = held.get('holder') or {}
        abandoned = (result.get('failed') and args.get('state', 'acquired') == 'acquired'
                     and holder.get('controller') == me['controller'] and not _alive(holder.get('pid')))
        if abandoned:
            args['force'] = True
            result = self._execute_module(MODULE, module_args=args, task_vars=task_vars)
            if not result.get('failed'):
                result['taken_over_because'] = (
                    'the run holding it (ansible-playbook pid {0} on this controller) no longer exists'.format(
                        holder.get('pid')))
                result.setdefault('warnings', []).append(
                    'Took over the rollback lock of an interrupted run: ' + result['taken_over_because'] + '.')
        return result
