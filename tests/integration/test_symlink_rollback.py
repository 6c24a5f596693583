# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback playbook on symlinked releases, against the lab's real hosts."""
from __future__ import annotations

import json
import re
import subprocess

ALL_BROKEN = {'lab1': 'v1.3.0', 'lab2': 'v1.3.0', 'lab3': 'v1.3.0'}
ALL_GOOD = {'lab1': 'v1.2.9', 'lab2': 'v1.2.9', 'lab3': 'v1.2.9'}


def recap_changed(output):
    return dict((h, int(c)) for h, c in re.findall(r'^(lab\d+)\s*:.*?changed=(\d+)', output, re.M))


def test_rollback_to_a_version_then_again(broken_fleet):
    lab = broken_fleet
    lab.forget_verdicts()   # so the verdicts below are this run's
    _rc, output = lab.rollback('-e', 'version=v1.2.9', '-e', 'reason="error rate 8%"')
    assert lab.served_all() == ALL_GOOD
    assert all(lab.current(h) == 'v1.2.9' for h in lab.names)
    # Every host recorded the version it left as bad when it switched; once
    # verified, the lead host recorded the target good for the service.
    assert lab.rollback_verdicts('lab1') == [('v1.3.0', 'bad'), ('v1.2.9', 'good')]
    assert lab.rollback_verdicts('lab2') == lab.rollback_verdicts('lab3') == [('v1.3.0', 'bad')]
    assert 'ops.rollback: error rate 8%' in lab.exec('lab1', 'cat', '/srv/demo/rollback-ledger.json')
    assert re.search(r'service demo: target v1\.2\.9 \(rule: explicit\) -> done', output)
    assert re.search(r'lab2\s+v1\.3\.0 -> v1\.2\.9\s+ok, restarted$', output, re.M)
    assert 'phase protect_data skipped: no service of this run sets rollback_migrations or rollback_databases' in output
    assert 'because an operator asked (error rate 8%)' in output
    timeline = lab.timeline()
    assert {r['phase'] for r in timeline if r['event'] == 'task'} >= {'preflight', 'roll_back', 'verify'}
    assert timeline[-1]['event'] == 'summary' and timeline[-1]['verdicts']['demo']['state'] == 'done'
    assert timeline[-1]['verdicts']['demo']['hosts']['lab1']['to_version'] == 'v1.2.9'
    assert not lab.locked()

    # Again, as the design card writes it (one service in the inventory, so no
    # -e service=): converges, changes nothing, never toggles back.
    _rc, output = lab.run('-e', 'version=v1.2.9')
    assert set(recap_changed(output).values()) == {0}
    assert lab.served_all() == ALL_GOOD
    # And again without a version: previous is the version already running.
    _rc, output = lab.rollback()
    assert set(recap_changed(output).values()) == {0}
    assert lab.served_all() == ALL_GOOD


def test_check_mode_prints_the_plan_and_changes_nothing(broken_fleet):
    lab = broken_fleet
    ledgers = [lab.ledger(h) for h in lab.names]
    _rc, output = lab.rollback('-e', 'version=v1.2.9', '--check', '--diff')
    assert 'current -> /srv/demo/releases/v1.2.9' in output   # the diff of the switch
    assert 'check mode: plan only' in output
    assert lab.served_all() == ALL_BROKEN
    assert [lab.current(h) for h in lab.names] == ['v1.3.0'] * 3
    assert [lab.ledger(h) for h in lab.names] == ledgers


def test_previous_follows_the_ledger(lab):
    # v1.2.9 landed but never passed verification: previous skips it.
    lab.reset()
    lab.deploy('v1.2.8')
    lab.deploy('v1.2.9', broken=True)
    lab.deploy('v1.3.0', broken=True)
    _rc, output = lab.rollback()
    assert 'target v1.2.8 (rule: ledger)' in output
    assert set(lab.served_all().values()) == {'v1.2.8'}


