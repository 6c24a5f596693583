# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ops.rollback.release_switch: with O(lock), fills in who takes the
lock, and takes over a lock abandoned on this controller (plugin_utils/lock_holder.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.plugin_utils.lock_holder import LockTakingAction


class ActionModule(LockTakingAction):

    MODULE = 'ops.rollback.release_switch'

    def lock_args(self, args):
        if not isinstance(args.get('lock'), dict):
            return None
        args['lock'] = dict(args['lock'])
        return args['lock']
