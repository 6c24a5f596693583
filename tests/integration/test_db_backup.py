# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_backup against the real servers: PostgreSQL on 127.0.0.1:5432 (trust auth,
user postgres) and MariaDB on 127.0.0.1:3306 (root, no password).

Every test makes databases of its own (random names) and drops them afterwards.
"""
from __future__ import annotations

import gzip
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.ops.rollback.plugins.modules import db_backup

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
ENGINES = {
    'postgresql': dict(engine='postgresql', login_host='127.0.0.1', login_port=5432, login_user='postgres'),
    'mysql': dict(engine='mysql', login_host='127.0.0.1', login_port=3306, login_user='root'),
}


def admin(engine, sql, db=None):
    """Run ``sql`` as the servers' administrator; returns the output lines."""
    if engine == 'postgresql':
        argv = ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-U', 'postgres',
                '-d', db or 'postgres', '-c', sql]
    else:
        argv = ['mariadb', '-h', '127.0.0.1', '-u', 'root', '-N', '-B', '-e', sql] + ([db] if db else [])
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.splitlines()


def drop(engine, name):
    if engine == 'postgresql':
        admin(engine, 'DROP DATABASE IF EXISTS "{0}" WITH (FORCE)'.format(name))
    else:
        admin(engine, 'DROP DATABASE IF EXISTS `{0}`'.format(name))


class Databases:
    """Databases with random names, dropped at the end of the test."""

    def __init__(self, engine):
        self.engine = engine
        self.names = []

    def name(self):
        name = 'dbb_{0}'.format(secrets.token_hex(4))
        self.names.append(name)
        return name

    def make(self, rows=500):
        """A database with an orders table of ``rows`` rows, a customers table, and an empty one."""
        name = self.name()
        if self.engine == 'postgresql':
            admin(self.engine, 'CREATE DATABASE "{0}"'.format(name))
            admin(self.engine, "CREATE TABLE orders (id int PRIMARY KEY, note text); "
                               "INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, {0}) g; "
                               "CREATE TABLE customers (id int PRIMARY KEY, name text); "
                               "INSERT INTO customers VALUES (1, 'ann'), (2, 'bob'); "
                               "CREATE TABLE audit (id int)".format(rows), db=name)
        else:
            admin(self.engine, 'CREATE DATABASE `{0}`'.format(name))
            admin(self.engine, "CREATE TABLE orders (id int PRIMARY KEY, note text) ENGINE=InnoDB; "
                               "INSERT INTO orders SELECT seq, md5(seq) FROM seq_1_to_{0}; "
                               "CREATE TABLE customers (id int PRIMARY KEY, name text) ENGINE=InnoDB; "
                               "INSERT INTO customers VALUES (1, 'ann'), (2, 'bob'); "
                               "CREATE TABLE audit (id int) ENGINE=InnoDB".format(rows), db=name)
        return name

    def drop_all(self):
        for name in self.names:
            drop(self.engine, name)


@pytest.fixture(params=sorted(ENGINES))
def engine(request):
    return request.param


@pytest.fixture
def databases(engine):
    made = Databases(engine)
    yield made
    made.drop_all()


@pytest.fixture
def pg_databases():
    made = Databases('postgresql')
    yield made
    made.drop_all()


@pytest.fixture
def dest(tmp_path):
    return str(tmp_path / 'backups')


def table_name(engine, table):
    return 'public.' + table if engine == 'postgresql' else table


def dump(run_module, engine, db, dest, **extra):
    code, result = run_module(db_backup.main, dict(ENGINES[engine], db=db, dest=dest, **extra))
    assert code == 0, result
    return result


