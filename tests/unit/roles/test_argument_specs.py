# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role documents every public variable, with the default it really has."""
from __future__ import annotations

import os

import pytest
import yaml

ROLES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles')


def load(role, *path):
    full = os.path.join(ROLES, role, *path)
    if not os.path.exists(full):
        return None
    with open(full) as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize('role', sorted(os.listdir(ROLES)))
def test_spec_defaults_match_role_defaults(role):
    specs = load(role, 'meta', 'argument_specs.yml')
    assert specs, 'roles/{0} has no meta/argument_specs.yml'.format(role)
    defaults = load(role, 'defaults', 'main.yml') or {}
    documented = {}
    for entry_point in specs['argument_specs'].values():
        for name, option in (entry_point.get('options') or {}).items():
            assert option.get('type'), 'roles/{0}: option {1} has no type'.format(role, name)
            assert option.get('description'), 'roles/{0}: option {1} has no description'.format(role, name)
            documented[name] = option
    undocumented = sorted(set(defaults) - set(documented))
    assert not undocumented, 'roles/{0}: defaults not in argument_specs: {1}'.format(role, undocumented)
    for name, value in defaults.items():
        assert documented[name].get('default') == value, 'roles/{0}: {1} defaults differ'.format(role, name)
