# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration layouts: how each tool names its files, orders them, and says what their down migration is.

A layout turns the files under ``migrations_path`` at one commit into
``Migration`` objects, oldest first:

* ``plain_sql``: a directory per migration with ``up.sql`` and, when it can be
  reversed, ``down.sql`` (``20240101_add_users/up.sql``); the id is the name's
  part before the first ``_``;
* ``golang_migrate``: ``<n>_<name>.up.sql`` and ``<n>_<name>.down.sql``; the id is ``n``;
* ``flyway``: ``V<version>__<name>.sql`` and the undo ``U<version>__<name>.sql``;
  the id is the version with ``_`` read as ``.`` (as Flyway stores it);
* ``alembic``: ``*.py`` revisions (in ``migrations_path`` or its ``versions``
  directory) chained by ``down_revision``; the id is the revision;
* ``django``: one app's ``migrations`` directory, ``0001_initial.py`` ...; the id is the file's name.

Python migrations are read with ``ast`` and never imported or run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, NotFoundError
from ansible_collections.ops.rollback.plugins.module_utils.migrations import python_migrations
from ansible_collections.ops.rollback.plugins.module_utils.migrations.model import sql_migration

PLAIN_SQL = 'plain_sql'
GOLANG_MIGRATE = 'golang_migrate'
FLYWAY = 'flyway'
ALEMBIC = 'alembic'
DJANGO = 'django'
LAYOUTS = (PLAIN_SQL, GOLANG_MIGRATE, FLYWAY, ALEMBIC, DJANGO)
AUTO = 'auto'


# ---------------------------------------------------------------------------
# the layouts: file names -> migrations
# ---------------------------------------------------------------------------

_GOLANG = re.compile(r'^(?P<n>\d+)_(?P<name>.+)\.(?P<direction>up|down)\.sql$')
_FLYWAY = re.compile(r'^(?P<prefix>[VU])(?P<version>\d+(?:[._]\d+)*)__(?P<name>.+)\.sql$')
_DJANGO_FILE = re.compile(r'^\d{4}_\w+\.py$')


def _relative(paths, root):
    """``paths`` under ``root`` as ``{relative: full}``."""
    prefix = root.rstrip('/') + '/'
    return dict((path[len(prefix):], path) for path in paths if path.startswith(prefix))


def _number_key(text):
    return tuple(int(part) for part in re.split(r'[._]', text))


def _golang(files, read):
    pairs = {}
    for relative, full in files.items():
        match = _GOLANG.match(relative)
        if match:
            pairs.setdefault(int(match.group('n')), {})[match.group('direction')] = (full, match.group('n') + '_' + match.group('name'))
    migrations = []
    for number, pair in sorted(pairs.items()):
        if 'up' not in pair:
            continue
        path, name = pair['up']
        down = read(pair['down'][0]) if 'down' in pair else None
        migrations.append(sql_migration(str(number), name, path, (number,), read(path), down))
    return migrations


def _flyway(files, read):
    found = {}
    for relative, full in files.items():
        match = _FLYWAY.match(relative)
        if match:
            version = match.group('version').replace('_', '.')
            found.setdefault(version, {})[match.group('prefix')] = (full, relative[:-len('.sql')])
    migrations = []
    for version, pair in sorted(found.items(), key=lambda item: _number_key(item[0])):
        if 'V' not in pair:
            continue
        path, name = pair['V']
        down = read(pair['U'][0]) if 'U' in pair else None
        migrations.append(sql_migration(version, name, path, _number_key(version), read(path), down))
    return migrations


def _plain(files, read):
    dirs = {}
    for relative, full in files.items():
        directory, base = posixpath.split(relative)
        if directory and '/' not in directory and base in ('up.sql', 'down.sql'):
            dirs.setdefault(directory, {})[base] = full
    migrations = []
    for directory, pair in sorted(dirs.items()):
        if 'up.sql' not in pair:
            continue
        down = read(pair['down.sql']) if 'down.sql' in pair else None
        migrations.append(sql_migration(directory.split('_', 1)[0], directory, pair['up.sql'], (directory,),
                                        read(pair['up.sql']), down))
    return migrations


def _alembic_files(files):
    """Revision files: in the ``versions`` directory of an Alembic environment, or in ``migrations_path`` itself."""
    versions = dict((rel[len('versions/'):], full) for rel, full in files.items() if rel.startswith('versions/'))
    chosen = versions or files
    return dict((rel, full) for rel, full in chosen.items()
                if '/' not in rel and rel.endswith('.py') and rel != '__init__.py')


def _alembic(files, read):
    revisions = [python_migrations.alembic_revision(read(full), full) for _rel, full in sorted(_alembic_files(files).items())]
    return python_migrations.alembic_order([revision for revision in revisions if revision is not None])


def _django(files, read):
    migrations = []
    for relative, full in sorted(files.items()):
        if '/' not in relative and _DJANGO_FILE.match(relative):
            migration = python_migrations.django_migration(read(full), full)
            if migration is not None:
                migrations.append(migration)
    return migrations


_PARSERS = {PLAIN_SQL: _plain, GOLANG_MIGRATE: _golang, FLYWAY: _flyway, ALEMBIC: _alembic, DJANGO: _django}


def detect(paths, migrations_path, read):
    """The layouts whose files are under ``migrations_path`` (``paths`` as git lists them), by file names and, for Python, content."""
    files = _relative(paths, migrations_path)
    found = []
    if any(_GOLANG.match(rel) for rel in files):
        found.append(GOLANG_MIGRATE)
    if any(_FLYWAY.match(rel) and rel.startswith('V') for rel in files):
        found.append(FLYWAY)
    if any(posixpath.basename(rel) == 'up.sql' and rel.count('/') == 1 for rel in files):
        found.append(PLAIN_SQL)
    python = _alembic_files(files)
    if any(python_migrations.looks_like_alembic(read(full)) for full in python.values()):
        found.append(ALEMBIC)
    if any(_DJANGO_FILE.match(rel) and '/' not in rel and python_migrations.looks_like_django(read(full))
           for rel, full in files.items()):
        found.append(DJANGO)
    return found


def load(paths, migrations_path, layout, read):
    """The migrations of ``layout`` under ``migrations_path``, oldest first.

    ``layout`` AUTO picks the one layout whose files are there; none or
    several is an error that says which layouts were tried or found.
    """
    if layout == AUTO:
        found = detect(paths, migrations_path, read)
        if not found:
            raise NotFoundError(
                'No migrations found under {0}: tried the layouts {1} (see the module documentation for their file names). '
                'Check migrations_path, relative to the repository root. Nothing was changed.'.format(
                    migrations_path, ', '.join(LAYOUTS)), migrations_path=migrations_path, layouts_tried=list(LAYOUTS))
        if len(found) > 1:
            raise InvalidInputError(
                'The layout of {0} is ambiguous: it has files of {1}. Set layout to the one your migration tool uses. '
                'Nothing was changed.'.format(migrations_path, ' and '.join(found)),
                migrations_path=migrations_path, layouts_found=found)
        layout = found[0]
    return layout, _PARSERS[layout](_relative(paths, migrations_path), read)
