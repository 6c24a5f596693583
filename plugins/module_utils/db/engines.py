# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What dumping, re-reading and restoring mean for each engine, behind one interface.

``backend_for(connection)`` gives a PostgresBackend or a MysqlBackend; the
backup logic (backup.py) only calls the methods of ``_Backend``. Standard
library only: this runs on managed hosts.

- PostgreSQL: ``pg_dump`` in custom format (one file) or directory format
  (a directory, dumped with parallel jobs); re-read with ``pg_restore``.
- MySQL/MariaDB: ``mysqldump --single-transaction`` streamed through
  Python's gzip into one ``.sql.gz`` file; complete when its last line is the
  tool's ``-- Dump completed`` comment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import os
import subprocess
import zlib

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils.db.connection import MYSQL, POSTGRESQL

CHUNK = 1024 * 1024
# gzip's own default: level 9 costs about twice the time for a few percent.
GZIP_LEVEL = 6
MYSQL_COMPLETED = b'-- Dump completed'
# Every suffix a dump file or directory name ends with (see the backends' suffix).
DUMP_ENDINGS = ('.dump', '.dir', '.sql.gz')


class BackupCorruptError(RollbackError):
    """A dump that cannot be read back whole: empty, truncated, altered, or missing its completion marker."""


def _pg_literal(value):
    # standard_conforming_strings is on: backslashes are plain characters.
    return "'" + value.replace("'", "''") + "'"


def _mysql_literal(value):
    return "'" + value.replace('\\', '\\\\').replace("'", "''") + "'"


class _Backend:
    """One engine's dump format; every method takes plain values and raises our errors."""

    formats = ()
    default_format = None

    def __init__(self, connection):
        self.conn = connection

    def suffix(self, fmt):
        """The file name ending of a dump in format ``fmt``."""
        raise NotImplementedError

    def check_options(self, fmt, jobs, restoring=False):
        if fmt not in self.formats:
            raise InvalidInputError('format={0} is not a {1} dump format (choose {2}). Nothing was changed.'.format(
                fmt, self.conn.engine, ' or '.join(self.formats)), option='format')
        if jobs is not None and jobs < 1:
            raise InvalidInputError('jobs must be 1 or more, not {0}. Nothing was changed.'.format(jobs), option='jobs')

    def tables(self, db):
        """``{table: row count}`` of every table of ``db``, counted exactly."""
        raise NotImplementedError

    def versions(self):
        """``{'dump': tool version, 'server': server version}``, recorded in the manifest."""
        raise NotImplementedError

    def dump(self, db, path, fmt, jobs):
        """Dump ``db`` to ``path`` (which does not exist yet); raise BackupCorruptError on a dump that is no dump."""
        raise NotImplementedError

    def reread(self, path, fmt):
        """Read the whole dump back; raise BackupCorruptError when it is not complete."""
        raise NotImplementedError

    def database_exists(self, db):
        raise NotImplementedError

    def create_database(self, db):
        raise NotImplementedError

    def restore(self, path, fmt, db, jobs, replace):
        raise NotImplementedError


class PostgresBackend(_Backend):
    formats = ('custom', 'directory')
    default_format = 'custom'
    # The database every server has, for statements about other databases.
    maintenance_db = 'postgres'

    def suffix(self, fmt):
        return '.dump' if fmt == 'custom' else '.dir'

    def check_options(self, fmt, jobs, restoring=False):
        super(PostgresBackend, self).check_options(fmt, jobs, restoring)
        if not restoring and (jobs or 1) > 1 and fmt != 'directory':
            raise InvalidInputError(
                'pg_dump runs parallel jobs only in directory format: set format=directory with jobs={0}, or drop jobs. '
                'Nothing was changed.'.format(jobs), option='jobs')

    def tables(self, db):
        # One statement, so every count comes from the same snapshot.
        sql = ("SELECT table_schema || '.' || table_name, "
               "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), "
               "false, true, '')))[1]::text FROM information_schema.tables "
               "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")
        return dict((name, int(count)) for name, count in self.conn.query(sql, db=db))

    def versions(self):
        dump = self.conn.run(self.conn.command('dump', ['--version']), action='read the pg_dump version').strip()
        server = self.conn.query('SHOW server_version', db=self.maintenance_db)[0][0]
        return {'dump': dump, 'server': server}

    def dump(self, db, path, fmt, jobs):
        args = ['--no-password', '--format=' + fmt, '--file=' + path]
        if fmt == 'directory':
            args.append('--jobs={0}'.format(jobs or 1))
        self.conn.run(self.conn.command('dump', args), db=db, action='dump database {0}'.format(db))
        self._table_of_contents(path)

    def _table_of_contents(self, path):
        """``pg_restore --list``: fails on a file that is empty, cut short in its header, or no archive at all."""
        try:
            listing = self.conn.run(self.conn.command('restore', ['--list', path]), action='list the archive')
        except RollbackError as err:
            raise BackupCorruptError('{0} is not a readable pg_dump archive: {1}'.format(path, err.msg))
        if ' TABLE DATA ' not in listing and ' SCHEMA ' not in listing and ' TABLE ' not in listing:
            raise BackupCorruptError('{0} is an archive without any table or schema in it.'.format(path))
        return listing

    def reread(self, path, fmt):
        self._table_of_contents(path)
        # Writing the whole archive out as SQL decompresses every data block: a truncated one fails here.
        try:
            self.conn.run(self.conn.command('restore', ['--file=' + os.devnull, path]), action='read the archive')
        except RollbackError as err:
            raise BackupCorruptError('{0} cannot be read to its end: {1}'.format(path, err.msg))

    def database_exists(self, db):
        return bool(self.conn.query('SELECT 1 FROM pg_database WHERE datname = {0}'.format(_pg_literal(db)),
                                    db=self.maintenance_db))

    def create_database(self, db):
        self.conn.query('CREATE DATABASE "{0}"'.format(db.replace('"', '""')), db=self.maintenance_db)

    def restore(self, path, fmt, db, jobs, replace):
        # A conninfo string, so that a database name is never taken for options.
        args = ['--no-password', '--exit-on-error', "--dbname=dbname='{0}'".format(db.replace('\\', '\\\\').replace("'", "\\'"))]
        if (jobs or 1) > 1:
            args.append('--jobs={0}'.format(jobs))
        else:
            # All or nothing: a failed restore leaves the database as it was.
            args.append('--single-transaction')
        if replace:
            args.extend(['--clean', '--if-exists'])
        self.conn.run(self.conn.command('restore', args + [path]), db=db, action='restore into database {0}'.format(db))


