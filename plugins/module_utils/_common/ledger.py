# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release ledger (DESIGN.md, Words): which versions of a service were
verified good and which were rolled back from.

The ledger lives with the service so every controller and AWX job sees the
same record. ``Ledger`` holds the rules; each platform's driver brings its
storage (a file beside symlinked releases, an annotation, a label, tags) by
implementing ``entries`` and ``_append``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils._common.version import RELEASE, validate_version

GOOD = 'good'
BAD = 'bad'
VERDICTS = (GOOD, BAD)


class Ledger:
    """Append-only history of verdicts; the newest verdict for a version wins."""

    #: The version syntax of the platform whose verdicts this ledger keeps.
    version_syntax = RELEASE

    def entries(self):
        raise NotImplementedError

    def _append(self, entries):
        raise NotImplementedError

    def verdicts(self, entries=None):
        """``{version: newest verdict}`` of ``entries`` (default: the ledger's)."""
        return dict((entry['version'], entry['state']) for entry in (self.entries() if entries is None else entries))

    def versions(self, state, entries=None):
        return sorted(version for version, verdict in self.verdicts(entries).items() if verdict == state)

    def changes(self, verdicts, entries=None):
        """The ``(version, state)`` pairs of ``verdicts`` that the ledger (or ``entries``) does not say yet."""
        known = self.verdicts(entries)
        for version, state in verdicts:
            validate_version(version, self.version_syntax)
            if state not in VERDICTS:
                raise InvalidInputError('state must be one of {0}, got {1!r}.'.format(', '.join(VERDICTS), state))
        return [(version, state) for version, state in verdicts if known.get(version) != state]

    def record(self, version, state, note=None, now=None):
        """Record a verdict; returns whether it changed the ledger (nothing is written when it did not)."""
        return self.record_all([(version, state)], note=note, now=now)['changed']

    def record_all(self, verdicts, note=None, now=None, check_mode=False):
        """Record several verdicts in one write, so a rollback's "target good,
        version left bad" is never half recorded.

        Returns the result release_ledger reports: ``changed``, the ``diff`` of the
        verdicts that change, and the ledger after the write (in check mode, as it
        would be): ``entries``, ``good``, ``bad``.
        """
        entries = self.entries()
        changes = self.changes(verdicts, entries)
        result = {'changed': bool(changes)}
        if changes:
            before = self.verdicts(entries)
            result['diff'] = {
                'before': ''.join('{0}: {1}\n'.format(v, before.get(v, 'none')) for v, _state in changes),
                'after': ''.join('{0}: {1}\n'.format(v, s) for v, s in changes),
            }
            at = (now or datetime.datetime.now(datetime.timezone.utc)).strftime('%Y-%m-%dT%H:%M:%SZ')
            new = [{'version': version, 'state': state, 'at': at, 'note': note or ''} for version, state in changes]
            if not check_mode:
                self._append(new)
            entries = entries + new
        result.update(entries=entries, good=self.versions(GOOD, entries), bad=self.versions(BAD, entries))
        return result
