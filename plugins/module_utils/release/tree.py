# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Capistrano-style release tree: ``<path>/releases/<version>`` and a
``<path>/current`` link. Plain Python, so unit tests drive it directly."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import uuid

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
)
from ansible_collections.ops.rollback.plugins.module_utils._common.version import sort_versions


class ReleaseTree:
    def __init__(self, path, releases_dir='releases', current_link='current', complete_marker='REVISION'):
        if not os.path.isabs(path):
            raise InvalidInputError('path {0!r} must be absolute: pass the application root, e.g. /srv/app.'.format(path))
        for option, value in (('releases_dir', releases_dir), ('current_link', current_link), ('complete_marker', complete_marker)):
            if not value or os.path.isabs(value) or '..' in value.split('/') or '\0' in value:
                raise InvalidInputError(
                    '{0} {1!r} must be a name relative to path, without "..".'.format(option, value))
        self.path = path
        self.releases_path = os.path.join(path, releases_dir)
        self.current_path = os.path.join(path, current_link)
        self.complete_marker = complete_marker
        self._releases_dir = releases_dir

    def release_path(self, version):
        return os.path.join(self.releases_path, version)

    def releases(self):
        """Every release directory, oldest first by version, with its completeness."""
        if not os.path.isdir(self.releases_path):
            raise NotFoundError(
                'Cannot read releases: {0} is not a directory. Check path= and releases_dir=, '
                'or deploy a release first.'.format(self.releases_path))
        names = [name for name in os.listdir(self.releases_path)
                 if not name.startswith('.') and os.path.isdir(self.release_path(name))]
        current = self.current()
        return [
            {
                'version': name,
                'complete': self.is_complete(name),
                'current': name == current,
            }
            for name in sort_versions(names)
        ]

    def is_complete(self, version):
        return os.path.isfile(os.path.join(self.release_path(version), self.complete_marker))

    def current(self):
        """The version ``current`` points to, read from the link itself (never mtimes)."""
        if not os.path.lexists(self.current_path):
            return None
        if not os.path.islink(self.current_path):
            raise RollbackError(
                'Cannot read the current release: {0} exists but is not a symbolic link. Move it aside '
                'so that it can be managed as a link to a release.'.format(self.current_path))
        target = os.readlink(self.current_path)
        if not os.path.isabs(target):
            target = os.path.join(os.path.dirname(self.current_path), target)
        parent, version = os.path.split(os.path.normpath(target))
        if os.path.realpath(parent) != os.path.realpath(self.releases_path):
            raise RollbackError(
                'Cannot read the current release: {0} points to {1}, outside {2}. Point it at a release '
                'directory first.'.format(self.current_path, target, self.releases_path))
        return version

    def switch(self, version):
        """Point ``current`` at ``version`` atomically: a new link renamed over the
        old one, so a reader never finds ``current`` missing."""
        tmp = os.path.join(os.path.dirname(self.current_path), '.{0}.tmp-{1}'.format(
            os.path.basename(self.current_path), uuid.uuid4().hex))
        os.symlink(os.path.join(self._releases_dir, version), tmp)
        try:
            os.replace(tmp, self.current_path)
        except OSError:
            os.unlink(tmp)
            raise

    # A switch whose restart has not succeeded yet leaves this marker, holding
    # the version that was running, so a re-run after an interruption knows
    # the process may still be the old one and restarts it.
    @property
    def _pending_path(self):
        return os.path.join(os.path.dirname(self.current_path), '.{0}.restart-pending'.format(
            os.path.basename(self.current_path)))

    def restart_pending(self):
        """The version that ran before an unfinished switch, or None."""
        try:
            with open(self._pending_path) as handle:
                return handle.read().strip() or None
        except FileNotFoundError:
            return None

    def mark_restart_pending(self, running_version):
        with open(self._pending_path, 'w') as handle:
            handle.write((running_version or '') + '\n')

    def clear_restart_pending(self):
        if os.path.exists(self._pending_path):
            os.unlink(self._pending_path)

    def prune_plan(self, keep):
        """Releases to remove: all but the ``keep`` newest, never the current one."""
        if keep < 1:
            raise InvalidInputError('keep must be at least 1, got {0}.'.format(keep))
        releases = [r['version'] for r in self.releases()]
        current = self.current()
        kept = set(releases[-keep:]) | {current}
        return [version for version in releases if version not in kept]

    def remove(self, version):
        shutil.rmtree(self.release_path(version))
