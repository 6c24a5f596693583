#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: migration_check
short_description: Tell whether the database allows rolling an application back, and to which version
version_added: "0.3.0"
description:
  - Lists the database migrations between the version that runs now (O(from_version)) and the rollback target
    (O(to_version)), says for each whether it can be reversed and whether the older version still works after it,
    and recommends what to do with the database.
  - Reads the application's git repository O(repo) with the C(git) command at both versions, without checking
    anything out and without changing the repository. The migrations in between are those present at
    O(from_version) and absent at O(to_version).
  - Migration files are read, never run or imported. SQL is classified statement by statement, after comments and
    string literals are removed. Destroys data (and so cannot be reversed) - C(DROP TABLE), C(DROP COLUMN),
    C(TRUNCATE), C(DELETE), C(UPDATE) without C(WHERE), and a column type that narrows (C(TEXT) to a C(VARCHAR) of some length,
    C(BIGINT) to C(INTEGER)), told from the migration's own down migration or Alembic's C(existing_type). Breaks the
    older version but keeps the data - renames, C(SET NOT NULL), a new C(NOT NULL) column without a default, new
    constraints, C(UPDATE ... WHERE), and anything not recognised. Additive (the older version still works) -
    C(CREATE TABLE), C(CREATE INDEX), C(ADD COLUMN) that is nullable or has a default, C(INSERT).
  - A migration is reversible when it has a down migration and destroyed no data. A down migration that is missing,
    empty, only C(pass) or only raises counts as none.
  - With a database connection (O(engine) and the options beside it), only the migrations the database applied count,
    read from the migration tool's own table (see O(layout)). Without one, every migration of O(from_version) counts
    as applied.
  - The recommendation is the first of these rules that holds.
  - V(safe) - no migration in between is applied; or every applied one is additive, so the older version works with
    the schema as it is (leave them, their down migrations would only lose data written since); or the down
    migrations of the applied ones, newest first down to the oldest one that is not additive, all exist, lose no data
    and bring the earlier schema back. Then RV(down_migrations) lists them in the order to run them, with the rollback.
  - V(rollback_to) - a tag newer than O(to_version) and older than O(from_version) in the history works with the
    database as it is, without running anything; its migrations are all applied, and every applied migration it does
    not have is additive. RV(safe_version) is the newest such tag. Roll back to it instead of O(to_version).
  - V(restore_database) - no such version, and an applied migration destroyed data the older version needs. It
    can only come back from a backup taken before that migration ran (what was written since is lost unless it is
    replayed), or you fix forward.
  - V(fix_forward) - no such version, and nothing was destroyed, but the migrations that break the older version
    cannot be reversed without loss (no down migration, or one that would drop what was written since). Deploy a fix
    on top of the current schema instead of rolling back.
  - The module never changes anything, the repository or the database, and reports RV(changed=false).
author: ops.rollback maintainers (!UNKNOWN)
requirements:
  - C(git) on the host the module runs on (it runs where O(repo) is; use C(delegate_to) to run it elsewhere).
