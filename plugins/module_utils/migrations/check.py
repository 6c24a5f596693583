# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""migration_check: can the database stay as it is, or go back, when the application rolls back?

The migrations *in between* are those present at ``from_version`` (what runs
now) and absent at ``to_version`` (the rollback target), oldest first. Only
those the database applied count: read from the tool's migration table when a
connection is given, otherwise every migration of from_version is taken as
applied. ``recommend`` turns them into one recommendation:

1. ``safe``: nothing in between is applied, or every applied one is additive
   (the older version works with the schema as it is: leave them), or the down
   migrations of the applied ones, newest first down to the oldest that is not
   additive, exist, lose no data and give the earlier schema back
   (``down_migrations``).
2. ``rollback_to``: otherwise, the newest version (a tag) newer than
   to_version and older than from_version whose migrations are all applied, and
   for which every applied migration it does not have is additive: it works
   with the database as it is (``safe_version``).
3. ``restore_database``: otherwise, when an applied migration destroyed data
   (DROP TABLE/COLUMN, TRUNCATE, DELETE, UPDATE without WHERE, a narrowed
   type): what the older version needs is only in a backup taken before it.
4. ``fix_forward``: otherwise; the blocking migrations have no down migration,
   or theirs would destroy data written since. Fix the application on top of
   the current schema instead.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, NotFoundError
from ansible_collections.ops.rollback.plugins.module_utils.db.connection import DB_CONNECTION_SPEC, Connection
from ansible_collections.ops.rollback.plugins.module_utils.migrations.applied import read_applied
from ansible_collections.ops.rollback.plugins.module_utils.migrations.git import GitRepo
from ansible_collections.ops.rollback.plugins.module_utils.migrations.layouts import AUTO, DJANGO, LAYOUTS, load

SAFE = 'safe'
ROLLBACK_TO = 'rollback_to'
RESTORE_DATABASE = 'restore_database'
FIX_FORWARD = 'fix_forward'

_CONNECTION_OPTIONS = ('login_host', 'login_port', 'login_user', 'login_password', 'db')
_IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


def migration_check_argument_spec():
    spec = dict(
        repo=dict(type='path', required=True),
        from_version=dict(type='str', required=True),
        to_version=dict(type='str', required=True),
        migrations_path=dict(type='str', required=True),
        layout=dict(type='str', default=AUTO, choices=[AUTO] + list(LAYOUTS)),
        django_app=dict(type='str'),
    )
    # The connection is optional here: without it, every migration of from_version counts as applied.
    spec.update((name, dict(option)) for name, option in DB_CONNECTION_SPEC.items())
    spec['engine'] = dict(spec['engine'], required=False)
    return spec


# A connection option without engine would be silently ignored; engine without db would read the wrong database.
MODULE_KWARGS = dict(required_by=dict([(name, 'engine') for name in _CONNECTION_OPTIONS] + [('engine', 'db')]))


def run_check(params):
    """The module's result for ``params`` (its options)."""
    repo = GitRepo(params['repo'])
    migrations_path = params['migrations_path'].strip('/')
    if not migrations_path or '..' in migrations_path.split('/'):
        raise InvalidInputError('migrations_path {0!r} must be a directory inside the repository, relative to its root '
                                '(for example db/migrations). Nothing was changed.'.format(params['migrations_path']))
    from_commit = repo.commit(params['from_version'], 'from_version')
    to_commit = repo.commit(params['to_version'], 'to_version')
    tree = _Tree(repo, migrations_path)

    layout = params['layout']
    if layout == AUTO:
        # The layout of what runs now; the target's when from_version has no migrations left.
        layout = tree.layout(from_commit) if tree.paths(from_commit) else tree.layout(to_commit)
    current = tree.migrations(from_commit, layout)
    target_ids = tree.ids(to_commit, layout)
    if not current and not target_ids:
        raise NotFoundError('No {0} migrations under {1} at {2} or at {3}: check migrations_path and layout. Nothing was '
                            'changed.'.format(layout, migrations_path, params['from_version'], params['to_version']),
                            migrations_path=migrations_path, layout=layout)
    between = [migration for migration in current if migration.id not in target_ids]

    database = None
    unknown = []
    if params.get('engine'):
        state = read_applied(Connection.from_params(params), layout, current, _django_app(params, migrations_path, layout))
        applied = state.applied
        unknown = sorted(applied - set(migration.id for migration in current))
        dirty = state.version if state.dirty else None
        database = dict(table=state.table, applied=sorted(applied & set(m.id for m in current), key=_order(current)),
                        unknown=unknown, version=state.version, dirty=state.dirty)
    else:
        applied = set(migration.id for migration in current)
        dirty = None

    candidates = repo.tags_between(to_commit, from_commit)
    verdict = recommend(between, applied, candidates, lambda version: tree.ids(repo.commit(version, 'version'), layout), dirty)
    if database and database['dirty']:
        verdict['explanation'].append(
            '{0} is dirty at version {1}: that migration failed part-way. Repair it by hand (then `migrate force`) before '
            'running any migration.'.format(database['table'], database['version']))
    if unknown:
        verdict['explanation'].append(
            'The database has applied migrations that {0} does not have ({1}): it may have been migrated by a newer version '
            'than from_version.'.format(params['from_version'], ', '.join(unknown)))

    migrations = []
    for migration in between:
        entry = migration.as_dict()
        entry['applied'] = migration.id in applied
        migrations.append(entry)
    result = dict(changed=False, layout=layout, from_version=params['from_version'], to_version=params['to_version'],
                  from_commit=from_commit, to_commit=to_commit, applied_source='database' if database else 'assumed',
                  database=database, migrations=migrations)
    result.update(verdict)
    return result


