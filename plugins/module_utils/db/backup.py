# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Database backups that are checked before anyone relies on them (the db_backup module).

A backup in ``dest`` is two things side by side::

    orders-pre-rollback-v1.3.0-20260130T142501Z.dump   the dump (a file, or a directory for format=directory)
    orders-pre-rollback-v1.3.0-20260130T142501Z.json   its manifest

The dump is written as ``.<name>.partial`` and renamed once it is complete
and has been read back; the manifest is written last (atomically), so a
backup exists exactly when its manifest does. Files are 0600, directories 0700.

The manifest holds engine, db, label, created (UTC), format, size, sha256,
every table with its row count, the tools' versions, how long the dump
took, and when the backup was last verified in full. The sha256 of a
directory dump is the sha256 of its ``sha256sum`` listing: one line
``<sha256 of the file>  <path relative to the directory>`` per file, in
byte order of the paths.

Standard library only: this runs on managed hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import os
import re
import shutil
import time

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, NotFoundError
from ansible_collections.ops.rollback.plugins.module_utils.db.connection import DB_CONNECTION_SPEC, Connection
from ansible_collections.ops.rollback.plugins.module_utils.db.engines import CHUNK, DUMP_ENDINGS, BackupCorruptError, backend_for

STATES = ('dump', 'verify', 'restore', 'listed', 'prune')
MANIFEST_KEY = 'ops_rollback_backup'
MANIFEST_VERSION = 1
_LABEL = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$')
_AGE = re.compile(r'^\s*(\d+)\s*([smhdw]?)\s*$')
_AGE_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}

# Options that only mean something for some states; elsewhere they are refused.
STATE_OPTIONS = {
    'src': ['verify', 'restore'],
    'format': ['dump'],
    'jobs': ['dump', 'restore'],
    'force': ['dump'],
    'replace': ['restore'],
    'keep': ['prune'],
    'max_age': ['prune'],
}


def db_backup_argument_spec():
    spec = dict(DB_CONNECTION_SPEC)
    spec.update(
        state=dict(type='str', default='dump', choices=list(STATES)),
        dest=dict(type='path'),
        src=dict(type='path'),
        label=dict(type='str'),
        format=dict(type='str', choices=['custom', 'directory']),
        jobs=dict(type='int'),
        force=dict(type='bool'),
        replace=dict(type='bool'),
        keep=dict(type='int'),
        max_age=dict(type='str'),
    )
    return spec


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def _parse_iso(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)


def parse_max_age(text):
    """Seconds in ``text``: a number with an optional unit s, m, h, d or w (``36h``, ``7d``)."""
    match = _AGE.match(text or '')
    if not match or int(match.group(1)) == 0:
        raise InvalidInputError(
            'max_age={0!r} is not an age: give a positive number with an optional unit s, m, h, d or w, '
            'for example 7d or 36h. Nothing was changed.'.format(text), option='max_age')
    return int(match.group(1)) * _AGE_UNITS[match.group(2)]


def checksum(path):
    """sha256 of a file, or of the ``sha256sum`` listing of a directory's files (see the module docstring)."""
    if not os.path.isdir(path):
        return _file_sha256(path)
    listing = hashlib.sha256()
    for relative in sorted(_files_under(path), key=lambda name: name.encode('utf-8', 'surrogateescape')):
        listing.update('{0}  {1}\n'.format(_file_sha256(os.path.join(path, relative)), relative).encode(
            'utf-8', 'surrogateescape'))
    return listing.hexdigest()


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _files_under(path):
    for root, _dirs, files in os.walk(path):
        for name in files:
            yield os.path.relpath(os.path.join(root, name), path)


def disk_size(path):
    if not os.path.isdir(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(path, name)) for name in _files_under(path))


def _make_private(path):
    """0600 for files, 0700 for directories, whatever the dump tool's umask was."""
    if os.path.isdir(path):
        os.chmod(path, 0o700)
        for root, dirs, files in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o700)
            for name in files:
                os.chmod(os.path.join(root, name), 0o600)
    else:
        os.chmod(path, 0o600)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _write_json_atomically(path, data):
    partial = os.path.join(os.path.dirname(path), '.' + os.path.basename(path) + '.partial')
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write('\n')
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(partial, path)


