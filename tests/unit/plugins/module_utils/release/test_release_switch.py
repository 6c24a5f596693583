# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release tree, the symlink driver and release_switch on a real file system."""
from __future__ import annotations

import functools
import os
import re
import signal
import sys
import threading
import time

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
)
from ansible_collections.ops.rollback.plugins.module_utils.health.checker import checker_from_params
from ansible_collections.ops.rollback.plugins.module_utils.release.driver import SymlinkDriver, run_restart
from ansible_collections.ops.rollback.plugins.module_utils.release.ledger import FileLedger
from ansible_collections.ops.rollback.plugins.module_utils.release.switch import run_release_switch
from ansible_collections.ops.rollback.plugins.module_utils.release.tree import ReleaseTree


@pytest.fixture
def app(tmp_path):
    """/srv/demo-like tree: v1.2.8, v1.2.9, v1.3.0 complete, v1.3.1 without its marker; current -> v1.3.0."""
    for version in ('v1.2.8', 'v1.2.9', 'v1.3.0', 'v1.3.1'):
        release = tmp_path / 'releases' / version
        release.mkdir(parents=True)
        (release / 'VERSION').write_text(version)
        if version != 'v1.3.1':
            (release / 'REVISION').write_text('abc\n')
    os.symlink('releases/v1.3.0', str(tmp_path / 'current'))
    return tmp_path


def run(app, restart=None, **kwargs):
    driver = SymlinkDriver(ReleaseTree(str(app)), FileLedger.beside(str(app)),
                           restart_command=['/usr/bin/systemctl', 'restart', 'demo'] if restart else None,
                           run_command=restart)
    return run_release_switch(driver, **kwargs)


def served(app):
    return (app / 'current' / 'VERSION').read_text()


def test_switch_then_again_is_unchanged(app):
    first = run(app, state='switched', version='v1.2.9')
    assert (first['changed'], first['from_version'], first['to_version']) == (True, 'v1.3.0', 'v1.2.9')
    assert served(app) == 'v1.2.9'
    assert first['diff']['after'].endswith('releases/v1.2.9\n')
    second = run(app, state='switched', version='v1.2.9')
    assert (second['changed'], second['from_version']) == (False, 'v1.2.9')


def test_check_mode_reports_the_plan_and_changes_nothing(app):
    result = run(app, state='switched', version='v1.2.9', check_mode=True)
    assert (result['changed'], result['to_version']) == (True, 'v1.2.9')
    assert served(app) == 'v1.3.0'


@pytest.mark.parametrize('version, error, text', [
    ('v9.9.9', NotFoundError, 'no such version in its history (available: v1.2.8, v1.2.9, v1.3.0)'),
    ('v1.3.1', InvalidInputError, 'no REVISION marker'),
    ('../v1.2.9', InvalidInputError, 'Refusing version'),
    ('v1.2.9; rm -rf /', InvalidInputError, 'Refusing version'),
])
def test_bad_targets_fail_and_change_nothing(app, version, error, text):
    with pytest.raises(error, match=re.escape(text)) as caught:
        run(app, state='switched', version=version, restart=Restarts(app))
    assert served(app) == 'v1.3.0'
    details = caught.value.details
    assert (details['restarted'], details['from_version'], details['to_version']) == (False, 'v1.3.0', 'v1.3.0')


def test_previous_without_ledger_is_the_release_before_current(app):
    result = run(app, state='switched')
    assert (result['to_version'], result['rule']) == ('v1.2.9', 'release-before-current')


def test_previous_follows_the_ledger_and_again_stays(app):
    ledger = FileLedger.beside(str(app))
    ledger.record('v1.2.8', 'good')
    ledger.record('v1.2.9', 'bad')
    result = run(app, state='switched')
    assert (result['to_version'], result['rule']) == ('v1.2.8', 'ledger')
    ledger.record('v1.3.0', 'bad')
    assert run(app, state='switched')['changed'] is False


