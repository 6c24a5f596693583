# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release ledger of symlinked releases: a JSON file beside the releases
(the rules are ``_common.ledger.Ledger``'s)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os
import tempfile

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import Ledger

DEFAULT_LEDGER_FILE = 'rollback-ledger.json'


class FileLedger(Ledger):
    def __init__(self, path):
        self.path = path

    @classmethod
    def beside(cls, app_root, name=DEFAULT_LEDGER_FILE):
        """The ledger file ``name`` in an application root."""
        if not name or '/' in name or name in ('.', '..'):
            raise InvalidInputError('ledger_file {0!r} must be a plain file name inside path.'.format(name))
        return cls(os.path.join(app_root, name))

    def _unusable(self, why):
        return RollbackError(
            'Cannot read the release ledger {0}: {1}. Restore it from a backup, or move it aside to start an '
            'empty ledger (previous then falls back to the release before the current one).'.format(self.path, why))

    def entries(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return []
        except ValueError as exc:
            raise self._unusable('not valid JSON ({0})'.format(exc))
        except OSError as exc:
            raise self._unusable(exc.strerror or str(exc))
        entries = data.get('entries') if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise self._unusable('it is not a JSON object with a list of "entries"')
        for number, entry in enumerate(entries, 1):
            if not (isinstance(entry, dict) and isinstance(entry.get('version'), str) and entry.get('state')):
                raise self._unusable('entry {0} is not an object with a "version" and a "state"'.format(number))
        return entries

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
