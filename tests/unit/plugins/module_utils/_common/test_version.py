# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils._common.version import (
    IMAGE,
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


DIGEST = 'sha256:' + 'a' * 64


@pytest.mark.parametrize('good', [
    'v1.2.9', '1.2.9-rc.1', 'latest', DIGEST, 'app@' + DIGEST, 'app:v1.2.9', 'app:v1.2.9@' + DIGEST,
    'registry.example.com:5000/team/app:v1.2.9', 'ghcr.io/org/app@' + DIGEST, 'library/nginx',
])
def test_image_syntax_accepts_tags_digests_and_references(good):
    assert validate_version(good, IMAGE) == good


@pytest.mark.parametrize('bad', [
    'v1 2', 'app:v1;reboot', '$(id)', 'app@sha256:' + 'g' * 64, 'app@sha256:' + 'a' * 8, 'App/Upper:1', '', '../app', 'a:b:c',
])
def test_image_syntax_refuses_what_no_registry_accepts(bad):
    with pytest.raises(InvalidInputError, match='an image version is a tag'):
        validate_version(bad, IMAGE)


def test_release_syntax_refuses_digests_it_cannot_use_as_a_directory():
    with pytest.raises(InvalidInputError, match='release version may contain only'):
        validate_version('app@' + DIGEST)
