# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: stop_requested
version_added: "0.2.0"
short_description: Whether the operator asked the rollback to stop (SIGINT or SIGTERM)
description:
  - With the P(ops.rollback.timeline#callback) callback enabled, the first SIGINT (Ctrl-C) or SIGTERM sent to
    C(ansible-playbook) does not end it at once, but asks the run to stop; this lookup returns the signal's name
    then, and nothing before.
  - The roll_back phase reads it before every batch, so an interrupted run finishes the hosts rolling back now,
    starts no further batch, and still releases its locks and prints its summary.
author: ops.rollback maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Stop before the next batch if the operator asked
  ansible.builtin.fail:
    msg: "interrupted by {{ lookup('ops.rollback.stop_requested') }}"
  when: lookup('ops.rollback.stop_requested') | length > 0
"""

RETURN = r"""
_raw:
  description: The name of the signal (V(SIGINT) or V(SIGTERM)) as the only element, or no element.
  type: list
  elements: str
"""

from ansible.plugins.lookup import LookupBase

from ansible_collections.ops.rollback.plugins.plugin_utils.interrupt import stop_requested


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        signal_name = stop_requested()
        return [signal_name] if signal_name else []