def test_listed_reports_releases_current_and_verdicts(app):
    ledger = FileLedger.beside(str(app))
    ledger.record('v1.2.9', 'good')
    ledger.record('v1.3.0', 'bad')
    result = run(app, state='listed')
    assert result['changed'] is False
    assert [(r['version'], r['complete'], r['current'], r['verdict']) for r in result['releases']] == [
        ('v1.2.8', True, False, None), ('v1.2.9', True, False, 'good'),
        ('v1.3.0', True, True, 'bad'), ('v1.3.1', False, False, None)]


def test_pruned_keeps_newest_and_current(app):
    run(app, state='switched', version='v1.2.8')
    plan = run(app, state='pruned', keep=2, check_mode=True)
    assert plan['removed'] == ['v1.2.9'] and (app / 'releases' / 'v1.2.9').is_dir()
    result = run(app, state='pruned', keep=2)
    assert sorted(os.listdir(str(app / 'releases'))) == ['v1.2.8', 'v1.3.0', 'v1.3.1']
    assert served(app) == 'v1.2.8' and result['changed'] is True
    assert run(app, state='pruned', keep=2)['changed'] is False


@pytest.mark.parametrize('layout, text', [
    ('directory', 'not a symbolic link'),
    ('outside', 'outside'),
])
def test_current_that_is_not_a_release_link_is_refused(app, layout, text):
    os.unlink(str(app / 'current'))
    if layout == 'directory':
        (app / 'current').mkdir()
    else:
        os.symlink('/tmp', str(app / 'current'))
    with pytest.raises(RollbackError, match=text):
        run(app, state='switched', version='v1.2.9')


def test_absolute_links_from_other_tools_are_read(app):
    os.unlink(str(app / 'current'))
    os.symlink(str(app / 'releases' / 'v1.2.9'), str(app / 'current'))
    assert run(app, state='listed')['from_version'] == 'v1.2.9'


def test_current_is_never_missing_while_switching(app):
    """1,000 switches while a reader resolves current: it always finds a release."""
    tree = ReleaseTree(str(app))
    stop = threading.Event()
    missing = []

    def reader():
        while not stop.is_set():
            try:
                os.stat(str(app / 'current' / 'VERSION'))
            except FileNotFoundError:
                missing.append(1)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(1000):
            tree.switch('v1.2.9' if i % 2 else 'v1.2.8')
    finally:
        stop.set()
        thread.join()
    assert missing == []
    assert not [name for name in os.listdir(str(app)) if name.startswith('.current.tmp')]


class Restarts:
    """Stands in for the restart command (a process on a real host); records what it saw."""

    def __init__(self, app, rc=0):
        self.app, self.rc, self.saw = app, rc, []

    def __call__(self, argv, timeout):
        assert (argv, timeout) == (['/usr/bin/systemctl', 'restart', 'demo'], 120)
        self.saw.append(served(self.app))
        return self.rc, '', 'unit demo.service not found' if self.rc else ''


def test_switch_restarts_once_and_again_does_not(app):
    restart = Restarts(app)
    result = run(app, state='switched', version='v1.2.9', restart=restart)
    assert (result['changed'], result['restarted'], restart.saw) == (True, True, ['v1.2.9'])
    result = run(app, state='switched', version='v1.2.9', restart=restart)
    assert (result['changed'], result['restarted'], restart.saw) == (False, False, ['v1.2.9'])


def test_failed_restart_points_current_back(app):
    with pytest.raises(RollbackError, match='current points back at v1.3.0, which is still running') as caught:
        run(app, state='switched', version='v1.2.9', restart=Restarts(app, rc=5))
    assert 'unit demo.service not found' in caught.value.msg
    assert served(app) == 'v1.3.0'
    # Nothing pending: the next run starts from a clean state.
    assert run(app, state='switched', version='v1.3.0', restart=Restarts(app))['changed'] is False


