# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Symlinked releases as a driver of the rollback core: switch ``current``
atomically, then restart; the ledger is a file beside the releases."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import math
import os
import shlex
import signal
import subprocess
import tempfile
import time

from ansible_collections.ops.rollback.plugins.module_utils._common.driver import Driver, Plan
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.lock import FileLockStore
from ansible_collections.ops.rollback.plugins.module_utils._common.version import RELEASE, sort_versions


#: The rollback lock of a host, a file beside its releases (release_switch's ``lock.file``).
DEFAULT_LOCK_FILE = '.ops-rollback.lock'
#: How a plan says it restarts the application (in check mode, release_switch reports ``restarted`` from it).
RESTART_STEP = 'restart: '
#: Seconds a restart may run before it is killed (release_switch's ``restart_timeout``).
DEFAULT_RESTART_TIMEOUT = 120
#: Seconds a timed-out restart's process group has between SIGTERM and SIGKILL.
KILL_GRACE = 3
#: How much of the restart's stdout and stderr is kept (the end of each), in bytes.
OUTPUT_LIMIT = 64 * 1024


def run_restart(argv, timeout, grace=KILL_GRACE):
    """Run ``argv`` without a shell and wait at most ``timeout`` seconds; returns ``(rc, stdout, stderr)``.

    The command runs in a new session, so it and every process it starts
    share one process group. Still running after ``timeout``, that whole
    group gets SIGTERM, then SIGKILL after ``grace`` seconds, and ``rc`` is
    None. stdin is /dev/null; stdout and stderr go to temporary files rather
    than pipes, so a process the command leaves running (a daemon it started)
    neither holds the run up nor dies writing to a closed pipe. Raises
    ``OSError`` when the command cannot be executed.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, close_fds=True,
                                    start_new_session=True)
        except ValueError as exc:   # an argument with a NUL byte
            raise OSError(errno.EINVAL, str(exc))
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc, grace)
            rc = None
        return rc, _tail(out), _tail(err)


def _kill_group(proc, grace):
    """SIGTERM to the process group ``proc`` leads; SIGKILL to whatever is left of it after ``grace`` seconds."""
    _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc.poll()   # reap the leader: a group of the dead reads as gone
        if not _signal_group(proc.pid, 0):
            break
        time.sleep(0.05)
    _signal_group(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass   # not ours to signal (setuid): the message tells what was sent


def _signal_group(pgid, signum):
    """Send ``signum`` to the group; False once no process of it is left."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _tail(handle):
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - OUTPUT_LIMIT))
    return handle.read().decode('utf-8', 'replace')


def _quoted(argv):
    return ' '.join(shlex.quote(arg) for arg in argv)