options:
  repo:
    description:
      - Path of the application's git repository on the host the module runs on, a clone or a bare repository.
      - It must have the tags or branches named by O(from_version) and O(to_version). Tags are also the candidates
        for RV(safe_version).
    type: path
    required: true
  from_version:
    description:
      - The version that runs now, as a git tag, branch or commit (for example V(v1.2.0)).
    type: str
    required: true
  to_version:
    description:
      - The rollback target, as a git tag, branch or commit (for example V(v1.0.0)).
    type: str
    required: true
  migrations_path:
    description:
      - Directory of the migrations, relative to the root of O(repo), for example V(db/migrations),
        V(alembic/versions) (or V(alembic)), V(src/main/resources/db/migration) or V(shop/orders/migrations).
    type: str
    required: true
  layout:
    description:
      - How the migrations are written. V(auto) recognises the layout from the files at O(from_version) and fails
        when none or several are found.
      - V(plain_sql) - a directory per migration with C(up.sql) and, when it can be reversed, C(down.sql)
        (C(20240101_add_users/up.sql)). The id is the directory name up to the first C(_). Applied are the rows
        of C(schema_migrations) (column C(version)), one per migration.
      - V(golang_migrate) - C(<n>_<name>.up.sql) and C(<n>_<name>.down.sql). C(schema_migrations) holds the
        current version and a dirty flag; a dirty state is reported and blocks V(safe).
      - V(flyway) - C(V<version>__<name>.sql), with undo migrations C(U<version>__<name>.sql). Applied are the
        successful rows of C(flyway_schema_history).
      - V(alembic) - revision files chained by C(down_revision); C(upgrade()) and C(downgrade()) are read with
        Python's C(ast). C(alembic_version) holds the head; applied are the head and its ancestors.
      - V(django) - one app's migration files (C(0001_initial.py)); the operations are read with Python's C(ast).
        Applied are the rows of C(django_migrations) for the app (see O(django_app)).
    type: str
    default: auto
    choices: [auto, plain_sql, golang_migrate, flyway, alembic, django]
  django_app:
    description:
      - The Django app label, as the C(app) column of C(django_migrations) holds it.
      - Default, the name of the directory that holds O(migrations_path) (V(orders) for V(shop/orders/migrations)).
      - Used only with a database connection and the V(django) layout.
    type: str
  engine:
    description:
      - The database engine. V(mysql) covers MySQL and MariaDB.
      - Leave out, with the other connection options, to check without a database; then every migration of
        O(from_version) counts as applied.
      - Requires O(db). The other connection options require it.
    type: str
    required: false
    choices: [postgresql, mysql]
extends_documentation_fragment:
  - ops.rollback._db_conn
  - ops.rollback._attributes.read_only
  - ops.rollback._attributes.action_group_db
notes:
  - The migration table must be in O(db); a missing table is an error that names it.
  - Python migrations are never imported. Code whose effect cannot be read without running it (Django
    C(RunPython), SQL built at run time) counts as breaking the older version, and the reason says so.
seealso:
  - module: ops.rollback.db_backup
    description: Take the verified backup that V(restore_database) needs, before migrations run.
  - module: ops.rollback.rollback_decision
    description: Turns the recommendation into the decision (fix forward when only a restore could bring the schema back).
"""

EXAMPLES = r"""
- name: Check the migrations between the running version and the rollback target
  ops.rollback.migration_check:
    repo: /srv/app/repo
    from_version: v1.2.0
    to_version: v1.0.0
    migrations_path: db/migrations
  register: migrations

- name: Stop unless the rollback to v1.0.0 is safe for the database
  ansible.builtin.assert:
    that:
      - migrations.recommendation == 'safe'
    fail_msg: "{{ migrations.recommendation }}: {{ migrations.explanation | join(' ') }}"

- name: Check against the migrations the production database really applied
  ops.rollback.migration_check:
    repo: /srv/app/repo
    from_version: v1.2.0
    to_version: v1.0.0
    migrations_path: alembic/versions
    engine: postgresql
    login_host: db.example.com
    login_user: app
    login_password: "{{ app_db_password }}"
    db: app
  register: migrations

- name: Roll back only as far as the schema allows
  ansible.builtin.set_fact:
    rollback_version: "{{ migrations.safe_version if migrations.recommendation == 'rollback_to' else 'v1.0.0' }}"

- name: Check a Django app's migrations on MariaDB, from the controller's checkout
  ops.rollback.migration_check:
    repo: "{{ playbook_dir }}/app"
    from_version: v1.2.0
    to_version: v1.0.0
    migrations_path: shop/orders/migrations
    layout: django
    engine: mysql
    login_host: 127.0.0.1
    login_user: app
    db: shop
  delegate_to: localhost
"""

RETURN = r"""
changed:
  description: Always V(false), the module only reads.
  returned: always
  type: bool
  sample: false
layout:
  description: The layout used, as given in O(layout) or recognised.
  returned: always
  type: str
  sample: golang_migrate