def test_interrupted_switch_restarts_on_the_next_run(app):
    # The previous run switched, then died before its restart finished.
    tree = ReleaseTree(str(app))
    tree.mark_restart_pending('v1.3.0')
    tree.switch('v1.2.9')
    restart = Restarts(app)
    result = run(app, state='switched', version='v1.2.9', restart=restart)
    assert (result['changed'], result['restarted'], restart.saw) == (True, True, ['v1.2.9'])
    assert run(app, state='switched', version='v1.2.9', restart=restart)['changed'] is False


def test_check_mode_plans_the_restart_without_running_it(app):
    restart = Restarts(app)
    result = run(app, state='switched', version='v1.2.9', restart=restart, check_mode=True)
    assert (result['restarted'], restart.saw, served(app)) == (True, [], 'v1.3.0')


# --- health gate, against the real local HTTP server (tests/unit/plugins/conftest.py) ---

def _checker(url, **kwargs):
    return checker_from_params(dict(dict(endpoints=[{'url': url}], retries=2, delay=0, timeout=2, successes=1,
                                         use_proxy=False), **kwargs))


def test_health_gate_passes_after_the_switch_and_again(app, server):
    result = run(app, state='switched', version='v1.2.9', restart=Restarts(app), health=_checker(server + '/health'))
    assert (served(app), result['health']['passed'], result['health']['rounds']) == ('v1.2.9', True, 1)
    # Already there: nothing changes, but the gate still proves the release healthy.
    with pytest.raises(RollbackError, match='release tree .* runs v1.2.9, and it is not healthy'):
        run(app, state='switched', version='v1.2.9', health=_checker(server + '/error'))


def test_unhealthy_target_is_left_in_place_and_fails_loudly(app, server):
    with pytest.raises(RollbackError) as caught:
        run(app, state='switched', version='v1.2.9', restart=Restarts(app), health=_checker(server + '/error'))
    assert caught.value.msg.startswith(
        'the release tree {0} runs v1.2.9 since this run, and it is not healthy: Health check failed'.format(app))
    assert 'status 500, expected 200' in caught.value.msg
    details = caught.value.details
    assert (details['changed'], details['from_version'], details['to_version']) == (True, 'v1.3.0', 'v1.2.9')
    assert (details['health']['passed'], details['restarted']) == (False, True)
    assert served(app) == 'v1.2.9'


def test_check_mode_does_not_probe(app, closed_port_url):
    result = run(app, state='switched', version='v1.2.9', check_mode=True, health=_checker(closed_port_url))
    assert (result['changed'], 'health' in result, served(app)) == (True, False, 'v1.3.0')


def test_a_current_link_to_a_missing_release_is_reported_not_taken_for_a_version(app):
    os.unlink(str(app / 'current'))
    os.symlink('releases/v1.3.5', str(app / 'current'))
    listed = run(app, state='listed')
    assert (listed['current'], listed['current_missing']) == (None, 'v1.3.5')
    # Rolled back from the fleet's version, the phantom never reaches the ledger.
    switched = run(app, state='switched', version='v1.2.9', rolled_back_from='v1.3.0')
    assert (switched['from_version'], switched['to_version']) == (None, 'v1.2.9')
    assert FileLedger.beside(str(app)).verdicts() == {'v1.3.0': 'bad'}


# --- restarts as real processes: whatever happens, current never lies ---

def switch_restarting(app, argv, timeout=120, run_command=run_restart):
    """Switch v1.3.0 -> v1.2.9 with a real restart command; returns the failure."""
    driver = SymlinkDriver(ReleaseTree(str(app)), FileLedger.beside(str(app)), restart_command=argv,
                           restart_timeout=timeout, run_command=run_command)
    with pytest.raises(RollbackError) as caught:
        run_release_switch(driver, state='switched', version='v1.2.9')
    return caught.value


def assert_pointed_back(app, failure):
    """current points back at v1.3.0, no restart is pending, and the failure says so."""
    assert os.readlink(str(app / 'current')) == 'releases/v1.3.0'
    assert not os.path.lexists(str(app / '.current.restart-pending'))
    assert '{0}/current points back at v1.3.0'.format(app) in failure.msg
    details = failure.details
    assert (details['restarted'], details['from_version'], details['to_version']) == (False, 'v1.3.0', 'v1.3.0')


