# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ops.rollback.incident_report runs here, on the controller: the timeline and
the report files are the controller's, so no host is contacted. The work is in
plugin_utils/incident_report.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.ops.rollback.plugins.callback.timeline import PHASES
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError
from ansible_collections.ops.rollback.plugins.plugin_utils.incident_report import ARGUMENT_SPEC, write_report
from ansible_collections.ops.rollback.plugins.plugin_utils.run_record import timeline_path


def phases_skipped(task_vars):
    """``{phase: reason}`` from the ``<phase>_skipped`` facts the phase roles set, as the timeline callback reads them."""
    skipped = {}
    for phase in PHASES:
        fact = (task_vars or {}).get('{0}_skipped'.format(phase))
        if isinstance(fact, dict) and fact.get('reason'):
            skipped[phase] = fact['reason']
    return skipped


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if not args.get('timeline'):
            args['timeline'] = timeline_path()
        try:
            outcome = write_report(args, check_mode=self._task.check_mode, skipped=phases_skipped(task_vars))
        except RollbackError as err:
            result.update(err.details, failed=True, changed=False, msg=err.msg)
            return result
        if not self._task.diff:
            outcome.pop('diff')
        if not outcome['warnings']:
            outcome.pop('warnings')
        result.update(outcome)
        return result