class SymlinkDriver(Driver):
    """One host's release tree.

    ``run_command(argv, timeout) -> (rc, stdout, stderr)`` runs ``restart_command``,
    as ``run_restart`` does: ``rc`` None when it was killed after ``timeout``
    seconds, ``OSError`` when it cannot be executed. ``restarted`` says whether
    ``apply`` restarted the application.
    """

    version_syntax = RELEASE

    def __init__(self, tree, ledger, restart_command=None, run_command=run_restart,
                 restart_timeout=DEFAULT_RESTART_TIMEOUT):
        if isinstance(restart_timeout, bool) or not isinstance(restart_timeout, (int, float)) \
                or not math.isfinite(restart_timeout) or restart_timeout <= 0:
            raise InvalidInputError(
                'Refusing restart_timeout={0!r}: it must be a number of seconds more than zero (fractions allowed, '
                'for example 0.5; the default is {1}). Nothing was switched.'.format(
                    restart_timeout, DEFAULT_RESTART_TIMEOUT),
                option='restart_timeout')
        self.tree = tree
        self.ledger = ledger
        self.restart_command = list(restart_command or [])
        self.run_command = run_command
        self.restart_timeout = restart_timeout
        self.restarted = False

    def lock_store(self, name=DEFAULT_LOCK_FILE):
        """The store of this host's rollback lock: the file ``name`` beside the releases."""
        if not name or '/' in name or name in ('.', '..'):
            raise InvalidInputError('lock file {0!r} must be a plain file name inside path.'.format(name))
        return FileLockStore(os.path.join(self.tree.path, name))

    def describe(self):
        return 'the release tree {0}'.format(self.tree.path)

    def current(self):
        """What runs now; None also when ``current`` points at a release that does not exist (``missing_current``)."""
        version = self.tree.current()
        return {'version': version, 'revision': None} if version and not self.missing_current() else None

    def missing_current(self):
        """The release ``current`` points at when it does not exist (pruned, or never deployed), else None."""
        version = self.tree.current()
        return version if version and not os.path.isdir(self.tree.release_path(version)) else None

    def history(self):
        """Release directories and versions the ledger remembers (pruned ones too), in version order."""
        releases = dict((r['version'], r) for r in self.tree.releases())
        history = []
        for version in sort_versions(set(releases) | set(self.ledger.verdicts())):
            entry = {'version': version, 'revision': None, 'deployable': False}
            if version not in releases:
                entry['why'] = 'there is no release directory {0} (pruned, or never deployed here)'.format(
                    self.tree.release_path(version))
            elif not releases[version]['complete']:
                entry['why'] = 'the release {0} has no {1} marker, so its deploy never finished'.format(
                    self.tree.release_path(version), self.tree.complete_marker)
            else:
                entry['deployable'] = True
            history.append(entry)
        return history

    def _link_text(self, version):
        return '{0} -> {1}\n'.format(self.tree.current_path, self.tree.release_path(version) if version else '(missing)')

    def plan(self, target):
        running = self.tree.current()
        version = target['version']
        steps = []
        if version != running:
            steps.append('point {0} at {1}'.format(self.tree.current_path, self.tree.release_path(version)))
        # An earlier run switched but never finished its restart: the old
        # process may still run, so this run restarts even without a switch.
        if self.restart_command and (steps or self.tree.restart_pending()):
            steps.append(RESTART_STEP + ' '.join(self.restart_command))
        return Plan(steps, before=self._link_text(running), after=self._link_text(version))

    def apply(self, target, plan):
        """Switch, then restart; if the restart fails, cannot be executed or is killed after
        ``restart_timeout``, point ``current`` back at the release that is still running,
        so the link never lies."""
        version = target['version']
        running = self.tree.restart_pending() or self.tree.current()
        if self.restart_command:
            self.tree.mark_restart_pending(running)
        if self.tree.current() != version:
            self.tree.switch(version)
        if not self.restart_command:
            return
        command = _quoted(self.restart_command)
        try:
            rc, out, err = self.run_command(self.restart_command, self.restart_timeout)
        except OSError as exc:
            raise self._restart_failed(
                version, running, 'the restart command could not be executed: {0}'.format(self._why_not(exc)),
                self._fix_for(exc), rc=None, stdout='', stderr='')
        output = (err or out or '').strip()[-500:]
        if rc is None:
            raise self._restart_failed(
                version, running,
                '{0} was still running after restart_timeout={1:g} s, so it was killed after {1:g} s together with '
                'the processes it started (SIGTERM to its process group, then SIGKILL){2}'.format(
                    command, self.restart_timeout, '; its output: ' + output if output else ', with no output'),
                'Find out why the restart hangs, or raise restart_timeout, then run again.',
                killed=True, rc=rc, stdout=out, stderr=err)
        if rc != 0:
            raise self._restart_failed(
                version, running, '(rc={0}): {1}'.format(rc, output or 'no output'),
                'Fix the restart command or the release, then run again.', rc=rc, stdout=out, stderr=err)
        self.tree.clear_restart_pending()
        self.restarted = True

    def _restart_failed(self, version, running, what, next_step, killed=False, **facts):
        """Point ``current`` back at ``running`` and clear the restart-pending marker; returns the error to raise."""
        if running and running != version:
            self.tree.switch(running)
            where = '{0} points back at {1}, {2}.'.format(
                self.tree.current_path, running,
                'which ran before the switch; the killed restart may have stopped it, so check that it runs'
                if killed else 'which is still running')
        elif running:
            where = '{0} still points at {1}, the release that ran before.'.format(self.tree.current_path, running)
        else:
            where = '{0} points at {1}, as no release was current before, but nothing was restarted into it.'.format(
                self.tree.current_path, version)
        self.tree.clear_restart_pending()
        serving = running or version
        return RollbackError(
            'Restart after switching {0} to {1} failed{2}{3}. {4} {5}'.format(
                self.tree.current_path, version, ' ' if what.startswith('(') else ': ', what, where, next_step),
            from_version=serving, to_version=serving, restarted=False, **facts)

    def _why_not(self, exc):
        """Why the restart command cannot be executed, from the ``OSError`` that said so."""
        program = self.restart_command[0]
        why = '{0}: {1}'.format(program, exc.strerror or exc)
        if exc.errno == errno.ENOENT and '/' in program and os.path.isfile(program):
            why += ' (the file exists, so the interpreter its #! line names does not)'
        elif exc.errno == errno.EACCES and os.path.isfile(program) and not os.access(program, os.X_OK):
            why += ' (the file is not executable)'
        return why

    def _fix_for(self, exc):
        if len(self.restart_command) == 1 and len(self.restart_command[0].split()) > 1:
            return ("restart_command must be an argument list, one item per argument, for example "
                    "['/usr/bin/systemctl', 'restart', 'demo'], not one string with spaces: fix it, then run again.")
        return ('Fix restart_command: its first item must be an executable file (an absolute path is safest), '
                'then run again.')
