# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A database connection for the command-line tools (psql, pg_dump, mysql, mysqldump...).

The modules that talk to databases (db_backup, migration_check) run where a
managed host has python3 and its standard library only, so they drive the
engines' own client tools instead of Python drivers.

The password never reaches argv (where ``ps`` and ``/proc/<pid>/cmdline``
show it): PostgreSQL tools read it from ``PGPASSWORD`` in their environment,
MySQL/MariaDB tools from a defaults file (mode 0600, removed afterwards)
named by ``--defaults-extra-file``, which must be their first argument.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import shutil
import subprocess
import tempfile

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError

POSTGRESQL = 'postgresql'
MYSQL = 'mysql'
ENGINES = (POSTGRESQL, MYSQL)

# Mirrored by the doc fragment ops.rollback._db_conn.
DB_CONNECTION_SPEC = dict(
    engine=dict(type='str', required=True, choices=list(ENGINES)),
    login_host=dict(type='str'),
    login_port=dict(type='int'),
    login_user=dict(type='str'),
    login_password=dict(type='str', no_log=True),
    db=dict(type='str'),
    connect_timeout=dict(type='int', default=10),
)

# The command-line tools of each engine, by the role they play. MariaDB 11
# drops the mysql* names; mariadb* exist since 10.4 (``_tool`` picks what is there).
_TOOLS = {
    POSTGRESQL: {'client': ('psql',), 'dump': ('pg_dump',), 'restore': ('pg_restore',)},
    MYSQL: {'client': ('mariadb', 'mysql'), 'dump': ('mariadb-dump', 'mysqldump')},
}


class DatabaseError(RollbackError):
    """A database tool failed: could not connect, bad credentials, a failing statement."""