def test_previous_without_ledger_is_the_release_before_current(broken_fleet):
    lab = broken_fleet
    for host in lab.names:
        lab.exec(host, 'rm', '/srv/demo/rollback-ledger.json')
    _rc, output = lab.rollback()
    assert 'target v1.2.9 (rule: release-before-current)' in output
    assert lab.served_all() == ALL_GOOD


def assert_nothing_changed(lab):
    assert lab.served_all() == ALL_BROKEN
    assert [lab.current(h) for h in lab.names] == ['v1.3.0'] * 3
    assert all('v1.3.0' not in lab.ledger(h) for h in lab.names)


def test_bad_inputs_fail_clearly_and_change_nothing(broken_fleet):
    lab = broken_fleet
    cases = [
        (['-e', 'version=../v1.2.9'], 'Refusing version'),
        (['-e', 'version=v1.2.9;reboot'], 'Refusing version'),
        (['-e', 'version=v9.9.9'], 'Cannot roll back service demo to v9.9.9: no such version in its history '
                                   '(available: v1.2.8, v1.2.9, v1.3.0)'),
        (['-e', 'version='], '-e version= is empty (an unset shell variable?)'),
        (['-e', 'version=v1.2.9', '-e', 'rollback_serial=0'], "rollback_serial '0' is not a batch size"),
        (['-e', 'version=v1.2.9', '-e', 'rollback_serial=abc'], "rollback_serial 'abc' is not a batch size"),
        (['-e', 'version=v1.2.9', '-e', 'rollback_max_fail_percentage=150'],
         "rollback_max_fail_percentage '150' must be a percentage"),
    ]
    for args, message in cases:
        _rc, output = lab.rollback(*args, expect_rc=2)
        assert message in output, output[-3000:]
    _rc, output = lab.run('-e', 'service=nosuch', expect_rc=2)
    # The lab's inventory has the demo service and its load balancer's group.
    assert '-e service=nosuch names no host or group of the inventory (groups: demo, lb)' in output, output[-3000:]
    assert_nothing_changed(lab)


def test_release_without_marker_is_refused(broken_fleet):
    lab = broken_fleet
    for host in lab.names:
        lab.exec(host, 'rm', '/srv/demo/releases/v1.2.9/REVISION')
    _rc, output = lab.rollback('-e', 'version=v1.2.9', expect_rc=2)
    assert ('to v1.2.9: it is not deployable on 3 of 3 hosts (lab1, lab2, lab3): on lab1, the release '
            '/srv/demo/releases/v1.2.9 has no REVISION marker') in output
    assert_nothing_changed(lab)


def test_unreachable_host_before_any_change_stops_everything(broken_fleet):
    lab = broken_fleet
    subprocess.run(['/usr/bin/docker', 'stop', '-t', '0', lab.container('lab3')], check=True)
    try:
        rc, output = lab.rollback('-e', 'version=v1.2.9', expect_rc=None)
    finally:
        lab.revive('lab3')
    assert rc != 0 and 'UNREACHABLE' in output
    assert_nothing_changed(lab)


def test_failing_restart_stops_at_the_first_batch_and_points_back(broken_fleet):
    lab = broken_fleet
    _rc, output = lab.rollback('-e', 'version=v1.2.9', '-e', '{"symlink_restart_command": ["/bin/false"]}', expect_rc=2)
    assert 'which is still running' in output
    assert re.search(r'lab1\s+v1\.3\.0 -> v1\.3\.0\s+FAILED', output)
    assert re.search(r'lab2\s+v1\.3\.0 -> v1\.3\.0\s+not reached', output)
    assert lab.served_all() == ALL_BROKEN
    assert [lab.current(h) for h in lab.names] == ['v1.3.0'] * 3
    # lab1 had begun leaving v1.3.0, so it recorded it as bad before switching.
    assert lab.rollback_verdicts('lab1') == [('v1.3.0', 'bad')]
    assert lab.rollback_verdicts('lab2') == lab.rollback_verdicts('lab3') == []