from_version:
  description: O(from_version) as given.
  returned: always
  type: str
  sample: v1.2.0
to_version:
  description: O(to_version) as given.
  returned: always
  type: str
  sample: v1.0.0
from_commit:
  description: The commit O(from_version) names.
  returned: always
  type: str
  sample: 3f2c9d1e4b5a69788c0d1e2f3a4b5c6d7e8f9a0b
to_commit:
  description: The commit O(to_version) names.
  returned: always
  type: str
  sample: 9a0b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b
applied_source:
  description:
    - V(database) when the applied migrations were read from the database, V(assumed) when every migration of
      O(from_version) was taken as applied (no connection given).
  returned: always
  type: str
  sample: database
database:
  description: What the migration table says; V(null) without a connection.
  returned: always
  type: dict
  contains:
    table:
      description: The migration table read.
      type: str
      sample: schema_migrations
    applied:
      description: Ids of the migrations of O(from_version) that are applied, oldest first.
      type: list
      elements: str
      sample: ["1", "2", "3"]
    unknown:
      description: Ids of applied migrations that O(from_version) does not have (a newer version migrated the database).
      type: list
      elements: str
      sample: []
    version:
      description: The current version of C(golang_migrate); V(null) for the other layouts.
      type: str
      sample: "3"
    dirty:
      description: Whether C(golang_migrate) marks the current version dirty (its migration failed part-way).
      type: bool
      sample: false
migrations:
  description: The migrations in between (at O(from_version), not at O(to_version)), oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The id the migration tool records (version, revision or name).
      type: str
      sample: "3"
    name:
      description: The migration's file or directory name.
      type: str
      sample: 3_drop_legacy_email
    path:
      description: Path of its up migration in the repository.
      type: str
      sample: db/migrations/3_drop_legacy_email.up.sql
    applied:
      description: Whether the database applied it (always V(true) when RV(applied_source) is V(assumed)).
      type: bool
      sample: true
    reversible:
      description: It has a down migration and destroyed no data.
      type: bool
      sample: false
    additive:
      description: The older version of the application still works with the schema after it.
      type: bool
      sample: false
    destroys_data:
      description: Data is gone once it ran; only a backup taken before it brings it back.
      type: bool
      sample: true
    has_down:
      description: It has a down migration that does something.
      type: bool
      sample: true
    down_loses_data:
      description: Its down migration drops or deletes something, losing what was written there since.
      type: bool
      sample: false
    reasons:
      description: Why the older version may not work after it, and why it cannot be reversed; empty when nothing stands in the way.
      type: list
      elements: str
      sample: ["drops column users.legacy_email"]
    down_reasons:
      description: What its down migration would destroy.
      type: list
      elements: str
      sample: []
recommendation:
  description: V(safe), V(rollback_to), V(restore_database) or V(fix_forward), as the description defines them.
  returned: always
  type: str
  sample: rollback_to
safe_version:
  description: With V(rollback_to), the newest tag to roll back to instead of O(to_version); otherwise V(null).
  returned: always
  type: str
  sample: v1.1.0
down_migrations:
  description: With V(safe), the down migrations to run, in that order (newest first); empty when none is needed.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The migration's id.
      type: str
      sample: "2"
    name:
      description: The migration's name.
      type: str
      sample: 2_rename_total
    path:
      description: Path of its up migration in the repository.
      type: str
      sample: db/migrations/2_rename_total.up.sql
explanation:
  description: Sentences that say why this recommendation, naming the migrations and what they do.
  returned: always
  type: list
  elements: str
  sample:
    - "3_drop_legacy_email cannot be reversed safely: 3_drop_legacy_email drops column users.legacy_email; no down migration."
    - "v1.1.0 is the newest version between to_version and from_version that works with the database as it is: it has 3_drop_legacy_email."
"""

from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils.migrations.check import (
    MODULE_KWARGS,
    migration_check_argument_spec,
    run_check,
)


def main():
    run_module(migration_check_argument_spec(), lambda module: run_check(module.params), **MODULE_KWARGS)


if __name__ == '__main__':
    main()
