# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils._common.version import (
    previous_version,
    sort_versions,
    validate_version,
)


@pytest.mark.parametrize('given, expected', [
    (['v1.10.0', 'v1.9.2', 'v1.2.0'], ['v1.2.0', 'v1.9.2', 'v1.10.0']),
    (['1.3.0', 'v1.3.0-rc.1', '1.2.9'], ['1.2.9', 'v1.3.0-rc.1', '1.3.0']),
    (['v2.0.0-rc.10', 'v2.0.0-rc.2', 'v2.0.0-beta'], ['v2.0.0-beta', 'v2.0.0-rc.2', 'v2.0.0-rc.10']),
    (['v1.2', 'v1.1.9'], ['v1.1.9', 'v1.2']),
    (['v1.0.0', 'build-2024', 'abc123'], ['abc123', 'build-2024', 'v1.0.0']),
    (['v1.0.0+build.2', 'v0.9.0'], ['v0.9.0', 'v1.0.0+build.2']),
])
def test_sort_versions_orders_as_people_mean(given, expected):
    assert sort_versions(given) == expected


@pytest.mark.parametrize('bad', [
    '../etc', 'v1/2', '..', 'v1..2', 'v1.2\0', 'v1 2', 'v1;rm', '$(id)', 'v1`x`', '', '-rf', '.hidden', 'v1|x', 'a' * 200,
])
def test_validate_version_refuses_unsafe_names(bad):
    with pytest.raises(InvalidInputError, match='Refusing version'):
        validate_version(bad)


@pytest.mark.parametrize('good', ['v1.2.9', '1.2.9-rc.1', 'release_2024.11.23', 'abc123+b7'])
def test_validate_version_accepts_release_names(good):
    assert validate_version(good) == good


RELEASES = ['v1.2.7', 'v1.2.8', 'v1.2.9', 'v1.3.0']


@pytest.mark.parametrize('current, good, bad, expected', [
    # Empty ledger: the release before the current one, by version order.
    ('v1.3.0', [], [], ('v1.2.9', 'release-before-current')),
    # The ledger knows: the newest verified-good version, skipping unverified ones.
    ('v1.3.0', ['v1.2.7', 'v1.2.8'], [], ('v1.2.8', 'ledger')),
    # Rolled-back-from versions are never candidates.
    ('v1.3.0', ['v1.2.7', 'v1.2.9'], ['v1.2.9'], ('v1.2.7', 'ledger')),
    # Again: after rolling back from v1.3.0 to v1.2.9, previous is v1.2.9 itself.
    ('v1.2.9', ['v1.2.9'], ['v1.3.0'], ('v1.2.9', 'ledger')),
    # A fleet half way: the newest current version is the one rolled back from.
    (['v1.2.9', 'v1.3.0'], [], [], ('v1.2.9', 'release-before-current')),
    # Nothing older qualifies.
    ('v1.2.7', [], [], (None, 'release-before-current')),
    ('v1.3.0', ['v1.3.0'], [], (None, 'ledger')),
])
def test_previous_version_rules(current, good, bad, expected):
    assert previous_version(RELEASES, current, good=good, bad=bad) == expected
