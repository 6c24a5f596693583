# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ops.rollback.notify runs here, on the controller: it reads the user's templates beside the playbook or
role, and sends the notification (plugin_utils/notify.py). Nothing runs on the managed host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError
from ansible_collections.ops.rollback.plugins.plugin_utils.notify import Redactor, notify, notify_argument_spec


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        # Built from the raw arguments, so that even a refusal of them is masked.
        channels = self._task.args.get('channels')
        redact = Redactor(channels if isinstance(channels, list) and all(isinstance(c, dict) for c in channels)
                          else [])
        try:
            _validation, params = self.validate_argument_spec(argument_spec=notify_argument_spec())
            outcome = notify(params, self._read_templates(params['templates']), check_mode=self._task.check_mode)
        except AnsibleActionFail as err:
            result.update(failed=True, changed=False, msg=redact.text(to_text(err.message)))
            return result
        except RollbackError as err:
            result.update(redact.data(dict(err.details, failed=True, msg=err.msg)))
            result.setdefault('changed', False)
            return self._without_diff(result)
        result.update(redact.data(outcome))
        return self._without_diff(result)

    def _read_templates(self, templates):
        """event -> (text, where it came from) of each user template, found as the template action finds a src."""
        texts = {}
        for event, path in sorted(templates.items()):
            try:
                found = self._find_needle('templates', to_text(path))
                with open(found, 'rb') as handle:
                    texts[event] = (to_text(handle.read(), errors='surrogate_or_strict'), 'template ' + found)
            except (AnsibleError, OSError, UnicodeError) as err:
                raise AnsibleActionFail('Cannot read the template {0} for the {1} message: {2}. Give a path relative '
                                        'to the playbook or role (or its templates/ directory). Nothing was sent.'
                                        .format(path, event, to_text(err)))
        return texts

    def _without_diff(self, result):
        if not self._task.diff:
            result.pop('diff', None)
        return result
