# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one meaning of "version" and "previous" (DESIGN.md, Words).

Pure functions, used by modules on the managed host and by filters on the
controller, so both order versions the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError

# A version names a release directory, an image tag or a git tag: letters,
# digits and . _ - + only. This refuses '/', '..', NUL, whitespace and every
# shell metacharacter before anything is touched.
_SAFE_VERSION = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$')

_SEMVER = re.compile(
    r'^[vV]?(?P<nums>\d+(?:\.\d+)*)'
    r'(?:-(?P<pre>[0-9A-Za-z.-]+))?'
    r'(?:\+[0-9A-Za-z.-]+)?$'
)

RULE_EXPLICIT = 'explicit'
RULE_LEDGER = 'ledger'
RULE_BEFORE_CURRENT = 'release-before-current'


def validate_version(version, what='version'):
    """Return ``version`` if it is safe to use as a path component; raise otherwise."""
    if not isinstance(version, str) or not _SAFE_VERSION.match(version) or '..' in version:
        raise InvalidInputError(
            'Refusing {0} {1!r}: a version may contain only letters, digits and . _ - + '
            '(no "/", "..", whitespace or shell characters), starting with a letter or digit. '
            'Pass the release name exactly as it appears in the releases directory.'.format(what, version),
            version=version,
        )
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


def previous_version(versions, current, good=None, bad=None):
    """Choose the version to roll back to, and say which rule chose it.

    ``versions``: the versions that exist and are deployable.
    ``current``: what runs now; a list is accepted for a fleet (the newest counts).
    ``good`` / ``bad``: versions the release ledger records as verified good or
    rolled back from.

    The reference point is the newest of ``current`` and every ``bad`` version,
    so that once a rollback has happened, asking again for "previous" names the
    version already running instead of going one step further back.

    Returns ``(version or None, rule)``.
    """
    currents = [current] if isinstance(current, str) else [c for c in (current or []) if c]
    good = set(good or ())
    bad = set(bad or ())
    if not currents:
        return None, RULE_BEFORE_CURRENT
    reference = sort_versions(currents + list(bad))[-1]
    older = [v for v in sort_versions(set(versions) | set(currents)) if version_key(v) < version_key(reference)]
    if good:
        candidates = [v for v in older if v in good and v not in bad]
        return (candidates[-1] if candidates else None), RULE_LEDGER
    candidates = [v for v in older if v not in bad]
    return (candidates[-1] if candidates else None), RULE_BEFORE_CURRENT
