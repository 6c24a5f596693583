# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which migrations a database has applied, read from the migration tool's own table.

* Alembic: ``alembic_version`` holds the head revision(s); applied are the
  heads and every revision they descend from.
* Django: ``django_migrations`` rows of the app.
* Flyway: ``flyway_schema_history`` rows that succeeded, in installed order (an
  undo takes its version out again, a baseline counts every version up to it).
* golang-migrate: ``schema_migrations`` holds the current version and a dirty
  flag; applied are the migrations up to that version.
* plain SQL: ``schema_migrations`` with one row per applied version (as dbmate and Rails keep it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import NotFoundError
from ansible_collections.ops.rollback.plugins.module_utils.migrations.layouts import (
    ALEMBIC,
    DJANGO,
    FLYWAY,
    GOLANG_MIGRATE,
    PLAIN_SQL,
)
from ansible_collections.ops.rollback.plugins.module_utils.migrations.python_migrations import alembic_ancestors

TABLES = {ALEMBIC: 'alembic_version', DJANGO: 'django_migrations', FLYWAY: 'flyway_schema_history',
          GOLANG_MIGRATE: 'schema_migrations', PLAIN_SQL: 'schema_migrations'}

_TRUE = ('t', 'true', '1')


class AppliedState:
    """What the database says: the ids of the applied migrations, and for golang-migrate the version and dirty flag."""

    def __init__(self, table, applied, version=None, dirty=False):
        self.table = table
        self.applied = set(applied)
        self.version = version
        self.dirty = dirty


def _literal(text):
    # Only for names checked to be identifiers (the Django app label): no backslash to escape.
    return "'{0}'".format(text.replace("'", "''"))


def read_applied(connection, layout, migrations, django_app=None):
    """The AppliedState of ``layout`` in the database of ``connection`` (``migrations``: those at from_version)."""
    table = TABLES[layout]
    if not connection.table_exists(table):
        raise NotFoundError(
            'The database {0} has no table {1}, where {2} records the migrations it applied. Check db (the database '
            'the application uses) and layout, or leave out the connection options to assume every migration of '
            'from_version is applied. Nothing was changed.'.format(connection.where(), table, layout),
            table=table)
    if layout == ALEMBIC:
        heads = [row[0] for row in connection.query('SELECT version_num FROM alembic_version') if row[0]]
        return AppliedState(table, alembic_ancestors(heads, migrations))
    if layout == DJANGO:
        rows = connection.query('SELECT name FROM django_migrations WHERE app = {0}'.format(_literal(django_app)))
        return AppliedState(table, [row[0] for row in rows])
    if layout == FLYWAY:
        rows = connection.query('SELECT version, type, success FROM flyway_schema_history ORDER BY installed_rank')
        return AppliedState(table, _flyway_applied(rows, migrations))
    if layout == GOLANG_MIGRATE:
        rows = connection.query('SELECT version, dirty FROM schema_migrations')
        if not rows or rows[0][0] is None:
            return AppliedState(table, [], version=None)
        version = int(rows[0][0])
        dirty = str(rows[0][1]).lower() in _TRUE
        return AppliedState(table, [m.id for m in migrations if int(m.id) <= version], version=str(version), dirty=dirty)
    rows = connection.query('SELECT version FROM schema_migrations')
    return AppliedState(table, [row[0] for row in rows if row[0]])


def _version_key(version):
    return tuple(int(part) for part in re.findall(r'\d+', version))


def _flyway_applied(rows, migrations):
    applied = set()
    for version, kind, success in rows:
        if version is None or str(success).lower() not in _TRUE:
            continue
        kind = (kind or '').upper()
        if kind.startswith('UNDO'):
            applied.discard(version)
        elif kind == 'BASELINE':
            applied.update(m.id for m in migrations if _version_key(m.id) <= _version_key(version))
        elif kind != 'DELETE':
            applied.add(version)
    return applied
