# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release ledger (DESIGN.md, Words): which versions of a service were
verified good and which were rolled back from.

The ledger lives with the service so every controller and AWX job sees the
same record. ``Ledger`` is the interface the other platforms implement with
their own storage (annotations, labels, tags); ``FileLedger`` keeps it as a
JSON file beside a symlinked release tree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import fcntl
import json
import os
import tempfile

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.version import validate_version

DEFAULT_LEDGER_FILE = 'rollback-ledger.json'
GOOD = 'good'
BAD = 'bad'
VERDICTS = (GOOD, BAD)


class Ledger:
    """Append-only history of verdicts; the newest verdict for a version wins."""

    def entries(self):
        raise NotImplementedError

    def _append(self, entries):
        raise NotImplementedError

    def verdicts(self):
        return dict((entry['version'], entry['state']) for entry in self.entries())

    def versions(self, state):
        return sorted(version for version, verdict in self.verdicts().items() if verdict == state)

    def needs(self, version, state):
        """True when recording ``state`` for ``version`` would change the ledger."""
        validate_version(version)
        if state not in VERDICTS:
            raise InvalidInputError('state must be one of {0}, got {1!r}.'.format(', '.join(VERDICTS), state))
        return self.verdicts().get(version) != state

    def changes(self, verdicts):
        """The ``(version, state)`` pairs of ``verdicts`` that the ledger does not say yet."""
        return [(version, state) for version, state in verdicts if self.needs(version, state)]

    def record(self, version, state, note=None, now=None):
        """Record a verdict; returns False (and writes nothing) when it is already the verdict."""
        return self.record_all([(version, state)], note=note, now=now)

    def record_all(self, verdicts, note=None, now=None):
        """Record several verdicts in one write, so a rollback's "target good,
        version left bad" is never half recorded. Returns whether anything changed."""
        changes = self.changes(verdicts)
        if not changes:
            return False
        at = (now or datetime.datetime.now(datetime.timezone.utc)).strftime('%Y-%m-%dT%H:%M:%SZ')
        self._append([{'version': version, 'state': state, 'at': at, 'note': note or ''}
                      for version, state in changes])
        return True


class FileLedger(Ledger):
    def __init__(self, path):
        self.path = path

    @classmethod
    def beside(cls, app_root, name=DEFAULT_LEDGER_FILE):
        """The ledger file ``name`` in an application root."""
        if not name or '/' in name or name in ('.', '..'):
            raise InvalidInputError('ledger_file {0!r} must be a plain file name inside path.'.format(name))
        return cls(os.path.join(app_root, name))

    def entries(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return []
        except ValueError as exc:
            raise RollbackError(
                'Cannot read the release ledger {0}: not valid JSON ({1}). Restore it from a backup '
                'or move it aside to start an empty ledger.'.format(self.path, exc))
        return data.get('entries', [])

    def _append(self, entries):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise RollbackError('Cannot write the release ledger: {0} does not exist.'.format(directory))
        # A lock file, not the ledger itself, because the ledger is replaced by rename.
        with open(self.path + '.lock', 'a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self.entries() + entries
            handle, tmp = tempfile.mkstemp(dir=directory, prefix='.ledger-')
            try:
                with os.fdopen(handle, 'w') as out:
                    json.dump({'entries': entries}, out, indent=1, sort_keys=True)
                    out.write('\n')
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(tmp, 0o644)
                os.replace(tmp, self.path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
