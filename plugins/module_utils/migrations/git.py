# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read an application's git repository at any version, without checking anything out.

Only read commands run (``rev-parse``, ``tag``, ``ls-tree``, ``cat-file``), so
the repository, its work tree and its index are never changed, and a bare
repository works as well as a clone. Standard library only: the ``git`` CLI
through subprocess.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, NotFoundError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.version import version_key


class GitError(RollbackError):
    """git failed for a reason other than a missing repository or ref."""


class GitRepo:
    """The repository at ``path``; every read names a commit (from ``commit``)."""

    def __init__(self, path):
        self.path = path
        self.git = shutil.which('git')
        if not self.git:
            raise RollbackError('git is not installed on this host: install git, or run the task where the repository and '
                                'git are (delegate_to). Nothing was changed.')
        if not os.path.isdir(path):
            raise InvalidInputError('repo {0} is not a directory: pass the path of the application\'s git repository. '
                                    'Nothing was changed.'.format(path), repo=path)
        probe = self._run(['rev-parse', '--git-dir'], check=False)
        if probe.returncode != 0:
            said = probe.stderr.strip()
            hint = (' git refuses a repository owned by another user: run as its owner (become_user), or add it to '
                    'safe.directory in that user\'s git configuration.') if 'dubious ownership' in said else ''
            raise InvalidInputError('repo {0} is not a git repository ({1}): pass the path of the application\'s clone.{2} '
                                    'Nothing was changed.'.format(path, said, hint), repo=path)

    def _run(self, args, check=True):
        env = dict(os.environ, LC_ALL='C', GIT_TERMINAL_PROMPT='0', GIT_OPTIONAL_LOCKS='0')
        try:
            proc = subprocess.run([self.git, '-C', self.path] + args, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        except OSError as err:
            raise GitError('Could not run git in {0}: {1}'.format(self.path, err))
        proc.stdout = proc.stdout.decode('utf-8', 'replace')
        proc.stderr = proc.stderr.decode('utf-8', 'replace')
        if check and proc.returncode != 0:
            raise GitError('git {0} failed in {1}: {2}'.format(args[0], self.path, proc.stderr.strip()))
        return proc

    def tags(self):
        """Every tag, oldest version first (the collection's version order)."""
        return sorted(self._run(['tag', '--list']).stdout.split(), key=version_key)

    def commit(self, ref, option):
        """The commit ``ref`` (a tag, branch or commit) names; NotFoundError listing the tags when none."""
        if not ref or ref.startswith('-'):
            raise InvalidInputError('{0} {1!r} is not a git ref: pass a tag, branch or commit.'.format(option, ref), option=option)
        proc = self._run(['rev-parse', '--verify', '--quiet', '{0}^{{commit}}'.format(ref)], check=False)
        if proc.returncode != 0:
            tags = self.tags()
            raise NotFoundError('{0} {1} is not a tag, branch or commit of {2}. Tags there: {3}. Pass one of them, or fetch '
                                'the tags first (git fetch --tags). Nothing was changed.'.format(
                                    option, ref, self.path, ', '.join(tags) if tags else 'none'),
                                option=option, tags=tags)
        return proc.stdout.strip()

    def tags_between(self, older_commit, newer_commit):
        """Tags of commits after ``older_commit`` and before ``newer_commit`` in history, newest version first."""
        proc = self._run(['tag', '--list', '--merged', newer_commit, '--no-merged', older_commit,
                          '--format=%(refname:strip=2) %(objectname) %(*objectname)'])
        tags = []
        for line in proc.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[-1] != newer_commit:
                tags.append(parts[0])
        return sorted(tags, key=version_key, reverse=True)

    def files(self, commit, path):
        """Paths of the files under ``path`` (relative to the repository root) at ``commit``, sorted."""
        proc = self._run(['ls-tree', '-r', '--name-only', '-z', commit, '--', path.rstrip('/') + '/'])
        return sorted(name for name in proc.stdout.split('\0') if name)

    def read(self, commit, path):
        """Text of the file ``path`` at ``commit``."""
        return self._run(['cat-file', 'blob', '{0}:{1}'.format(commit, path)]).stdout
