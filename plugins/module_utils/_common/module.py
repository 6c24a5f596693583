# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The anatomy every ops.rollback module shares.

``run_module`` builds the AnsibleModule, refuses options that do not apply to
the chosen ``state``, runs the module's handler (plain module_utils code),
turns the collection's errors into ``fail_json`` with their context, and
returns the diff only when asked for.

Secrets in URLs (the password of ``user:password@`` and query values) of
any option, such as ``endpoints[].url``, are added to ``no_log_values``, so
AnsibleModule masks them in the invocation (shown at -vvv, logged on the
managed host) and in the result of every module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.redact import url_no_log_values


class _Module(AnsibleModule):
    """AnsibleModule that treats the secrets of URLs in its options as no_log values from the start.

    AnsibleModule reads its options in ``_load_params``, then validates them
    (failing with the invocation) and logs the invocation on the managed host,
    all inside its constructor; the secrets are added right after the read, so
    they are masked there too, not only in the result.
    """

    def _load_params(self):
        super(_Module, self)._load_params()
        self.no_log_values.update(url_no_log_values(self.params))


def refuse_options_not_for(params, choice, option_choices):
    """``option_choices``: option -> the values of option ``choice`` (``state``, ``strategy``,
    ``backend``) it applies to. An option set for another value is an error, not silently
    ignored: the user meant something by it."""
    value = params.get(choice)
    for option, values in sorted((option_choices or {}).items()):
        if params.get(option) is not None and value not in values:
            raise InvalidInputError(
                'Option {0} does not apply to {1}={2} (only to {1}={3}): remove it, or choose that {1}. '
                'Nothing was changed.'.format(option, choice, value, ' or {0}='.format(choice).join(values)),
                option=option)


def run_module(argument_spec, handler, state_options=None, **module_kwargs):
    """Run ``handler(module) -> result dict`` as a module and exit with its result.

    ``module_kwargs`` go to AnsibleModule (``required_if``, ``mutually_exclusive``...);
    every module supports check mode, so it is always on.
    """
    module = _Module(argument_spec=argument_spec, supports_check_mode=True, **module_kwargs)
    # Again on the validated options, which is also where the secrets are added should a version of
    # ansible-core read its options without _load_params.
    module.no_log_values.update(url_no_log_values(module.params))
    try:
        refuse_options_not_for(module.params, 'state', state_options)
        result = handler(module)
    except RollbackError as err:
        details = dict(err.details)
        details.setdefault('changed', False)
        module.fail_json(msg=err.msg, exception=traceback.format_exc(), **details)
    if not module._diff:
        result.pop('diff', None)
    module.exit_json(**result)