class BackupStore:
    """The backups in one directory, read through their manifests."""

    def __init__(self, dest):
        if not os.path.isabs(dest):
            raise InvalidInputError('dest {0!r} must be an absolute path, e.g. /var/backups/db. Nothing was changed.'.format(
                dest), option='dest')
        self.dest = dest

    def backups(self, engine=None, db=None, label=None):
        """Every complete backup in dest (newest first), optionally only those of an engine, a db and a label."""
        if not os.path.isdir(self.dest):
            return []
        found = []
        for name in os.listdir(self.dest):
            if name.startswith('.') or not name.endswith('.json'):
                continue
            backup = read_backup(os.path.join(self.dest, name))
            if backup is None:
                continue
            wanted = dict(engine=engine, db=db, label=label)
            if any(value is not None and backup[key] != value for key, value in wanted.items()):
                continue
            found.append(backup)
        found.sort(key=lambda backup: (backup['created'], backup['name']), reverse=True)
        return found

    def new_name(self, db, label, moment, suffix):
        """``<db>-<label>-<UTC time>`` (a db name's characters outside [A-Za-z0-9._-] become _), unused in dest."""
        parts = [re.sub(r'[^A-Za-z0-9._-]', '_', db)] + ([label] if label else []) + [moment.strftime('%Y%m%dT%H%M%SZ')]
        base = '-'.join(parts)
        name, number = base, 1
        while any(os.path.lexists(os.path.join(self.dest, candidate))
                  for candidate in (name + suffix, name + '.json', '.' + name + suffix + '.partial')):
            number += 1
            name = '{0}.{1}'.format(base, number)
        return name


def read_backup(manifest_path):
    """The backup a manifest describes (the manifest plus ``path`` and ``manifest``), or None if it is not ours."""
    try:
        with open(manifest_path) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get(MANIFEST_KEY) != MANIFEST_VERSION:
        return None
    directory = os.path.dirname(manifest_path)
    backup = dict(data)
    backup.pop(MANIFEST_KEY)
    backup.update(path=os.path.join(directory, data['file']), manifest=manifest_path)
    return backup


def _manifest_of(backup):
    data = dict((key, value) for key, value in backup.items() if key not in ('path', 'manifest'))
    data[MANIFEST_KEY] = MANIFEST_VERSION
    return data


def backup_at(src):
    """The backup whose dump (or manifest) is ``src``."""
    path = os.path.abspath(src)
    name = path
    for ending in DUMP_ENDINGS + ('.json',):
        if path.endswith(ending):
            name = path[:-len(ending)]
            break
    backup = read_backup(name + '.json')
    if backup is None or path not in (os.path.abspath(backup['path']), os.path.abspath(backup['manifest'])):
        raise NotFoundError(
            'No backup made by db_backup at {0}: a backup is its dump and the manifest (<name>.json) beside it. '
            'Pass the path a dump returned, or use state=listed to see the backups in a directory. '
            'Nothing was changed.'.format(src))
    return backup


