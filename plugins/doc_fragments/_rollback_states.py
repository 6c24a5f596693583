# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private doc fragment: the states every platform's rollback module has (module_utils/_common/states.py),
and the action plugin that takes its lock (plugin_utils/lock_holder.py PlatformLockTakingAction)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  state:
    description:
      - V(rolled_back) rolls the service back.
      - V(listed) only reads the current version, the history (every revision with its images) and the ledger's
        verdicts. With O(lock), it takes the rollback lock first.
      - V(unlocked) releases the rollback lock of O(lock.owner); a lock held by another run is left alone, with a
        warning.
      - V(recorded) writes the ledger's verdicts, O(version) good and O(rolled_back_from) bad, once a rollback was
        verified.
    type: str
    choices: [rolled_back, listed, unlocked, recorded]
    default: rolled_back
  rolled_back_from:
    description:
      - The version this rollback leaves. It is recorded as bad in the ledger before anything changes, so an interrupted
        run never loses that verdict. With O(state=recorded), recorded as bad beside O(version).
    type: str
  note:
    description: Why, recorded with the ledger's verdicts (for example the incident and its reason).
    type: str
attributes:
  action:
    description: Has an action plugin that fills in O(lock.holder) and takes over a lock of a run of this controller
      that no longer exists.
    support: full
"""