def _script(path, text, mode):
    path.write_text(text)
    path.chmod(mode)
    return str(path)


@pytest.mark.parametrize('make, texts', [
    (lambda app: [str(app / 'bin' / 'demo-restart')],
     ['could not be executed: {app}/bin/demo-restart: No such file or directory. ', 'which is still running',
      'Fix restart_command: its first item must be an executable file']),
    (lambda app: [_script(app / 'demo-restart', '#!/bin/sh\nexit 0\n', 0o644)],
     ['could not be executed: {app}/demo-restart: Permission denied (the file is not executable). ']),
    (lambda app: [_script(app / 'demo-restart', '#!/nonexistent/python9\n', 0o755)],
     ['could not be executed: {app}/demo-restart: No such file or directory (the file exists, so the '
      'interpreter its #! line names does not)']),
    (lambda app: ['/usr/local/bin/demo-restart --now'],
     ["could not be executed: /usr/local/bin/demo-restart --now: No such file or directory. ",
      "restart_command must be an argument list, one item per argument, for example "
      "['/usr/bin/systemctl', 'restart', 'demo'], not one string with spaces"]),
], ids=['missing', 'not-executable', 'missing-interpreter', 'one-string-with-spaces'])
def test_a_restart_that_cannot_be_executed_points_current_back(app, make, texts):
    failure = switch_restarting(app, make(app))
    assert_pointed_back(app, failure)
    assert failure.msg.startswith('Restart after switching {0}/current to v1.2.9 failed: the restart command '
                                  'could not be executed: '.format(app))
    for text in texts:
        assert text.format(app=app) in failure.msg
    assert failure.details['rc'] is None
    assert served(app) == 'v1.3.0'


def test_a_restart_that_exits_non_zero_points_current_back(app):
    # The command sees current switched (its stdout), then current is pointed back.
    failure = switch_restarting(app, [sys.executable, '-c', 'import os, sys; print(os.readlink(sys.argv[1])); '
                                      'sys.exit("unit demo.service not found")', str(app / 'current')])
    assert_pointed_back(app, failure)
    assert '(rc=1): unit demo.service not found. ' in failure.msg
    assert 'which is still running. Fix the restart command or the release' in failure.msg
    assert (failure.details['rc'], failure.details['stdout']) == (1, 'releases/v1.2.9\n')


# The restart: starts a child, then hangs. Each writes its pid once it is
# ready, ignoring SIGTERM if told to, so that only SIGKILL ends it.
_HANG = """
import os, signal, subprocess, sys, time
role, pids, stubborn = sys.argv[1], sys.argv[2], sys.argv[3]
if role in stubborn.split(','):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if role == 'leader':
    subprocess.Popen([sys.executable, '-c', sys.argv[4], 'child', pids, stubborn, ''])
    print('stopping demo', flush=True)
with open(os.path.join(pids, role), 'w') as handle:
    handle.write(str(os.getpid()))
time.sleep(60)
"""


def _alive(pid):
    """Running (a zombie is dead: only its exit status is left for its parent)."""
    try:
        with open('/proc/{0}/stat'.format(pid)) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] not in ('Z', 'X')
    except FileNotFoundError:
        return False


@pytest.mark.parametrize('stubborn', ['', 'child', 'leader,child'])
def test_a_restart_that_hangs_is_killed_with_its_children_and_current_points_back(app, tmp_path_factory, stubborn):
    pids = tmp_path_factory.mktemp('pids')
    grace = 1
    failure = switch_restarting(app, [sys.executable, '-c', _HANG, 'leader', str(pids), stubborn, _HANG], timeout=1,
                                run_command=functools.partial(run_restart, grace=grace))
    assert_pointed_back(app, failure)
    assert 'was still running after restart_timeout=1 s, so it was killed after 1 s together with the processes ' \
           'it started (SIGTERM to its process group, then SIGKILL); its output: stopping demo. ' in failure.msg
    assert 'which ran before the switch; the killed restart may have stopped it, so check that it runs. ' \
           'Find out why the restart hangs, or raise restart_timeout' in failure.msg
    # rc None: killed at the timeout, not waited for.
    assert failure.details['rc'] is None
    killed = [int((pids / role).read_text()) for role in ('leader', 'child')]
    # SIGKILL is delivered at once, but an exit takes the kernel a moment.
    deadline = time.monotonic() + 2
    while any(_alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in killed if _alive(pid)] == []