def test_dump_verify_restore_into_a_new_database(run_module, engine, databases, dest):
    source = databases.make(rows=500)
    dumped = dump(run_module, engine, source, dest, label='pre-rollback-v1.3.0')
    assert dumped['changed'] is True
    path = dumped['path']
    assert os.path.basename(path).startswith(source + '-pre-rollback-v1.3.0-')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(dumped['backup']['manifest']).st_mode) == 0o600
    with open(dumped['backup']['manifest']) as handle:
        manifest = json.load(handle)
    assert manifest['tables'] == {table_name(engine, 'orders'): 500, table_name(engine, 'customers'): 2,
                                  table_name(engine, 'audit'): 0}
    assert (manifest['sha256'], manifest['size']) == (dumped['sha256'], dumped['size']) == (
        db_backup_checksum(path), os.path.getsize(path))
    if engine == 'mysql':
        with gzip.open(path, 'rt') as handle:
            assert handle.read().rstrip().splitlines()[-1].startswith('-- Dump completed')

    code, verified = run_module(db_backup.main, dict(ENGINES[engine], state='verify', src=path))
    assert (code, verified['verified'], verified['changed']) == (0, True, False)
    assert verified['backup']['verified']

    target = databases.name()
    code, restored = run_module(db_backup.main, dict(ENGINES[engine], state='restore', src=path, db=target))
    assert code == 0, restored
    assert restored['changed'] and restored['created_db'] and restored['rows_match']
    assert dict((t['name'], t['restored']) for t in restored['tables']) == manifest['tables']
    # Data, not only counts: the same rows in the same order.
    assert admin(engine, 'SELECT id, note FROM orders ORDER BY id', db=target) == admin(
        engine, 'SELECT id, note FROM orders ORDER BY id', db=source)
    # The backup is unchanged by the restore.
    assert db_backup_checksum(path) == manifest['sha256']


def db_backup_checksum(path):
    from ansible_collections.ops.rollback.plugins.module_utils.db.backup import checksum
    return checksum(path)


def test_postgresql_directory_format_with_two_jobs(run_module, pg_databases, dest):
    engine = 'postgresql'
    databases = pg_databases
    source = databases.make(rows=2000)
    dumped = dump(run_module, engine, source, dest, format='directory', jobs=2)
    path = dumped['path']
    assert os.path.isdir(path) and path.endswith('.dir')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert all(stat.S_IMODE(os.stat(os.path.join(path, f)).st_mode) == 0o600 for f in os.listdir(path))
    # The documented checksum: sha256 of the sha256sum listing of the files, in byte order of their paths.
    listing = subprocess.run('find . -type f -printf "%P\\n" | LC_ALL=C sort | xargs sha256sum', shell=True, cwd=path,
                             check=True, capture_output=True).stdout
    assert dumped['sha256'] == subprocess.run(['sha256sum'], input=listing, check=True,
                                              capture_output=True).stdout.split()[0].decode()
    code, verified = run_module(db_backup.main, dict(ENGINES[engine], state='verify', src=path))
    assert code == 0 and verified['verified']
    target = databases.name()
    code, restored = run_module(db_backup.main, dict(ENGINES[engine], state='restore', src=path, db=target, jobs=2))
    assert code == 0 and restored['rows_match'], restored
    assert {t['name']: t['restored'] for t in restored['tables']}[table_name(engine, 'orders')] == 2000


