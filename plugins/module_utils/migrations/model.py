# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One migration and what it does, whatever tool wrote it.

Each layout (layouts.py, python_migrations.py) reads its files into
``Migration`` objects; the check (check.py) only looks at these.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils.migrations.sql import (
    ADDITIVE,
    DESTROYS,
    classify_sql,
    column_types,
    statements,
    with_old_types,
)


class Migration:
    """One migration: its ``id`` as the tool's migration table stores it, and what its up and down migrations do.

    ``up`` and ``down`` are lists of ``sql.Finding``; ``down`` is None when the
    migration has no down migration (none written, empty, or one that only raises).
    """

    def __init__(self, migration_id, name, path, sort_key, up, down, parents=()):
        self.id = migration_id
        self.name = name
        self.path = path
        self.sort_key = sort_key
        self.up = up
        self.down = down
        self.parents = tuple(parents)

    @property
    def additive(self):
        """The older version of the application still works with the schema after this migration."""
        return all(finding.effect == ADDITIVE for finding in self.up)

    @property
    def destroys_data(self):
        """Data is gone once this migration ran; only a backup taken before it brings it back."""
        return any(finding.effect == DESTROYS for finding in self.up)

    @property
    def reversible(self):
        """A down migration exists and gives the earlier schema back with the data it had."""
        return self.down is not None and not self.destroys_data

    @property
    def down_loses_data(self):
        """Running the down migration destroys data (what was written since into what the migration created)."""
        return self.down is not None and any(finding.effect == DESTROYS for finding in self.down)

    @property
    def reasons(self):
        """Why the older version may not work after this migration, and why it cannot simply be reversed."""
        reasons = [finding.what for finding in self.up if finding.effect != ADDITIVE]
        if self.down is None:
            reasons.append('no down migration')
        return reasons

    @property
    def down_reasons(self):
        """What running the down migration would destroy."""
        if self.down is None:
            return []
        return ['its down migration {0}: data written since the migration ran would be lost'.format(finding.what)
                for finding in self.down if finding.effect == DESTROYS]

    def as_dict(self):
        return dict(id=self.id, name=self.name, path=self.path, reversible=self.reversible, additive=self.additive,
                    destroys_data=self.destroys_data, has_down=self.down is not None,
                    down_loses_data=self.down_loses_data, reasons=self.reasons, down_reasons=self.down_reasons)


def sql_migration(migration_id, name, path, sort_key, up_text, down_text):
    """A migration from the text of its up and (None when absent) down SQL files."""
    # A down file with only comments (-- irreversible) is no down migration.
    down = classify_sql(down_text) if down_text is not None and statements(down_text) else None
    # The down migration sets a changed column's type back: that says what it was, and so whether the up narrows it.
    up = with_old_types(classify_sql(up_text), column_types(down or []))
    return Migration(migration_id, name, path, sort_key, up, down)