class Connection:
    """Where and as whom to connect; every tool is run through ``run``/``popen`` so it gets the credentials."""

    def __init__(self, engine, host=None, port=None, user=None, password=None, db=None, connect_timeout=10):
        if engine not in ENGINES:
            raise InvalidInputError('engine must be one of {0}, not {1}. Nothing was changed.'.format(', '.join(ENGINES), engine))
        self.engine = engine
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.db = db
        self.connect_timeout = connect_timeout

    @classmethod
    def from_params(cls, params):
        return cls(params['engine'], params.get('login_host'), params.get('login_port'), params.get('login_user'),
                   params.get('login_password'), params.get('db'), params.get('connect_timeout') or 10)

    def where(self):
        """``postgresql://user@host:port/db`` for messages: no password."""
        return '{0}://{1}{2}{3}/{4}'.format(
            self.engine, (self.user + '@') if self.user else '', self.host or 'localhost',
            ':{0}'.format(self.port) if self.port else '', self.db or '')

    def tool(self, role):
        """Path of the engine's tool for ``role`` (client, dump, restore); a clear error when it is not installed."""
        names = _TOOLS[self.engine].get(role, ())
        for name in names:
            path = shutil.which(name)
            if path:
                return path
        raise DatabaseError(
            '{0} is not installed on this host ({1} client tools are needed: install postgresql-client or '
            'mariadb-client), or run the task where they are, with delegate_to. Nothing was changed.'.format(
                ' or '.join(names), self.engine))

    def command(self, role, args, db=None):
        """argv for the tool of ``role`` with ``args``, connected to ``db`` (default: this connection's db).

        For MySQL, ``--defaults-extra-file`` comes first (the tools require it),
        filled in by ``run``/``popen``; ``{defaults_file}`` marks its place.
        """
        argv = [self.tool(role)]
        if self.engine == MYSQL:
            argv.append('--defaults-extra-file={defaults_file}')
        argv.extend(args)
        database = self.db if db is None else db
        if database and self.engine == MYSQL and role == 'client':
            argv.append(database)
        return argv

    def environment(self, db=None):
        """Environment for the tools: PG* variables, or a plain copy for MySQL (whose credentials go in the defaults file)."""
        env = dict(os.environ)
        env['LC_ALL'] = 'C'
        if self.engine == POSTGRESQL:
            for name, value in (('PGHOST', self.host), ('PGPORT', self.port), ('PGUSER', self.user),
                                ('PGPASSWORD', self.password), ('PGDATABASE', self.db if db is None else db),
                                ('PGCONNECT_TIMEOUT', self.connect_timeout)):
                if value is not None and value != '':
                    env[name] = str(value)
            # A password file or service file must not override what was asked for.
            env.setdefault('PGAPPNAME', 'ops.rollback')
        else:
            env.pop('MYSQL_PWD', None)
        return env

    def _defaults_file(self, tmpdir):
        lines = ['[client]']
        for key, value in (('host', self.host), ('port', self.port), ('user', self.user), ('password', self.password)):
            if value is not None and value != '':
                # Quoted, so a password with '#' or spaces is read whole.
                text = str(value).replace('\\', '\\\\').replace('"', '\\"')
                lines.append('{0}="{1}"'.format(key, text))
        # Only the client knows connect-timeout: mysqldump/mariadb-dump refuse it as an unknown variable in [client].
        lines.extend(['[mysql]', 'connect-timeout={0}'.format(self.connect_timeout)])
        path = os.path.join(tmpdir, 'client.cnf')
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
        return path

    def _prepare(self, argv, db):
        tmpdir = tempfile.mkdtemp(prefix='ops-rollback-db-')
        os.chmod(tmpdir, 0o700)
        if self.engine == MYSQL:
            defaults = self._defaults_file(tmpdir)
            argv = [arg.replace('{defaults_file}', defaults) if arg.startswith('--defaults-extra-file=') else arg
                    for arg in argv]
        return argv, self.environment(db), tmpdir

    def run(self, argv, db=None, action='run'):
        """Run ``argv`` (from ``command``) and return its standard output as text; ``popen`` streams instead.

        A non-zero exit raises DatabaseError naming ``action`` and what the tool said.
        """
        argv, env, tmpdir = self._prepare(argv, db)
        try:
            proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  check=False)
        except OSError as err:
            raise DatabaseError('Could not {0}: {1} failed to start: {2}'.format(action, argv[0], err))
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        if proc.returncode != 0:
            raise self.error(action, proc.stderr)
        return proc.stdout.decode('utf-8', 'replace')

    @contextlib.contextmanager
    def popen(self, argv, db=None, stdin=None, stdout=None, action='run'):
        """Start ``argv`` (from ``command``) and yield the process, for tools whose data is streamed.

        ``stdin``/``stdout`` are open files or ``subprocess.PIPE`` (default:
        nothing in, output discarded). On leaving the block the process is
        waited for (killed first if the block raised); a non-zero exit raises
        DatabaseError naming ``action`` and what the tool said. The defaults
        file lives as long as the process.
        """
        argv, env, tmpdir = self._prepare(argv, db)
        # A file, not a pipe: a tool that writes much to stderr cannot block on it.
        errors = tempfile.TemporaryFile(dir=tmpdir)
        try:
            try:
                proc = subprocess.Popen(argv, env=env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                        stdout=stdout if stdout is not None else subprocess.DEVNULL, stderr=errors)
            except OSError as err:
                raise DatabaseError('Could not {0}: {1} failed to start: {2}'.format(action, argv[0], err))
            try:
                yield proc
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                for pipe in (proc.stdin, proc.stdout):
                    if pipe is not None:
                        pipe.close()
            proc.wait()
            if proc.returncode != 0:
                errors.seek(0)
                raise self.error(action, errors.read())
        finally:
            errors.close()
            shutil.rmtree(tmpdir, ignore_errors=True)

    def error(self, action, stderr):
        """DatabaseError for a failed tool, with a hint for the usual causes."""
        said = (stderr.decode('utf-8', 'replace') if isinstance(stderr, bytes) else (stderr or '')).strip()
        lower = said.lower()
        if 'password authentication failed' in lower or 'access denied' in lower:
            hint = ' Check login_user and login_password.'
        elif 'could not connect' in lower or "can't connect" in lower or 'connection refused' in lower or 'timeout expired' in lower:
            hint = ' Check that the server runs and that login_host and login_port point to it.'
        elif 'does not exist' in lower or 'unknown database' in lower:
            hint = ' Check the database name (db).'
        else:
            hint = ''
        return DatabaseError('Could not {0} on {1}: {2}.{3}'.format(action, self.where(), said or 'the tool failed without a message', hint),
                             stderr=said)

    def query(self, sql, db=None):
        """Rows of ``sql`` as lists of strings (NULL as None), through the engine's client tool."""
        if self.engine == POSTGRESQL:
            argv = self.command('client', ['-X', '-q', '-A', '-t', '-F', '\t', '-P', 'null=\\N', '-v', 'ON_ERROR_STOP=1', '-c', sql])
        else:
            argv = self.command('client', ['-N', '-B', '-e', sql], db=db)
        out = self.run(argv, db=db, action='run a query')
        rows = []
        for line in out.splitlines():
            if line == '':
                continue
            rows.append([None if cell == '\\N' or cell == 'NULL' else cell for cell in line.split('\t')])
        return rows

    def table_exists(self, table, db=None):
        """Whether ``table`` exists in the connected database (public schema on PostgreSQL)."""
        if self.engine == POSTGRESQL:
            sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{0}'".format(
                table.replace("'", "''"))
        else:
            sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{0}'".format(
                table.replace("'", "''"))
        return bool(self.query(sql, db=db))
