# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ops.rollback.compose_rollback: with O(lock) in O(state=listed), fills in who
takes the lock, and takes over one abandoned on this controller (plugin_utils/lock_holder.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.plugin_utils.lock_holder import PlatformLockTakingAction


class ActionModule(PlatformLockTakingAction):

    MODULE = 'ops.rollback.compose_rollback'