def corrupt_truncate(path):
    target = path if os.path.isfile(path) else max(
        (os.path.join(path, f) for f in os.listdir(path)), key=os.path.getsize)
    with open(target, 'r+b') as handle:
        handle.truncate(os.path.getsize(target) // 2)


def corrupt_flip(path):
    with open(path, 'r+b') as handle:
        handle.seek(os.path.getsize(path) // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize('damage, message', [(corrupt_truncate, 'cut short'), (corrupt_flip, 'was altered')])
def test_verify_detects_a_truncated_or_altered_dump(run_module, engine, databases, dest, damage, message):
    dumped = dump(run_module, engine, databases.make(rows=3000), dest)
    damage(dumped['path'])
    code, result = run_module(db_backup.main, dict(ENGINES[engine], state='verify', src=dumped['path']))
    assert code == 1 and result['failed']
    assert message in result['msg'] and dumped['backup']['name'] in result['msg']


def test_verify_reads_back_a_dump_cut_short_with_a_matching_manifest(run_module, engine, databases, dest):
    """A dump truncated before its checksum was taken (as a full disk would) fails the re-read, not only the checksum."""
    dumped = dump(run_module, engine, databases.make(rows=3000), dest)
    corrupt_truncate(dumped['path'])
    from ansible_collections.ops.rollback.plugins.module_utils.db.backup import checksum, disk_size
    with open(dumped['backup']['manifest']) as handle:
        manifest = json.load(handle)
    manifest.update(size=disk_size(dumped['path']), sha256=checksum(dumped['path']))
    with open(dumped['backup']['manifest'], 'w') as handle:
        json.dump(manifest, handle)
    code, result = run_module(db_backup.main, dict(ENGINES[engine], state='verify', src=dumped['path']))
    assert code == 1
    assert 'cannot be' in result['msg'] or 'cut short' in result['msg'], result['msg']


@pytest.fixture
def empty_dump_tools(tmp_path, monkeypatch):
    """pg_dump and mariadb-dump that exit 0 and write nothing: a broken tool we cannot get from the real ones."""
    fake = tmp_path / 'fake-bin'
    fake.mkdir()
    for name in ('pg_dump', 'mariadb-dump'):
        script = fake / name
        script.write_text('#!/bin/sh\nfor arg; do case "$arg" in --version) echo "{0} (fake) 0";; '
                          '--file=*) : > "${{arg#--file=}}";; esac; done\nexit 0\n'.format(name))
        script.chmod(0o755)
    monkeypatch.setenv('PATH', str(fake) + os.pathsep + os.environ['PATH'])


def test_a_dump_that_exits_0_but_is_empty_fails_and_leaves_nothing(run_module, engine, databases, dest,
                                                                   empty_dump_tools):
    code, result = run_module(db_backup.main, dict(ENGINES[engine], db=databases.make(), dest=dest, label='x'))
    assert code == 1 and 'failed' in result['msg']
    assert 'empty' in result['msg'] or 'not a readable' in result['msg'], result['msg']
    assert os.listdir(dest) == []


def test_dump_by_label_is_idempotent_unless_forced(run_module, engine, databases, dest):
    source = databases.make()
    first = dump(run_module, engine, source, dest, label='pre-rollback-v1.3.0')
    again = dump(run_module, engine, source, dest, label='pre-rollback-v1.3.0')
    assert again['changed'] is False and again['path'] == first['path'] and again['sha256'] == first['sha256']
    forced = dump(run_module, engine, source, dest, label='pre-rollback-v1.3.0', force=True)
    assert forced['changed'] is True and forced['path'] != first['path']
    # A damaged backup of the label is not reused: a new one is made.
    corrupt_flip(forced['path'])
    corrupt_flip(first['path'])
    renewed = dump(run_module, engine, source, dest, label='pre-rollback-v1.3.0')
    assert renewed['changed'] is True and renewed['path'] not in (first['path'], forced['path'])
    # The damaged ones are left for a human to look at (the warning says why they were not used).
    assert os.path.exists(first['path']) and os.path.exists(forced['path'])


def test_check_mode_changes_nothing(run_module, engine, databases, dest):
    source = databases.make()
    code, planned = run_module(db_backup.main, dict(ENGINES[engine], db=source, dest=dest, label='v1',
                                                    _ansible_check_mode=True, _ansible_diff=True))
    assert code == 0 and planned['changed'] is True
    assert planned['path'].startswith(os.path.join(dest, source + '-v1-'))
    assert os.path.basename(planned['backup']['name']) in planned['diff']['after']
    assert not os.path.exists(dest)
    dumped = dump(run_module, engine, source, dest, label='v1')
    target = databases.name()
    code, plan = run_module(db_backup.main, dict(ENGINES[engine], state='restore', src=dumped['path'], db=target,
                                                 _ansible_check_mode=True))
    assert code == 0 and plan['changed'] and plan['created_db']
    exists = 'SELECT 1 FROM pg_database WHERE datname = \'{0}\''.format(target) if engine == 'postgresql' else \
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = '{0}'".format(target)
    assert admin(engine, exists) == []
    code, plan = run_module(db_backup.main, dict(ENGINES[engine], state='prune', dest=dest, keep=1, max_age='1s',
                                                 _ansible_check_mode=True))
    assert code == 0 and plan['removed'] == [] and os.path.exists(dumped['path'])


def test_restore_refuses_a_database_with_tables_unless_replace(run_module, engine, databases, dest):
    source = databases.make(rows=10)
    dumped = dump(run_module, engine, source, dest)
    admin(engine, 'DELETE FROM orders WHERE id > 3', db=source)
    code, refused = run_module(db_backup.main, dict(ENGINES[engine], state='restore', src=dumped['path']))
    assert code == 1 and 'not empty' in refused['msg'] and 'replace=true' in refused['msg']
    assert admin(engine, 'SELECT COUNT(*) FROM orders', db=source) == ['3']
    code, restored = run_module(db_backup.main, dict(ENGINES[engine], state='restore', src=dumped['path'],
                                                     replace=True))
    assert code == 0 and restored['db'] == source and restored['rows_match'], restored
    assert admin(engine, 'SELECT COUNT(*) FROM orders', db=source) == ['10']


def age(backup_result, seconds):
    """Make a backup look ``seconds`` old, as its manifest records when it was made."""
    manifest = backup_result['backup']['manifest']
    with open(manifest) as handle:
        data = json.load(handle)
    data['created'] = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - seconds))
    with open(manifest, 'w') as handle:
        json.dump(data, handle)


