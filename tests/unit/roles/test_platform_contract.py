# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every platform the preflight phase accepts follows the platform role contract."""
from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.ops.rollback.plugins.plugin_utils import plan

ROLES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles')
# The entry points the phase roles call, and the neutral variables each one receives.
CONTRACT = {
    'main': {'rollback_target', 'rollback_run_id', 'rollback_reason'},
    'state': {'rollback_run_id', 'rollback_lock'},
    'unlock': {'rollback_run_id'},
    'record': {'rollback_target', 'rollback_from', 'rollback_reason'},
}


PHASE_ROLES = ('decide', 'announce', 'preflight', 'lock', 'protect_data', 'prepare_traffic', 'roll_back', 'edge',
               'verify', 'restore_traffic', 'report')


def load(*path):
    with open(os.path.join(ROLES, *path)) as handle:
        return yaml.safe_load(handle)


PLATFORMS = plan.PLATFORMS
# Options of the collection's modules whose names start like a phase's (lb_switch's backend nginx), not facts.
MODULE_OPTIONS = {'verify_url', 'verify_regex'}


@pytest.mark.parametrize('platform', PLATFORMS)
@pytest.mark.parametrize('entry_point', sorted(CONTRACT))
def test_platform_role_offers_every_entry_point(platform, entry_point):
    assert os.path.isfile(os.path.join(ROLES, platform, 'tasks', entry_point + '.yml')), \
        'roles/{0} has no tasks/{1}.yml'.format(platform, entry_point)
    spec = load(platform, 'meta', 'argument_specs.yml')['argument_specs'].get(entry_point)
    assert spec, 'roles/{0}: meta/argument_specs.yml has no entry point {1}'.format(platform, entry_point)
    missing = CONTRACT[entry_point] - set(spec.get('options') or {})
    assert not missing, 'roles/{0} entry point {1} does not take {2}'.format(platform, entry_point, sorted(missing))
    if entry_point == 'state':
        with open(os.path.join(ROLES, platform, 'tasks', 'state.yml')) as handle:
            assert '{0}_state'.format(platform) in handle.read(), 'roles/{0}: state sets no {0}_state'.format(platform)


def test_phase_roles_pass_only_neutral_variables_to_platform_roles():
    """A platform role reads its inputs, never another phase's facts."""
    for platform in PLATFORMS:
        for root, _dirs, files in os.walk(os.path.join(ROLES, platform)):
            for name in files:
                with open(os.path.join(root, name)) as handle:
                    text = handle.read()
                read = [word for word in re.findall(r'\b(?:{0})_\w+'.format('|'.join(PHASE_ROLES)), text)
                        if word not in MODULE_OPTIONS]
                assert not read, '{0} reads {1}'.format(os.path.join(root, name), read)
