# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release tree, the symlink driver and release_switch on a real file system."""
from __future__ import annotations

import os
import re
import threading

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
)
from ansible_collections.ops.rollback.plugins.module_utils.health.checker import checker_from_params
from ansible_collections.ops.rollback.plugins.module_utils.release.driver import SymlinkDriver
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
    with pytest.raises(error, match=re.escape(text)):
        run(app, state='switched', version=version)
    assert served(app) == 'v1.3.0'


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

    def __call__(self, argv):
        assert argv == ['/usr/bin/systemctl', 'restart', 'demo']
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
    assert details['health']['passed'] is False
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