def _order(migrations):
    position = dict((migration.id, index) for index, migration in enumerate(migrations))
    return lambda migration_id: (position.get(migration_id, len(position)), migration_id)


def _django_app(params, migrations_path, layout):
    if layout != DJANGO:
        return None
    app = params.get('django_app') or posixpath.basename(posixpath.dirname(migrations_path))
    if not _IDENTIFIER.match(app or ''):
        raise InvalidInputError('Cannot tell the Django app label from migrations_path {0}: set django_app to the label '
                                '(the app column of django_migrations). Nothing was changed.'.format(migrations_path))
    return app


class _Tree:
    """The migrations under one path at any commit, each commit read once."""

    def __init__(self, repo, path):
        self.repo = repo
        self.path = path
        self._paths = {}

    def paths(self, commit):
        if commit not in self._paths:
            self._paths[commit] = self.repo.files(commit, self.path)
        return self._paths[commit]

    def _reader(self, commit):
        return lambda path: self.repo.read(commit, path)

    def layout(self, commit):
        return load(self.paths(commit), self.path, AUTO, self._reader(commit))[0]

    def migrations(self, commit, layout):
        return load(self.paths(commit), self.path, layout, self._reader(commit))[1]

    def ids(self, commit, layout):
        return set(migration.id for migration in self.migrations(commit, layout))


def recommend(between, applied, candidates, ids_at, dirty=None):
    """The recommendation (module docstring) for ``between`` (oldest first) given the ``applied`` ids.

    ``candidates``: versions newer than to_version and older than
    from_version, newest first; ``ids_at(version)``: the migration ids at that
    version; ``dirty``: the id of a migration that failed part-way, if any.
    Returns ``recommendation``, ``safe_version``, ``down_migrations`` and ``explanation``.
    """
    result = dict(recommendation=SAFE, safe_version=None, down_migrations=[], explanation=[])
    say = result['explanation'].append
    done = [migration for migration in between if migration.id in applied]
    if not between:
        say('No migration is in between: both versions expect the same schema.')
        return result
    if not done:
        say('None of the {0} migrations in between is applied: the database still has the schema the older version '
            'expects.'.format(len(between)))
        return result
    blocking = [migration for migration in done if not migration.additive or migration.id == dirty]
    if not blocking:
        say('Every applied migration in between is additive ({0}): the older version works with the schema as it is. '
            'Leave them in place; running their down migrations would only lose data written since.'.format(_ids(done)))
        return result

    run = list(reversed(done[done.index(blocking[0]):]))
    if all(migration.reversible and not migration.down_loses_data and migration.id != dirty for migration in run):
        result['down_migrations'] = [dict(id=m.id, name=m.name, path=m.path) for m in run]
        say('{0} cannot stay: {1}. Its down migrations lose no data: with the rollback, run the down migrations of {2}, '
            'newest first, to give the older version its schema back.'.format(_ids(blocking), _why(blocking), _ids(run)))
        return result

    for version in candidates:
        at = ids_at(version)
        missing = [m for m in between if m.id in at and m.id not in applied]
        unknown_to_it = [m for m in done if m.id not in at]
        if not missing and all(m.additive and m.id != dirty for m in unknown_to_it):
            result.update(recommendation=ROLLBACK_TO, safe_version=version)
            say('{0} cannot be reversed safely: {1}.'.format(_ids(blocking), _why(blocking)))
            say('{0} is the newest version between to_version and from_version that works with the database as it is: it '
                'has {1}{2}.'.format(version, _ids([m for m in done if m.id in at]) or 'none of the applied migrations',
                                     ', and the applied migrations it lacks ({0}) are additive'.format(_ids(unknown_to_it))
                                     if unknown_to_it else ''))
            return result

    destroyers = [migration for migration in blocking if migration.destroys_data]
    if destroyers:
        result['recommendation'] = RESTORE_DATABASE
        say('{0} destroyed data the older version needs: {1}. Only a backup taken before {2} ran has it: restore that '
            'backup (what was written since is lost unless replayed), or fix forward instead.'.format(
                _ids(destroyers), _why(destroyers), 'they' if len(destroyers) > 1 else 'it'))
        say('No version between to_version and from_version works with the database as it is.')
        return result
    result['recommendation'] = FIX_FORWARD
    say('{0} cannot be reversed without loss: {1}.'.format(_ids(blocking), _why(blocking, down=True)))
    say('No version between to_version and from_version works with the database as it is: fix forward, deploying a '
        'fix that works with the current schema.')
    return result


def _ids(migrations):
    return ', '.join(migration.name for migration in migrations)


def _why(migrations, down=False):
    parts = []
    for migration in migrations:
        reasons = migration.reasons + (migration.down_reasons if down else [])
        parts.append('{0} {1}'.format(migration.name, '; '.join(reasons) if reasons else 'is not additive'))
    return '; '.join(parts)