class BackupManager:
    """The five states over one backend (engines.py) and one backup directory."""

    def __init__(self, backend, store=None, check_mode=False, warn=None):
        self.backend = backend
        self.conn = backend.conn
        self.store = store
        self.check_mode = check_mode
        self.warn = warn or (lambda message: None)

    # -- dump ------------------------------------------------------------------

    def dump(self, db, label=None, fmt=None, jobs=None, force=False):
        fmt = fmt or self.backend.default_format
        self.backend.check_options(fmt, jobs)
        if label is not None and not _LABEL.match(label):
            raise InvalidInputError(
                'label {0!r} cannot be part of a file name: use letters, digits and . _ + - (up to 100, starting with a '
                'letter or digit), for example pre-rollback-v1.3.0. Nothing was changed.'.format(label), option='label')
        if label and not force:
            existing = self._reusable(db, label)
            if existing:
                return dict(changed=False, backup=existing, **self._dump_summary(existing))
        # Read first: bad credentials or a missing database fail here, before anything is written.
        tables = self.backend.tables(db)
        moment = utc_now()
        suffix = self.backend.suffix(fmt)
        name = self.store.new_name(db, label, moment, suffix)
        path = os.path.join(self.store.dest, name + suffix)
        before = [backup['name'] for backup in self.store.backups()]
        diff = dict(before=''.join(n + '\n' for n in before), after=''.join(n + '\n' for n in sorted(before + [name])))
        if self.check_mode:
            planned = dict(name=name, path=path, manifest=os.path.join(self.store.dest, name + '.json'), engine=self.conn.engine,
                           db=db, label=label, format=fmt, tables=tables)
            return dict(changed=True, backup=planned, path=path, diff=diff)
        backup = self._dump_new(db, label, fmt, jobs, tables, name, path, moment)
        return dict(changed=True, backup=backup, diff=diff, **self._dump_summary(backup))

    @staticmethod
    def _dump_summary(backup):
        return dict((key, backup[key]) for key in ('path', 'size', 'sha256', 'duration'))

    def _reusable(self, db, label):
        """The newest backup of this db and label that still reads back whole, or None (with a warning when one does not)."""
        for backup in self.store.backups(self.conn.engine, db, label):
            try:
                self._verify(backup, full=not backup.get('verified'))
            except BackupCorruptError as err:
                self.warn('The backup {0} of label {1} failed verification ({2}); making a new one.'.format(
                    backup['name'], label, err.msg))
                continue
            return backup
        return None

    def _dump_new(self, db, label, fmt, jobs, tables, name, path, moment):
        if not os.path.isdir(self.store.dest):
            os.makedirs(self.store.dest, 0o700)
        versions = self.backend.versions()
        partial = os.path.join(self.store.dest, '.' + name + self.backend.suffix(fmt) + '.partial')
        started = time.monotonic()
        try:
            self.backend.dump(db, partial, fmt, jobs)
            _make_private(partial)
            size, sha256 = disk_size(partial), checksum(partial)
            os.rename(partial, path)
        except BackupCorruptError as err:
            raise BackupCorruptError('Dump of database {0} on {1} failed: {2} Nothing was kept; check the server log and '
                                     'the disk, then run the dump again.'.format(db, self.conn.where(), err.msg))
        finally:
            if os.path.lexists(partial):
                _remove(partial)
        backup = dict(name=name, file=os.path.basename(path), engine=self.conn.engine, db=db, label=label,
                      created=_iso(moment), format=fmt, size=size, sha256=sha256, tables=tables, tools=versions,
                      duration=round(time.monotonic() - started, 3), verified=None,
                      path=path, manifest=os.path.join(self.store.dest, name + '.json'))
        _write_json_atomically(backup['manifest'], _manifest_of(backup))
        return backup

    # -- verify ----------------------------------------------------------------

    def verify(self, backup):
        self._verify(backup, full=True)
        return dict(changed=False, backup=backup, verified=True)

    def _verify(self, backup, full):
        """Size and sha256 against the manifest; with ``full``, also read the whole dump back and record when."""
        path = backup['path']
        if not os.path.exists(path):
            raise BackupCorruptError('Backup {0} is incomplete: its dump {1} is missing.'.format(backup['name'], path))
        size = disk_size(path)
        if size != backup['size']:
            raise BackupCorruptError('Backup {0} was altered or cut short: {1} is {2} bytes, the manifest says {3}.'.format(
                backup['name'], path, size, backup['size']))
        sha256 = checksum(path)
        if sha256 != backup['sha256']:
            raise BackupCorruptError('Backup {0} was altered: the sha256 of {1} is {2}, the manifest says {3}.'.format(
                backup['name'], path, sha256, backup['sha256']))
        if full:
            self.backend.reread(path, backup['format'])
            backup['verified'] = _iso(utc_now())
            if not self.check_mode:
                _write_json_atomically(backup['manifest'], _manifest_of(backup))

    # -- restore ---------------------------------------------------------------

    def restore(self, backup, db=None, jobs=None, replace=False):
        target = db or backup['db']
        self.backend.check_options(backup['format'], jobs, restoring=True)
        # Never restore what does not read back as the manifest says (cheap: size and sha256).
        self._verify(backup, full=False)
        exists = self.backend.database_exists(target)
        current = self.backend.tables(target) if exists else {}
        if current and not replace:
            raise InvalidInputError(
                'Refusing to restore backup {0} into database {1} on {2}: it is not empty ({3} tables: {4}). Set '
                'replace=true to drop the tables the backup holds and restore them from it, or restore into another '
                'database with db=. Nothing was changed.'.format(
                    backup['name'], target, self.conn.where(), len(current), ', '.join(sorted(current)[:10])),
                option='replace')
        diff = dict(before=_table_lines(current), after=_table_lines(dict(current, **backup['tables'])))
        result = dict(changed=True, backup=backup, db=target, created_db=not exists, diff=diff)
        if self.check_mode:
            result['tables'] = _compare(backup['tables'], None)
            return result
        if not exists:
            self.backend.create_database(target)
        self.backend.restore(backup['path'], backup['format'], target, jobs, replace)
        restored = self.backend.tables(target)
        result['tables'] = _compare(backup['tables'], restored)
        result['rows_match'] = all(table['restored'] == table['expected'] for table in result['tables'])
        if not result['rows_match']:
            differing = ['{name} {restored} (expected {expected})'.format(**table) for table in result['tables']
                         if table['restored'] != table['expected']]
            self.warn('Row counts of the restored database {0} differ from the backup manifest of {1}: {2}'.format(
                target, backup['name'], ', '.join(differing)))
        return result

    # -- list and prune --------------------------------------------------------

    def prune(self, db=None, label=None, keep=None, max_age=None):
        if keep is not None and keep < 1:
            raise InvalidInputError('keep must be 1 or more, not {0}: to keep none, remove the directory. Nothing was '
                                    'changed.'.format(keep), option='keep')
        if keep is None and max_age is None:
            raise InvalidInputError('state=prune needs keep, max_age or both, to know what to remove. Nothing was changed.',
                                    option='keep')
        oldest_kept = utc_now() - datetime.timedelta(seconds=parse_max_age(max_age)) if max_age is not None else None
        backups = self.store.backups(self.conn.engine, db, label)
        removed = []
        by_db = {}
        for backup in backups:   # newest first
            newer = by_db.setdefault(backup['db'], [])
            beyond_keep = keep is None or len(newer) >= keep
            too_old = oldest_kept is None or _parse_iso(backup['created']) < oldest_kept
            newer.append(backup)
            if beyond_keep and too_old:
                removed.append(backup)
        names = sorted(backup['name'] for backup in backups)
        gone = set(backup['name'] for backup in removed)
        result = dict(changed=bool(removed), removed=[backup['path'] for backup in removed],
                      backups=[backup for backup in backups if backup['name'] not in gone],
                      diff=dict(before=''.join(n + '\n' for n in names),
                                after=''.join(n + '\n' for n in names if n not in gone)))
        if not self.check_mode:
            for backup in removed:
                # Manifest first: a backup half removed is no longer listed or reused.
                _remove(backup['manifest'])
                _remove(backup['path'])
        return result


