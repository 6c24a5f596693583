# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one meaning of "version" (DESIGN.md, Words): its syntax and its order.

Pure functions, used by modules on the managed host and by filters on the
controller, so both read versions the same way. Which syntax a version must
follow is the platform's: a driver names it (``Driver.version_syntax``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError

# A release directory name or a git tag: letters, digits and . _ - + only.
# This refuses '/', '..', NUL, whitespace and every shell metacharacter, so
# the name is safe as a path component.
RELEASE = 'release'
# An image tag (v1.2.9), a digest (sha256:<hex>) or a full image reference
# (registry:5000/team/app:v1.2.9, app@sha256:<hex>), as the Docker
# distribution reference grammar defines them.
IMAGE = 'image'
SYNTAXES = (RELEASE, IMAGE)

_RELEASE_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$')

_TAG = r'[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}'
_DIGEST = r'[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}'
_COMPONENT = r'[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
_DOMAIN = r'(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?/)'
_NAME = r'{0}?{1}(?:/{1})*'.format(_DOMAIN, _COMPONENT)
_IMAGE_VERSION = re.compile(
    r'^(?:(?P<tag>{tag})|(?P<digest>{digest})|(?P<name>{name})(?::(?P<ref_tag>{tag}))?(?:@(?P<ref_digest>{digest}))?)$'
    .format(tag=_TAG, digest=_DIGEST, name=_NAME))

_SYNTAX_HELP = {
    RELEASE: 'a release version may contain only letters, digits and . _ - + (no "/", "..", whitespace or shell '
             'characters), starting with a letter or digit. Pass the release name exactly as it appears in the '
             'releases directory.',
    IMAGE: 'an image version is a tag (v1.2.9), a digest (sha256:<64 hex digits>) or an image reference '
           '(registry.example.com/team/app:v1.2.9, app@sha256:<64 hex digits>), without whitespace or shell characters.',
}

_SEMVER = re.compile(
    r'^[vV]?(?P<nums>\d+(?:\.\d+)*)'
    r'(?:-(?P<pre>[0-9A-Za-z.-]+))?'
    r'(?:\+[0-9A-Za-z.-]+)?$'
)


def validate_version(version, syntax=RELEASE, what='version'):
    """Return ``version`` if it follows the platform's ``syntax``; raise otherwise."""
    if syntax not in SYNTAXES:
        raise InvalidInputError('Unknown version syntax {0!r}; use one of {1}.'.format(syntax, ', '.join(SYNTAXES)))
    pattern = _RELEASE_NAME if syntax == RELEASE else _IMAGE_VERSION
    if not isinstance(version, str) or '..' in version or not pattern.match(version):
        raise InvalidInputError(
            'Refusing {0} {1!r}: {2}'.format(what, version, _SYNTAX_HELP[syntax]), version=version)
    return version


def version_key(version):
    """Sort key: semantic versions in semver order (a ``v`` prefix ignored,
    pre-releases before their release); anything else sorts before them, by name."""
    match = _SEMVER.match(version or '')
    if not match:
        return (0, (), 0, (), version or '')
    nums = tuple(int(part) for part in match.group('nums').split('.'))
    nums = nums + (0,) * (3 - len(nums)) if len(nums) < 3 else nums
    pre = match.group('pre')
    if pre is None:
        # A release sorts after all of its pre-releases.
        return (1, nums, 1, (), version)
    pre_key = tuple((0, int(p), '') if p.isdigit() else (1, 0, p) for p in pre.split('.'))
    return (1, nums, 0, pre_key, version)


def sort_versions(versions, reverse=False):
    return sorted(versions, key=version_key, reverse=reverse)