def test_list_and_prune_by_keep_and_max_age(run_module, engine, databases, dest):
    source = databases.make(rows=5)
    made = [dump(run_module, engine, source, dest, label='night{0}'.format(n)) for n in range(4)]
    for n, result in enumerate(made):
        age(result, (4 - n) * 86400)   # night0 four days old ... night3 one day old
    code, listed = run_module(db_backup.main, dict(ENGINES[engine], state='listed', dest=dest))
    assert code == 0 and listed['changed'] is False
    assert [b['label'] for b in listed['backups']] == ['night3', 'night2', 'night1', 'night0']
    assert all(b['size'] > 0 and b['created'] and b['verified'] is None for b in listed['backups'])

    # Beyond the newest one, only those older than 3.5 days: night0.
    code, pruned = run_module(db_backup.main, dict(ENGINES[engine], state='prune', dest=dest, keep=1, max_age='84h',
                                                   _ansible_diff=True))
    assert code == 0 and pruned['changed'] and pruned['removed'] == [made[0]['path']]
    assert made[0]['backup']['name'] in pruned['diff']['before'] and made[0]['backup']['name'] not in pruned['diff']['after']
    assert not os.path.exists(made[0]['path']) and not os.path.exists(made[0]['backup']['manifest'])
    code, pruned = run_module(db_backup.main, dict(ENGINES[engine], state='prune', dest=dest, keep=1))
    assert pruned['removed'] == [made[2]['path'], made[1]['path']]
    assert [b['label'] for b in pruned['backups']] == ['night3']
    assert sorted(os.listdir(dest)) == sorted([os.path.basename(made[3]['path']),
                                               os.path.basename(made[3]['backup']['manifest'])])
    code, again = run_module(db_backup.main, dict(ENGINES[engine], state='prune', dest=dest, keep=1))
    assert code == 0 and again['changed'] is False and again['removed'] == []