def test_unhealthy_target_is_left_in_place_and_stops_at_the_first_batch(broken_fleet):
    lab = broken_fleet
    for host in lab.names:   # v1.2.8 turns out to be broken too
        lab.exec(host, 'touch', '/srv/demo/releases/v1.2.8/BROKEN')
    _rc, output = lab.rollback('-e', 'version=v1.2.8', '-e', 'rollback_health_retries=3', expect_rc=2)
    assert 'the release tree /srv/demo runs v1.2.8 since this run, and it is not healthy' in output
    assert 'http://127.0.0.1:8000/health: status 500, expected 200' in output
    # lab1 runs the unhealthy target, as the summary says; the others were not touched.
    assert re.search(r'lab1\s+v1\.3\.0 -> v1\.2\.8\s+FAILED', output), output[-3000:]
    assert re.search(r'lab2\s+v1\.3\.0 -> v1\.3\.0\s+not reached', output)
    assert (lab.current('lab1'), lab.current('lab2'), lab.current('lab3')) == ('v1.2.8', 'v1.3.0', 'v1.3.0')
    assert lab.served('lab1') == 'v1.2.8'
    # lab1 left v1.3.0, so says it is bad; nothing was verified, so nothing is newly good.
    assert lab.rollback_verdicts('lab1') == [('v1.3.0', 'bad')]
    assert lab.rollback_verdicts('lab2') == lab.rollback_verdicts('lab3') == []


def test_host_lost_mid_run_then_rerun_converges(broken_fleet):
    lab = broken_fleet
    stopped = []

    def stop_lab3_once_batches_start(line):
        if line.startswith('TASK [ops.rollback.roll_back : Roll back batch by batch]') and not stopped:
            subprocess.run(['/usr/bin/docker', 'stop', '-t', '0', lab.container('lab3')], check=True)
            stopped.append(True)

    rc, output = lab.rollback('-e', 'version=v1.2.9', expect_rc=None, on_line=stop_lab3_once_batches_start)
    assert rc != 0 and stopped
    assert re.search(r'service demo: target v1\.2\.9 \(rule: explicit\) -> FAILED: 1 of 1 hosts of batch 3 failed '
                     r'\(lab3\)', output), output[-3000:]
    assert re.search(r'lab3\s+v1\.3\.0 -> v1\.3\.0\s+not reached', output)
    assert (lab.served('lab1'), lab.served('lab2')) == ('v1.2.9', 'v1.2.9')
    # Not verified as a whole, so nothing is recorded as good yet; the hosts
    # that switched recorded the version they left.
    assert lab.rollback_verdicts('lab1') == lab.rollback_verdicts('lab2') == [('v1.3.0', 'bad')]
    assert lab.rollback_verdicts('lab3') == []
    # The run stopped, but through its always section: the lock is released.
    assert not lab.locked()

    # The host comes back; the same command converges.
    lab.revive('lab3')
    _rc, output = lab.rollback('-e', 'version=v1.2.9')
    assert lab.served_all() == ALL_GOOD
    assert not lab.locked()


def test_second_rollback_of_the_service_is_refused_while_one_runs(broken_fleet):
    lab = broken_fleet
    other_run = {'owner': 'other-run', 'holder': {'user': 'alice', 'controller': 'awx-7', 'pid': 4242},
                 'acquired_at': '2026-11-23T03:00:00Z', 'expires_at': '2099-01-01T00:00:00Z'}
    lab.exec('lab1', 'sh', '-c', "printf '%s' '{0}' > /srv/demo/.ops-rollback.lock".format(json.dumps(other_run)))
    _rc, output = lab.rollback('-e', 'version=v1.2.9', expect_rc=2)
    assert 'Another rollback is running here: run other-run by alice@awx-7' in output
    assert_nothing_changed(lab)
    assert json.loads(lab.exec('lab1', 'cat', '/srv/demo/.ops-rollback.lock'))['owner'] == 'other-run'

    # Once the operator knows that run is gone, forcing takes the lock over.
    _rc, output = lab.rollback('-e', 'version=v1.2.9', '-e', 'rollback_lock_force=true')
    assert 'Took over the lock /srv/demo/.ops-rollback.lock from run other-run' in output
    assert lab.served_all() == ALL_GOOD
    assert not lab.locked()
