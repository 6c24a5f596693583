# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ops.rollback.rollback_lock: fills in who takes the lock,
and takes over a lock abandoned on this controller (plugin_utils/lock_holder.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.ops.rollback.plugins.plugin_utils.lock_holder import execute_taking_abandoned_locks

MODULE = 'ops.rollback.rollback_lock'


class ActionModule(ActionBase):

    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)

        def execute(module_args):
            return self._execute_module(MODULE, module_args=module_args, task_vars=task_vars)

        if args.get('state', 'acquired') == 'acquired':
            result.update(execute_taking_abandoned_locks(execute, args, args))
        else:
            result.update(execute(args))
        return result