@pytest.mark.parametrize('args, message', [
    (dict(state='dump', format='directory', jobs=0), 'jobs must be 1 or more'),
    (dict(state='listed', keep=2), 'Option keep does not apply to state=listed'),
    (dict(state='prune', keep=0), 'keep must be 1 or more'),
    (dict(state='prune', max_age='soon'), "max_age='soon' is not an age"),
    (dict(state='dump', label='../etc'), 'cannot be part of a file name'),
])
def test_bad_input_is_refused_and_nothing_is_written(run_module, dest, args, message):
    args = dict(ENGINES['postgresql'], dest=dest, db='postgres', **args)
    if args['state'] != 'dump':
        args.pop('db')
    code, result = run_module(db_backup.main, args)
    assert code == 1 and message in result['msg'], result['msg']
    assert not os.path.exists(dest)


# ---------------------------------------------------------------------------
# The password: never in argv, in output at -vvv, or left behind.
# ---------------------------------------------------------------------------

@pytest.fixture
def login(engine, databases):
    """A login user with a password, owning a fresh database; dropped afterwards."""
    user = 'dbb_user_{0}'.format(secrets.token_hex(3))
    password = 'pw-{0}'.format(secrets.token_hex(12))
    db = databases.make(rows=50)
    if engine == 'postgresql':
        admin(engine, "CREATE ROLE {0} LOGIN PASSWORD '{1}'".format(user, password))
        admin(engine, 'GRANT ALL ON ALL TABLES IN SCHEMA public TO {0}'.format(user), db=db)
    else:
        admin(engine, "CREATE USER '{0}'@'127.0.0.1' IDENTIFIED BY '{1}'".format(user, password))
        admin(engine, "GRANT ALL ON *.* TO '{0}'@'127.0.0.1'".format(user))
    yield dict(user=user, password=password, db=db)
    if engine == 'postgresql':
        drop(engine, db)
        admin(engine, 'DROP ROLE IF EXISTS {0}'.format(user))
    else:
        admin(engine, "DROP USER IF EXISTS '{0}'@'127.0.0.1'".format(user))


