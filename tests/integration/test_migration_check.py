# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""migration_check against real git repositories and real migration tables.

Each test builds an application repository with `git` (tags v1.0.0, v1.1.0,
v1.2.0) in one of the five layouts, and, where it reads the applied
migrations, a fresh database on the PostgreSQL (127.0.0.1:5432) or MariaDB
(127.0.0.1:3306) server with the tool's own migration table, dropped afterwards.
The module runs in-process through its main().
"""
from __future__ import annotations

import os
import subprocess
import textwrap
import uuid

import pytest

from ansible_collections.ops.rollback.plugins.modules import migration_check

GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME='dev', GIT_AUTHOR_EMAIL='dev@example.invalid', GIT_COMMITTER_NAME='dev',
               GIT_COMMITTER_EMAIL='dev@example.invalid', GIT_CONFIG_GLOBAL='/dev/null', GIT_CONFIG_NOSYSTEM='1')


def git(repo, *args):
    return subprocess.run(['git', '-C', str(repo)] + list(args), env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout


def make_repo(path, releases):
    """A repository with one commit and tag per ``(tag, {path: text or None to delete})``, in order."""
    path.mkdir()
    git(path, 'init', '-q', '-b', 'main')
    for tag, files in releases:
        for name, text in files.items():
            target = path / name
            if text is None:
                git(path, 'rm', '-q', name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text))
            git(path, 'add', name)
        git(path, 'commit', '-q', '--allow-empty', '-m', 'release ' + tag)
        git(path, 'tag', '-a', tag, '-m', tag)
    return path


def golang(*migrations):
    """golang-migrate files: ``(number_name, up, down or None)``."""
    files = {}
    for name, up, down in migrations:
        files['db/migrations/{0}.up.sql'.format(name)] = up
        if down is not None:
            files['db/migrations/{0}.down.sql'.format(name)] = down
    return files


INIT = golang(('1_create_users', 'CREATE TABLE users (id serial PRIMARY KEY, email text, name text);\n',
               'DROP TABLE users;\n'))


@pytest.fixture
def check(run_module):
    def run(repo, from_version='v1.2.0', to_version='v1.0.0', migrations_path='db/migrations', **options):
        args = dict(repo=str(repo), from_version=from_version, to_version=to_version, migrations_path=migrations_path)
        args.update(options)
        return run_module(migration_check.main, args)
    return run


def summary(result):
    return [(m['id'], m['reversible'], m['additive']) for m in result['migrations']]


# ---------------------------------------------------------------------------
# the recommendations, without a database (every migration of from_version counts as applied)
# ---------------------------------------------------------------------------

def test_additive_migrations_are_safe_and_need_nothing_run(tmp_path, check):
    repo = make_repo(tmp_path / 'app', [
        ('v1.0.0', INIT),
        ('v1.1.0', golang(('2_add_nickname', '-- the profile page shows it\nALTER TABLE users ADD COLUMN nickname text;',
                           'ALTER TABLE users DROP COLUMN nickname;'))),
        ('v1.2.0', golang(('3_index_email', 'CREATE INDEX users_email ON users (email);', 'DROP INDEX users_email;'))),
    ])
    head = git(repo, 'rev-parse', 'HEAD')

    code, result = check(repo)

    assert code == 0, result
    assert result['changed'] is False
    assert result['layout'] == 'golang_migrate'
    assert result['applied_source'] == 'assumed'
    assert summary(result) == [('2', True, True), ('3', True, True)]
    assert result['recommendation'] == 'safe'
    assert result['down_migrations'] == []
    assert result['safe_version'] is None
    assert 'additive' in result['explanation'][0]
    # Read without a checkout: the work tree and HEAD are as they were.
    assert git(repo, 'status', '--porcelain') == ''
    assert git(repo, 'rev-parse', 'HEAD') == head


def test_reversible_rename_behind_a_migration_without_down_gives_rollback_to(tmp_path, check):
    repo = make_repo(tmp_path / 'app', [
        ('v1.0.0', INIT),
        ('v1.1.0', golang(('2_rename_name', 'ALTER TABLE users RENAME COLUMN name TO full_name;',
                           'ALTER TABLE users RENAME COLUMN full_name TO name;'))),
        ('v1.2.0', golang(('3_add_city', 'ALTER TABLE users ADD COLUMN city text;', None))),
    ])

    code, result = check(repo)

    assert code == 0, result
    migration = result['migrations'][0]
    assert migration['reversible'] is True and migration['additive'] is False
    assert migration['reasons'] == ['renames column users.name to full_name']
    # 3 is additive but has no down: a migration tool cannot step back over it to reverse 2,
    # but v1.1.0 has the rename and works with the extra column.
    assert result['migrations'][1]['reasons'] == ['no down migration']
    assert result['recommendation'] == 'rollback_to'
    assert result['safe_version'] == 'v1.1.0'


def test_reversible_steps_are_returned_in_the_order_to_run_them(tmp_path, check):
    repo = make_repo(tmp_path / 'app', [
        ('v1.0.0', INIT),
        ('v1.1.0', golang(('2_rename_name', 'ALTER TABLE users RENAME COLUMN name TO full_name;',
                           'ALTER TABLE users RENAME COLUMN full_name TO name;'))),
        ('v1.2.0', golang(('3_rename_users', 'ALTER TABLE users RENAME TO accounts;', 'ALTER TABLE accounts RENAME TO users;'))),
    ])

    code, result = check(repo)

    assert code == 0, result
    assert result['recommendation'] == 'safe'
    assert [step['id'] for step in result['down_migrations']] == ['3', '2']
    assert result['down_migrations'][0]['path'] == 'db/migrations/3_rename_users.up.sql'


def test_irreversible_migration_known_to_an_intermediate_version_gives_rollback_to(tmp_path, check):
    repo = make_repo(tmp_path / 'app', [
        ('v1.0.0', INIT),
        ('v1.1.0', golang(('2_drop_email', 'ALTER TABLE users DROP COLUMN email;', None))),
        ('v1.2.0', golang(('3_add_city', 'ALTER TABLE users ADD COLUMN city text;', 'ALTER TABLE users DROP COLUMN city;'))),
    ])

    code, result = check(repo)

    assert code == 0, result
    assert result['recommendation'] == 'rollback_to'
    assert result['safe_version'] == 'v1.1.0'
    drop = result['migrations'][0]
    assert drop['reversible'] is False and drop['destroys_data'] is True
    assert drop['reasons'] == ['drops column users.email', 'no down migration']
    assert any('v1.1.0 is the newest version' in sentence for sentence in result['explanation'])


def test_data_destroyed_by_the_newest_release_needs_the_backup(tmp_path, check):
    repo = make_repo(tmp_path / 'app', [
        ('v1.0.0', INIT),
        ('v1.1.0', golang(('2_add_city', 'ALTER TABLE users ADD COLUMN city text;', 'ALTER TABLE users DROP COLUMN city;'))),
        # A down migration exists, but the narrowing already cut the values: not reversible.
        ('v1.2.0', golang(('3_short_names', "UPDATE users SET name = 'x' WHERE name IS NULL;\n"
                                            'ALTER TABLE users ALTER COLUMN name TYPE varchar(50);',
                           'ALTER TABLE users ALTER COLUMN name TYPE text;'))),
    ])

    code, result = check(repo)

    assert code == 0, result
    assert result['recommendation'] == 'restore_database'
    assert result['safe_version'] is None
    narrowing = result['migrations'][1]
    assert narrowing['reversible'] is False
    assert narrowing['reasons'] == [
        'changes rows of users (UPDATE ... WHERE)',
        'narrows the type of users.name from text to varchar(50): longer or larger values are cut or refused']
    assert 'backup' in ' '.join(result['explanation'])


def test_reversing_that_would_lose_data_written_since_means_fix_forward(tmp_path, check):
    repo = make_repo(tmp_path / 'app', [
        ('v1.0.0', INIT),
        ('v1.1.0', {}),
        ('v1.2.0', golang(('2_require_country', "ALTER TABLE users ADD COLUMN country char(2) NOT NULL;",
                           'ALTER TABLE users DROP COLUMN country;'))),
    ])

    code, result = check(repo)

    assert code == 0, result
    assert result['recommendation'] == 'fix_forward'
    migration = result['migrations'][0]
    assert migration['reversible'] is True and migration['down_loses_data'] is True
    assert migration['down_reasons'] == [
        'its down migration drops column users.country: data written since the migration ran would be lost']
    assert 'fix forward' in ' '.join(result['explanation'])


def test_nothing_in_between_is_safe(tmp_path, check):
    repo = make_repo(tmp_path / 'app', [('v1.0.0', INIT), ('v1.1.0', {}), ('v1.2.0', {})])

    code, result = check(repo)

    assert code == 0, result
    assert result['migrations'] == []
    assert result['recommendation'] == 'safe'


# ---------------------------------------------------------------------------
# the other layouts
# ---------------------------------------------------------------------------

def test_flyway_versions_and_undo_migrations(tmp_path, check):
    path = 'src/main/resources/db/migration/'
    repo = make_repo(tmp_path / 'app', [
        ('v1.0.0', {path + 'V1__init.sql': 'CREATE TABLE orders (id int PRIMARY KEY, total numeric(10, 2));'}),
        ('v1.1.0', {path + 'V1_1__add_note.sql': 'ALTER TABLE orders ADD COLUMN note text;'}),
        ('v1.2.0', {path + 'V2__purge.sql': "DELETE FROM orders WHERE note = 'test';\nTRUNCATE TABLE audit;",
                    path + 'U1_1__add_note.sql': 'ALTER TABLE orders DROP COLUMN note;',
                    path + 'R__views.sql': 'CREATE OR REPLACE VIEW v AS SELECT 1;'}),
    ])

    code, result = check(repo, migrations_path=path.rstrip('/'))

    assert code == 0, result
    assert result['layout'] == 'flyway'
    assert [(m['id'], m['name'], m['has_down']) for m in result['migrations']] == [
        ('1.1', 'V1_1__add_note', True), ('2', 'V2__purge', False)]
    assert result['migrations'][1]['reasons'] == ['deletes rows from orders', 'truncates table audit', 'no down migration']
    assert result['recommendation'] == 'restore_database'


ALEMBIC_A = '''\
    """create users"""
    from alembic import op
    import sqlalchemy as sa

    revision = 'a1f0'
    down_revision = None


    def upgrade():
        op.create_table('users', sa.Column('id', sa.Integer(), primary_key=True), sa.Column('bio', sa.Text()))


    def downgrade():
        op.drop_table('users')
    '''
ALEMBIC_B = '''\
    from alembic import op
    import sqlalchemy as sa

    revision: str = 'b2e1'
    down_revision = 'a1f0'


    def upgrade():
        op.add_column('users', sa.Column('avatar', sa.String(200), nullable=True))
        op.execute("INSERT INTO settings (name) VALUES ('DROP TABLE users')")


    def downgrade():
        op.drop_column('users', 'avatar')
    '''
ALEMBIC_C = '''\
    from alembic import op
    import sqlalchemy as sa

    revision = 'c3d4'
    down_revision = 'b2e1'


    def upgrade():
        op.alter_column('users', 'bio', type_=sa.String(length=50), existing_type=sa.Text())


    def downgrade():
        raise NotImplementedError('cannot restore long biographies')
    '''


def alembic_repo(path):
    return make_repo(path, [
        ('v1.0.0', {'alembic/env.py': 'import alembic\n', 'alembic/versions/a1f0_create_users.py': ALEMBIC_A}),
        ('v1.1.0', {'alembic/versions/b2e1_add_avatar.py': ALEMBIC_B}),
        ('v1.2.0', {'alembic/versions/c3d4_short_bio.py': ALEMBIC_C}),
    ])


def test_alembic_revisions_are_read_without_importing_them(tmp_path, check):
    repo = alembic_repo(tmp_path / 'app')

    code, result = check(repo, migrations_path='alembic')

    assert code == 0, result
    assert result['layout'] == 'alembic'
    assert summary(result) == [('b2e1', True, True), ('c3d4', False, False)]
    assert result['migrations'][1]['reasons'] == [
        'narrows the type of users.bio from TEXT to VARCHAR(50): longer or larger values are cut or refused',
        'no down migration']
    assert result['recommendation'] == 'restore_database'


DJANGO_INITIAL = '''\
    from django.db import migrations, models


    class Migration(migrations.Migration):
        initial = True
        dependencies = []
        operations = [
            migrations.CreateModel(name='Order', fields=[('id', models.AutoField(primary_key=True)),
                                                         ('total', models.IntegerField())]),
        ]
    '''
DJANGO_NOTE = '''\
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [('orders', '0001_initial')]
        operations = [
            migrations.AddField(model_name='order', name='note', field=models.TextField(null=True)),
        ]
    '''
DJANGO_RENAME = '''\
    from django.db import migrations


    class Migration(migrations.Migration):
        dependencies = [('orders', '0002_order_note')]
        operations = [
            migrations.RenameField(model_name='order', old_name='total', new_name='amount'),
        ]
    '''
DJANGO_BACKFILL = '''\
    from django.db import migrations


    def backfill(apps, schema_editor):
        pass


    class Migration(migrations.Migration):
        dependencies = [('orders', '0002_order_note')]
        operations = [
            migrations.RunPython(backfill),
            migrations.RunSQL("UPDATE orders_order SET note = ''"),
        ]
    '''


def django_repo(path, third):
    base = 'shop/orders/migrations/'
    return make_repo(path, [
        ('v1.0.0', {base + '__init__.py': '', base + '0001_initial.py': DJANGO_INITIAL}),
        ('v1.1.0', {base + '0002_order_note.py': DJANGO_NOTE}),
        ('v1.2.0', {base + '0003_' + third[0] + '.py': third[1]}),
    ])


def test_django_rename_is_reversed_by_its_own_reverse_operation(tmp_path, check):
    repo = django_repo(tmp_path / 'app', ('rename_total', DJANGO_RENAME))

    code, result = check(repo, migrations_path='shop/orders/migrations')

    assert code == 0, result
    assert result['layout'] == 'django'
    assert summary(result) == [('0002_order_note', True, True), ('0003_rename_total', True, False)]
    assert result['recommendation'] == 'safe'
    assert [step['id'] for step in result['down_migrations']] == ['0003_rename_total']


def test_django_run_python_without_reverse_code_has_no_down(tmp_path, check):
    repo = django_repo(tmp_path / 'app', ('backfill', DJANGO_BACKFILL))

    code, result = check(repo, migrations_path='shop/orders/migrations')

    assert code == 0, result
    backfill = result['migrations'][1]
    assert backfill['has_down'] is False
    assert backfill['reasons'] == [
        'runs Python code (backfill) whose effect cannot be read without running it',
        'overwrites every row of orders_order (UPDATE without WHERE)',
        'no down migration']
    assert result['recommendation'] == 'restore_database'


def plain_repo(path):
    return make_repo(path, [
        ('v1.0.0', {'migrations/20240101_init/up.sql': 'CREATE TABLE items (id int, sku text);',
                    'migrations/20240101_init/down.sql': 'DROP TABLE items;'}),
        ('v1.1.0', {'migrations/20240201_rename_sku/up.sql': 'ALTER TABLE items RENAME COLUMN sku TO code;',
                    'migrations/20240201_rename_sku/down.sql': '-- cannot be undone\n'}),
        ('v1.2.0', {'migrations/20240301_add_price/up.sql': 'ALTER TABLE items ADD COLUMN price int DEFAULT 0 NOT NULL;',
                    'migrations/20240301_add_price/down.sql': 'ALTER TABLE items DROP COLUMN price;'}),
    ])


def test_plain_sql_pairs_with_a_down_file_that_does_nothing(tmp_path, check):
    repo = plain_repo(tmp_path / 'app')

    code, result = check(repo, migrations_path='migrations')

    assert code == 0, result
    assert result['layout'] == 'plain_sql'
    assert summary(result) == [('20240201', False, False), ('20240301', True, True)]
    assert result['migrations'][0]['reasons'] == ['renames column items.sku to code', 'no down migration']
    # v1.1.0 has the rename and lacks only the additive price column.
    assert result['recommendation'] == 'rollback_to'
    assert result['safe_version'] == 'v1.1.0'


# ---------------------------------------------------------------------------
# the applied migrations, from the migration tables
# ---------------------------------------------------------------------------

def psql(sql, db='postgres'):
    subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-c', sql],
                   check=True, capture_output=True)


def mariadb(sql, db=None):
    subprocess.run(['mariadb', '-h', '127.0.0.1', '-u', 'root', '-e', sql] + ([db] if db else []), check=True,
                   capture_output=True)


@pytest.fixture
def pg_db():
    name = 'mc_' + uuid.uuid4().hex[:10]
    psql('CREATE DATABASE {0}'.format(name))
    try:
        yield name
    finally:
        psql('DROP DATABASE IF EXISTS {0} WITH (FORCE)'.format(name))


@pytest.fixture
def maria_db():
    name = 'mc_' + uuid.uuid4().hex[:10]
    mariadb('CREATE DATABASE {0}'.format(name))
    try:
        yield name
    finally:
        mariadb('DROP DATABASE IF EXISTS {0}'.format(name))


PG = dict(engine='postgresql', login_host='127.0.0.1', login_port=5432, login_user='postgres')
MARIA = dict(engine='mysql', login_host='127.0.0.1', login_port=3306, login_user='root')


def destructive_golang_repo(path):
    return make_repo(path, [
        ('v1.0.0', INIT),
        ('v1.1.0', golang(('2_add_city', 'ALTER TABLE users ADD COLUMN city text;', 'ALTER TABLE users DROP COLUMN city;'))),
        ('v1.2.0', golang(('3_drop_email', 'ALTER TABLE users DROP COLUMN email;', None))),
    ])


def test_golang_migrate_not_yet_applied_irreversible_migration_is_safe(tmp_path, check, pg_db):
    repo = destructive_golang_repo(tmp_path / 'app')
    # The deploy of v1.2.0 started, but its migration has not run yet.
    psql('CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);'
         'INSERT INTO schema_migrations VALUES (2, false)', db=pg_db)

    code, result = check(repo, db=pg_db, **PG)

    assert code == 0, result
    assert result['applied_source'] == 'database'
    assert result['database'] == dict(table='schema_migrations', applied=['1', '2'], unknown=[], version='2', dirty=False)
    assert [(m['id'], m['applied']) for m in result['migrations']] == [('2', True), ('3', False)]
    assert result['recommendation'] == 'safe'
    assert result['down_migrations'] == []

    # Once it ran, the same check says the data is gone.
    psql('UPDATE schema_migrations SET version = 3', db=pg_db)
    code, result = check(repo, db=pg_db, **PG)
    assert code == 0, result
    assert result['recommendation'] == 'restore_database'


def test_golang_migrate_dirty_state_is_reported_and_never_safe(tmp_path, check, pg_db):
    repo = make_repo(tmp_path / 'app', [
        ('v1.0.0', INIT),
        ('v1.1.0', {}),
        ('v1.2.0', golang(('2_rename_name', 'ALTER TABLE users RENAME COLUMN name TO full_name;',
                           'ALTER TABLE users RENAME COLUMN full_name TO name;'))),
    ])
    psql('CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);'
         'INSERT INTO schema_migrations VALUES (2, true)', db=pg_db)

    code, result = check(repo, db=pg_db, **PG)

    assert code == 0, result
    assert result['database']['dirty'] is True
    assert result['recommendation'] == 'fix_forward'
    assert any('dirty at version 2' in sentence for sentence in result['explanation'])


def test_alembic_head_in_postgresql_counts_its_ancestors(tmp_path, check, pg_db):
    repo = alembic_repo(tmp_path / 'app')
    psql("CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);"
         "INSERT INTO alembic_version VALUES ('b2e1')", db=pg_db)

    code, result = check(repo, migrations_path='alembic/versions', db=pg_db, **PG)

    assert code == 0, result
    assert result['database']['applied'] == ['a1f0', 'b2e1']
    assert [(m['id'], m['applied']) for m in result['migrations']] == [('b2e1', True), ('c3d4', False)]
    assert result['recommendation'] == 'safe'


def test_plain_sql_rows_in_postgresql(tmp_path, check, pg_db):
    repo = plain_repo(tmp_path / 'app')
    psql("CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);"
         "INSERT INTO schema_migrations VALUES ('20240101'), ('20240201'), ('20240301')", db=pg_db)

    code, result = check(repo, migrations_path='migrations', db=pg_db, **PG)

    assert code == 0, result
    assert result['recommendation'] == 'rollback_to'
    assert result['safe_version'] == 'v1.1.0'


def test_flyway_history_in_mariadb_counts_successful_rows(tmp_path, check, maria_db):
    path = 'db/migration'
    repo = make_repo(tmp_path / 'app', [
        ('v1.0.0', {path + '/V1__init.sql': 'CREATE TABLE orders (id int PRIMARY KEY);'}),
        ('v1.1.0', {path + '/V2__add_note.sql': 'ALTER TABLE orders ADD COLUMN note text;'}),
        ('v1.2.0', {path + '/V3__drop_note.sql': 'ALTER TABLE orders DROP COLUMN note;'}),
    ])
    mariadb('CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), '
            'description varchar(200), type varchar(20), script varchar(1000), success tinyint(1) NOT NULL);'
            "INSERT INTO flyway_schema_history VALUES (1, '1', 'init', 'SQL', 'V1__init.sql', 1),"
            "(2, '2', 'add note', 'SQL', 'V2__add_note.sql', 1), (3, '3', 'drop note', 'SQL', 'V3__drop_note.sql', 0)",
            db=maria_db)

    code, result = check(repo, migrations_path=path, db=maria_db, **MARIA)

    assert code == 0, result
    assert result['database']['table'] == 'flyway_schema_history'
    # V3 failed: it is not applied, so its DROP COLUMN did not happen.
    assert [(m['id'], m['applied']) for m in result['migrations']] == [('2', True), ('3', False)]
    assert result['recommendation'] == 'safe'


def test_django_migrations_in_mariadb_for_the_app_only(tmp_path, check, maria_db):
    repo = django_repo(tmp_path / 'app', ('backfill', DJANGO_BACKFILL))
    mariadb('CREATE TABLE django_migrations (id int AUTO_INCREMENT PRIMARY KEY, app varchar(255), name varchar(255), '
            'applied datetime);'
            "INSERT INTO django_migrations (app, name) VALUES ('orders', '0001_initial'), ('orders', '0002_order_note'),"
            "('billing', '0003_backfill')", db=maria_db)

    code, result = check(repo, migrations_path='shop/orders/migrations', db=maria_db, **MARIA)

    assert code == 0, result
    assert result['database']['applied'] == ['0001_initial', '0002_order_note']
    assert result['recommendation'] == 'safe'


# ---------------------------------------------------------------------------
# bad input: a clear error, nothing changed
# ---------------------------------------------------------------------------

def test_missing_migration_table_is_named(tmp_path, check, pg_db):
    repo = alembic_repo(tmp_path / 'app')

    code, result = check(repo, migrations_path='alembic', db=pg_db, **PG)

    assert code == 1
    assert 'has no table alembic_version' in result['msg']
    assert pg_db in result['msg']


def test_not_a_git_repository(tmp_path, check):
    (tmp_path / 'plain').mkdir()

    code, result = check(tmp_path / 'plain')

    assert code == 1
    assert 'is not a git repository' in result['msg']


def test_unknown_version_lists_the_tags(tmp_path, check):
    repo = make_repo(tmp_path / 'app', [('v1.0.0', INIT), ('v1.1.0', {}), ('v1.2.0', {})])

    code, result = check(repo, to_version='v0.9.0')

    assert code == 1
    assert 'to_version v0.9.0 is not a tag, branch or commit' in result['msg']
    assert 'Tags there: v1.0.0, v1.1.0, v1.2.0.' in result['msg']


def test_no_migrations_says_which_layouts_were_tried(tmp_path, check):
    repo = make_repo(tmp_path / 'app', [('v1.0.0', {'README': 'app\n'}), ('v1.1.0', {}), ('v1.2.0', {})])

    code, result = check(repo)

    assert code == 1
    assert 'No migrations found under db/migrations' in result['msg']
    assert 'plain_sql, golang_migrate, flyway, alembic, django' in result['msg']


def test_ambiguous_layout_asks_for_layout(tmp_path, check):
    files = dict(INIT)
    files['db/migrations/V2__more.sql'] = 'CREATE TABLE more (id int);'
    repo = make_repo(tmp_path / 'app', [('v1.0.0', files), ('v1.1.0', {}), ('v1.2.0', {})])

    code, result = check(repo)

    assert code == 1
    assert 'ambiguous' in result['msg'] and 'golang_migrate and flyway' in result['msg']

    code, result = check(repo, layout='flyway')
    assert code == 0, result
    assert result['layout'] == 'flyway'


def test_connection_options_without_engine_are_refused(tmp_path, check):
    repo = make_repo(tmp_path / 'app', [('v1.0.0', INIT), ('v1.1.0', {}), ('v1.2.0', {})])

    code, result = check(repo, login_host='127.0.0.1', db='app')

    assert code == 1
    assert 'engine' in result['msg']


def test_password_is_not_in_the_result(tmp_path, check, pg_db):
    repo = destructive_golang_repo(tmp_path / 'app')
    psql('CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL)', db=pg_db)
    password = 'not-the-password-' + uuid.uuid4().hex

    code, result = check(repo, db=pg_db, login_password=password, **PG)

    assert code == 0, result
    assert password not in repr(result)
    assert result['recommendation'] == 'safe'