def _table_lines(tables):
    return ''.join('{0}\n'.format(name) for name in sorted(tables))


def _compare(expected, restored):
    return [dict(name=name, expected=count, restored=None if restored is None else restored.get(name))
            for name, count in sorted(expected.items())]


def run_db_backup(params, check_mode=False, warn=None):
    """The module's work: ``params`` as the module got them; returns its result."""
    state = params['state']
    conn = Connection.from_params(params)
    dest = params.get('dest')
    store = BackupStore(dest) if dest else None
    manager = BackupManager(backend_for(conn), store, check_mode=check_mode, warn=warn)
    if state == 'dump':
        return manager.dump(params['db'], params.get('label'), params.get('format'), params.get('jobs'),
                            bool(params.get('force')))
    if state == 'listed':
        backups = store.backups(conn.engine, params.get('db'), params.get('label'))
        return dict(changed=False, backups=backups)
    if state == 'prune':
        return manager.prune(params.get('db'), params.get('label'), params.get('keep'), params.get('max_age'))
    backup = _chosen_backup(params, conn, store)
    if state == 'verify':
        return manager.verify(backup)
    return manager.restore(backup, params.get('db'), params.get('jobs'), bool(params.get('replace')))


def _chosen_backup(params, conn, store):
    """The backup to verify or restore: ``src``, or the newest in ``dest`` of ``label`` (and of ``db`` for verify)."""
    if params.get('src'):
        backup = backup_at(params['src'])
        if backup['engine'] != conn.engine:
            raise InvalidInputError('{0} is a {1} backup, not {2}: set engine={1}. Nothing was changed.'.format(
                params['src'], backup['engine'], conn.engine), option='engine')
        return backup
    db = params.get('db') if params['state'] == 'verify' else None
    backups = store.backups(conn.engine, db, params.get('label'))
    if not backups:
        raise NotFoundError('No {0} backup{1}{2} in {3}: check dest, label and db, or pass src. Nothing was changed.'.format(
            conn.engine, ' of database ' + db if db else '', ' with label ' + params['label'] if params.get('label') else '',
            store.dest))
    return backups[0]