def run_ansible(tmp_path, args, password):
    """``ansible localhost -m ops.rollback.db_backup -vvv``, the password in an extra-vars file (never argv)."""
    extra = tmp_path / 'secret.json'
    extra.write_text(json.dumps({'db_password': password}))
    extra.chmod(0o600)
    module_args = dict(args, login_password='{{ db_password }}')
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    return subprocess.Popen(
        [os.path.join(BIN, 'ansible'), 'localhost', '-vvv', '-m', 'ops.rollback.db_backup',
         '-a', json.dumps(module_args), '-e', '@' + str(extra)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def processes_named(tool):
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/{0}/cmdline'.format(pid), 'rb') as handle:
                argv = handle.read().split(b'\0')
        except OSError:
            continue
        if argv and os.path.basename(argv[0]).decode('utf-8', 'replace') == tool:
            found.append(argv)
    return found


def every_cmdline():
    text = []
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            try:
                with open('/proc/{0}/cmdline'.format(pid), 'rb') as handle:
                    text.append(handle.read())
            except OSError:
                pass
    return b'\n'.join(text)


class TableLock:
    """Another session holding a lock on a table, so a dump of it waits; released by ``release``."""

    def __init__(self, engine, db, table):
        if engine == 'postgresql':
            argv = ['psql', '-X', '-q', '-h', '127.0.0.1', '-U', 'postgres', '-d', db]
            statement = 'BEGIN; LOCK TABLE {0} IN ACCESS EXCLUSIVE MODE; SELECT \'locked\';\n'.format(table)
        else:
            argv = ['mariadb', '-n', '-N', '-B', '-h', '127.0.0.1', '-u', 'root', db]
            statement = "LOCK TABLES {0} WRITE; SELECT 'locked';\n".format(table)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.proc.stdin.write(statement)
        self.proc.stdin.flush()
        line = ''
        while 'locked' not in line:
            line = self.proc.stdout.readline()
            assert line, 'the locking session ended'

    def release(self):
        self.proc.stdin.close()   # the session ends, and its lock with it
        self.proc.wait()


def test_password_never_in_argv_or_output_while_the_tools_run(engine, login, tmp_path):
    """The lock held by another session stops the module's first tool (the row count before the dump) on
    the table, so it can be looked at in /proc; once released, the dump tool is looked for while it runs.
    The dump cannot be held by a lock of its own: the row count reads the same tables first."""
    client = 'psql' if engine == 'postgresql' else 'mariadb'
    dumper = 'pg_dump' if engine == 'postgresql' else 'mariadb-dump'
    admin(engine, _bulk_rows(engine), db=login['db'])
    dest = str(tmp_path / 'backups')
    lock = TableLock(engine, login['db'], 'orders')
    proc = None
    try:
        proc = run_ansible(tmp_path, dict(ENGINES[engine], login_user=login['user'], db=login['db'], dest=dest),
                           login['password'])
        waiting = []
        while not waiting and proc.poll() is None:
            waiting = [argv for argv in processes_named(client) if b'-e' in argv or b'-c' in argv]
        assert waiting, 'the module ended before its query could be seen waiting on the lock'
        assert login['password'].encode() not in every_cmdline()
    finally:
        lock.release()
    seen = []
    while proc.poll() is None:
        dumps = processes_named(dumper)
        seen.extend(dumps)
        if dumps:
            assert login['password'].encode() not in every_cmdline()
    output = proc.communicate()[0]
    assert proc.returncode == 0, output
    assert seen, 'the dump tool ran too briefly to be seen'
    assert '"changed": true' in output and login['password'] not in output
    assert login['user'] in output   # the -vvv output is there, only the password is masked


def _bulk_rows(engine):
    """Enough rows that the dump runs long enough to be seen in /proc."""
    if engine == 'postgresql':
        return 'INSERT INTO customers SELECT g, md5(g::text) FROM generate_series(3, 300000) g'
    return 'INSERT INTO customers SELECT seq, md5(seq) FROM seq_3_to_300000'


def test_wrong_password_fails_cleanly_and_leaves_nothing(engine, login, tmp_path):
    if engine == 'postgresql':
        pytest.skip('the PostgreSQL server here trusts every connection from 127.0.0.1: no password is ever wrong')
    dest = str(tmp_path / 'backups')
    wrong = 'wrong-{0}'.format(secrets.token_hex(12))
    before = set(name for name in os.listdir('/tmp') if name.startswith('ops-rollback-db-'))
    proc = run_ansible(tmp_path, dict(ENGINES[engine], login_user=login['user'], db=login['db'], dest=dest), wrong)
    output = proc.communicate()[0]
    assert proc.returncode != 0
    assert 'Access denied' in output and 'Check login_user and login_password' in output
    assert wrong not in output
    assert not os.path.exists(dest)
    # The defaults file that held the password is gone with its directory.
    assert set(name for name in os.listdir('/tmp') if name.startswith('ops-rollback-db-')) <= before


def test_unknown_login_fails_cleanly_and_leaves_nothing(run_module, engine, databases, dest):
    code, result = run_module(db_backup.main, dict(ENGINES[engine], login_user='nobody_{0}'.format(secrets.token_hex(3)),
                                                   db=databases.make(), dest=dest))
    assert code == 1 and result['changed'] is False
    assert 'Could not run a query' in result['msg']
    assert not os.path.exists(dest)


def test_a_tool_that_is_missing_says_what_to_install(run_module, dest, monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path))
    code, result = run_module(db_backup.main, dict(ENGINES['mysql'], db='mysql', dest=dest))
    assert code == 1 and 'mariadb-client' in result['msg']
    shutil.rmtree(dest, ignore_errors=True)