class MysqlBackend(_Backend):
    formats = ('sql.gz',)
    default_format = 'sql.gz'

    def suffix(self, fmt):
        return '.sql.gz'

    def check_options(self, fmt, jobs, restoring=False):
        if fmt != self.default_format:
            raise InvalidInputError('format applies to PostgreSQL only (MySQL dumps are always gzip-compressed SQL): '
                                    'remove it for engine=mysql. Nothing was changed.', option='format')
        if jobs is not None:
            raise InvalidInputError('jobs applies to PostgreSQL only: remove it for engine=mysql. Nothing was changed.',
                                    option='jobs')

    def tables(self, db):
        names = [row[0] for row in self.conn.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = {0} AND table_type = 'BASE TABLE' "
            "ORDER BY table_name".format(_mysql_literal(db)), db='')]
        if not names:
            return {}
        # One statement inside one transaction, so every count comes from the same snapshot.
        sql = ' UNION ALL '.join('SELECT {0}, COUNT(*) FROM {1}.{2}'.format(
            _mysql_literal(name), _quote_name(db), _quote_name(name)) for name in names)
        return dict((name, int(count)) for name, count in self.conn.query(sql, db=''))

    def versions(self):
        dump = self.conn.run(self.conn.command('dump', ['--version']), action='read the mysqldump version').strip()
        server = self.conn.query('SELECT VERSION()', db='')[0][0]
        return {'dump': dump, 'server': server}

    def dump(self, db, path, fmt, jobs):
        args = ['--single-transaction', '--quick', '--routines', '--triggers', '--hex-blob', '--', db]
        tail = b''
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'wb') as raw:
            with gzip.GzipFile(filename='', mode='wb', compresslevel=GZIP_LEVEL, fileobj=raw) as compressed:
                with self.conn.popen(self.conn.command('dump', args), stdout=subprocess.PIPE,
                                     action='dump database {0}'.format(db)) as proc:
                    for chunk in iter(lambda: proc.stdout.read(CHUNK), b''):
                        compressed.write(chunk)
                        tail = (tail + chunk)[-256:]
            raw.flush()
            os.fsync(raw.fileno())
        _check_completed(path, tail)

    def reread(self, path, fmt):
        tail = b''
        try:
            with gzip.open(path, 'rb') as stream:
                for chunk in iter(lambda: stream.read(CHUNK), b''):
                    tail = (tail + chunk)[-256:]
        except (OSError, EOFError, zlib.error) as err:
            raise BackupCorruptError('{0} cannot be decompressed to its end: {1}'.format(path, err))
        _check_completed(path, tail)

    def database_exists(self, db):
        return bool(self.conn.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = {0}'.format(
            _mysql_literal(db)), db=''))

    def create_database(self, db):
        self.conn.query('CREATE DATABASE {0}'.format(_quote_name(db)), db='')

    def restore(self, path, fmt, db, jobs, replace):
        # Without replace the target was checked to be empty; the dump's own DROP TABLE IF EXISTS does the replacing.
        argv = self.conn.command('client', [], db=db)
        with gzip.open(path, 'rb') as stream:
            with self.conn.popen(argv, stdin=subprocess.PIPE, action='restore into database {0}'.format(db)) as proc:
                try:
                    for chunk in iter(lambda: stream.read(CHUNK), b''):
                        proc.stdin.write(chunk)
                except BrokenPipeError:
                    pass  # the client stopped on an error, which leaving the block reports


def _quote_name(name):
    return '`' + name.replace('`', '``') + '`'


def _check_completed(path, tail):
    if not tail.strip():
        raise BackupCorruptError('{0} is empty: the dump tool wrote nothing.'.format(path))
    if not tail.rstrip().splitlines()[-1].startswith(MYSQL_COMPLETED):
        raise BackupCorruptError('{0} is cut short: its last line is not the "{1}" line mysqldump writes at the end.'.format(
            path, MYSQL_COMPLETED.decode()))


def backend_for(connection):
    return {POSTGRESQL: PostgresBackend, MYSQL: MysqlBackend}[connection.engine](connection)