def test_a_restart_that_leaves_a_daemon_running_returns_when_it_exits(tmp_path):
    """The daemon keeps the command's stdout open; the restart is done when the command exits, not at its EOF."""
    rc, out, err = run_restart(['/bin/sh', '-c', 'sleep 30 & echo $! > "$0"; echo started', str(tmp_path / 'pid')],
                               timeout=10)
    daemon = int((tmp_path / 'pid').read_text())
    try:
        # rc 0, not None: it returned when the command exited, long before the 10 s timeout would kill it.
        assert (rc, out, err) == (0, 'started\n', '')
        assert _alive(daemon)
    finally:
        os.kill(daemon, signal.SIGKILL)


def test_restart_output_is_kept_to_its_end():
    rc, out, err = run_restart([sys.executable, '-c', 'import sys; sys.stdout.write("x" * 100000 + "end")'],
                               timeout=10)
    assert (rc, len(out), out[-3:], err) == (0, 64 * 1024, 'end', '')


@pytest.mark.parametrize('timeout', [0, -1, float('nan'), float('inf'), True, '5'])
def test_restart_timeout_must_be_positive_seconds(app, timeout):
    with pytest.raises(InvalidInputError, match=re.escape('Refusing restart_timeout={0!r}: it must be a number of '
                                                          'seconds more than zero'.format(timeout))):
        SymlinkDriver(ReleaseTree(str(app)), FileLedger.beside(str(app)), restart_command=['/bin/true'],
                      restart_timeout=timeout)


def test_a_real_restart_that_succeeds_is_reported(app):
    driver = SymlinkDriver(ReleaseTree(str(app)), FileLedger.beside(str(app)), restart_command=['/bin/true'],
                           restart_timeout=5)
    result = run_release_switch(driver, state='switched', version='v1.2.9')
    assert (result['restarted'], result['to_version'], served(app)) == (True, 'v1.2.9', 'v1.2.9')
    assert not os.path.lexists(str(app / '.current.restart-pending'))


def test_a_failed_restart_after_an_interrupted_run_points_back_at_what_still_runs(app):
    # The previous run switched to v1.2.9 and died before restarting: v1.3.0 still runs.
    tree = ReleaseTree(str(app))
    tree.mark_restart_pending('v1.3.0')
    tree.switch('v1.2.9')
    failure = switch_restarting(app, [str(app / 'bin' / 'demo-restart')])
    assert_pointed_back(app, failure)


def test_listing_with_a_lock_takes_it_first_and_refuses_another_runs(app):
    lock = {'owner': 'run-a', 'file': '.ops-rollback.lock', 'ttl': 60, 'force': False, 'holder': {'user': 'alice'}}
    assert run(app, state='listed', lock=lock, check_mode=True)['current'] == 'v1.3.0'
    assert not (app / '.ops-rollback.lock').exists()          # check mode takes no lock
    listed = run(app, state='listed', lock=lock)
    assert (listed['changed'], listed['lock']['owner'], listed['current']) == (True, 'run-a', 'v1.3.0')
    assert run(app, state='listed', lock=lock)['changed'] is False    # the same run again
    with pytest.raises(RollbackError) as caught:
        run(app, state='listed', lock=dict(lock, owner='run-b'))
    assert caught.value.msg.startswith('Another rollback is running here: run run-a by alice@?')
    assert caught.value.details['held_by']['owner'] == 'run-a'
