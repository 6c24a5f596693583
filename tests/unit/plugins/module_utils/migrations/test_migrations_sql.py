# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SQL classifier: what each statement does to the schema and the data."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils.migrations.sql import (
    ADDITIVE,
    BREAKING,
    DESTROYS,
    classify_sql,
    narrows,
    statements,
)


@pytest.mark.parametrize('sql, expected', [
    # destroys data
    ('DROP TABLE users;', [(DESTROYS, 'drops table users')]),
    ('DROP TABLE IF EXISTS a, "B";', [(DESTROYS, 'drops table a'), (DESTROYS, 'drops table B')]),
    ('ALTER TABLE users DROP COLUMN email;', [(DESTROYS, 'drops column users.email')]),
    ('alter table `users` drop `email`', [(DESTROYS, 'drops column users.email')]),
    ('ALTER TABLE users ADD COLUMN a int, DROP COLUMN b', [(ADDITIVE, 'adds column users.a'), (DESTROYS, 'drops column users.b')]),
    ('TRUNCATE TABLE audit', [(DESTROYS, 'truncates table audit')]),
    ('DELETE FROM sessions WHERE expired', [(DESTROYS, 'deletes rows from sessions')]),
    ('UPDATE users SET name = NULL', [(DESTROYS, 'overwrites every row of users (UPDATE without WHERE)')]),
    # breaks the older version, keeps the data
    ('UPDATE users SET name = NULL WHERE id = 1', [(BREAKING, 'changes rows of users (UPDATE ... WHERE)')]),
    ('ALTER TABLE users RENAME COLUMN name TO full_name', [(BREAKING, 'renames column users.name to full_name')]),
    ('ALTER TABLE users RENAME TO accounts', [(BREAKING, 'renames table users to accounts')]),
    ('RENAME TABLE users TO accounts', [(BREAKING, 'renames table users to accounts')]),
    ('ALTER TABLE users CHANGE name full_name varchar(100)', [(BREAKING, 'renames column users.name to full_name')]),
    ('ALTER TABLE users ALTER COLUMN name SET NOT NULL',
     [(BREAKING, 'makes column users.name NOT NULL: inserts by the older version without it fail')]),
    ('ALTER TABLE users ADD COLUMN age int NOT NULL',
     [(BREAKING, 'adds column users.age NOT NULL without a default: inserts by the older version fail')]),
    ('ALTER TABLE users ALTER COLUMN name TYPE varchar(50)', [(BREAKING, 'changes the type of users.name to varchar(50)')]),
    ('ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)',
     [(BREAKING, 'adds a constraint to t that rows written by the older version may break')]),
    ('CREATE OR REPLACE VIEW v AS SELECT 1',
     [(BREAKING, 'replaces an existing definition (CREATE OR REPLACE VIEW v AS ...): the older version may rely on the old one')]),
    ('GRANT ALL ON t TO app; FOO BAR', [(ADDITIVE, 'adds rows or metadata (GRANT)'),
                                        (BREAKING, 'runs a statement not known to be safe for the older version: FOO BAR')]),
    # additive
    ('CREATE TABLE IF NOT EXISTS orders (id int)', [(ADDITIVE, 'creates table orders')]),
    ('CREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email)', [(ADDITIVE, 'creates index users_email')]),
    ('ALTER TABLE users ADD COLUMN nickname text', [(ADDITIVE, 'adds column users.nickname')]),
    ('ALTER TABLE users ADD age int NOT NULL DEFAULT 0', [(ADDITIVE, 'adds column users.age')]),
    ('ALTER TABLE t ADD COLUMN total numeric(10, 2)', [(ADDITIVE, 'adds column t.total')]),
    ("INSERT INTO settings VALUES ('a')", [(ADDITIVE, 'adds rows or metadata (INSERT)')]),
    ('DROP INDEX users_email', [(ADDITIVE, 'drops index users_email')]),
    # no effect
    ('BEGIN; SET lock_timeout = 1000; COMMIT;', []),
])
def test_statement_is_classified(sql, expected):
    assert [(finding.effect, finding.what) for finding in classify_sql(sql)] == expected


@pytest.mark.parametrize('sql', [
    "-- DROP TABLE users;\nSELECT 1;",
    "/* DROP TABLE users; */ SELECT 1;",
    "# DROP TABLE users\nSELECT 1;",
    "INSERT INTO log VALUES ('DROP TABLE users; TRUNCATE x');",
    "INSERT INTO log VALUES ('it''s; DROP TABLE users');",
    "CREATE FUNCTION f() RETURNS void AS $body$ DELETE FROM users; $body$ LANGUAGE sql;",
])
def test_comments_and_literals_are_never_statements(sql):
    assert all(finding.effect != DESTROYS for finding in classify_sql(sql))


def test_statements_split_on_semicolons_outside_literals():
    assert statements("INSERT INTO a VALUES ('x;y');\n\n  UPDATE a   SET b = 1 ;") == [
        "INSERT INTO a VALUES ('')", 'UPDATE a SET b = 1']


@pytest.mark.parametrize('old, new, narrower', [
    ('text', 'varchar(50)', True),
    ('varchar(100)', 'varchar(50)', True),
    ('varchar(50)', 'varchar(100)', False),
    ('varchar(50)', 'text', False),
    ('bigint', 'integer', True),
    ('int', 'bigint', False),
    ('numeric(10, 2)', 'numeric(10, 0)', True),
    ('numeric(10, 2)', 'numeric(12, 2)', False),
    ('double precision', 'real', True),
    ('numeric', 'integer', True),
    ('date', 'timestamp', False),
])
def test_narrowing(old, new, narrower):
    assert narrows(old, new) is narrower


def test_a_down_migration_tells_the_old_type_so_narrowing_destroys():
    from ansible_collections.ops.rollback.plugins.module_utils.migrations.model import sql_migration

    migration = sql_migration('3', '3_short', 'p', (3,), 'ALTER TABLE users MODIFY name VARCHAR(20) NOT NULL;',
                              'ALTER TABLE users MODIFY name VARCHAR(255) NOT NULL;')

    assert migration.destroys_data is True
    assert migration.reversible is False
    assert migration.reasons == [
        'narrows the type of users.name from VARCHAR(255) to VARCHAR(20): longer or larger values are cut or refused']
