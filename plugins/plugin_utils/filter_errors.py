# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's errors, raised inside a filter, as Ansible shows a filter's failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError


def filter_errors(function):
    """Decorate a filter: a ``RollbackError`` it raises becomes an ``AnsibleFilterError`` with its message."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except RollbackError as err:
            raise AnsibleFilterError(err.msg)
    return wrapper
