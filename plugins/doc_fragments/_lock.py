# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private doc fragment: the O(lock) option of the modules that take the rollback lock while they list
(module_utils/_common/lock.py lock_argument_spec, plugin_utils/lock_holder.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  lock:
    description:
      - The rollback lock, with O(state=listed) (taken) and O(state=unlocked) (released).
    type: dict
    suboptions:
      owner:
        description: Identifier of this run; the playbook makes one per run (C(rollback_run_id)).
        type: str
        required: true
      ttl:
        description: Seconds after which the lock is expired and another run may take it over.
        type: int
        default: 3600
      force:
        description: Take the lock over even from a run that looks alive. Use only once you know that run is gone.
        type: bool
        default: false
      holder:
        description:
          - Who takes the lock, stored in it to be shown to other runs. Filled in by the action plugin (C(user),
            C(controller), C(pid) of C(ansible-playbook)); keys given here are kept.
        type: dict
        default: {}
"""
