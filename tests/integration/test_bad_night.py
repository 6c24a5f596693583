# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A rollback on a bad night, on the lab's real hosts: two runs at once on the
same hosts, an operator's Ctrl-C or a SIGTERM mid-batch, bad settings, a bad
version asked for, releases missing on some hosts, broken ledger and lock files."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading

import pytest
import yaml

# Not imported from conftest: with the unit tests in the same run, "conftest" may name another one.
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
INVENTORY = os.path.join(REPO, 'inventory', 'lab', 'hosts.yml')
ALL_BROKEN = {'lab1': 'v1.3.0', 'lab2': 'v1.3.0', 'lab3': 'v1.3.0'}
ALL_GOOD = {'lab1': 'v1.2.9', 'lab2': 'v1.2.9', 'lab3': 'v1.2.9'}
# A restart slow enough that a second run starts while the first one still holds its hosts.
SLOW_RESTART = '{"symlink_restart_command": ["/bin/sh", "-c", "sleep 6; exec /usr/local/bin/demo-restart"]}'


def start(lab, *args):
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), 'ops.rollback.rollback'] + list(args)
    return subprocess.Popen(command, cwd=REPO, env=lab.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def read_until(proc, prefix, lines):
    """Collect ``proc``'s output into ``lines`` until a line starts with ``prefix``; whether it came."""
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(prefix):
            return True
    return False


def reversed_inventory(tmp_path, hosts):
    """The lab's hosts in another order, in a group of another name: another operator's inventory."""
    with open(INVENTORY) as handle:
        demo = yaml.safe_load(handle)['all']['children']['demo']
    group = {'hosts': dict((h, demo['hosts'][h]) for h in hosts),
             'vars': dict(demo['vars'], rollback_service='orders')}
    path = tmp_path / 'other.yml'
    path.write_text(yaml.safe_dump({'all': {'children': {'orders': group}}}, sort_keys=False))
    return str(path)


def test_two_runs_on_the_same_hosts_never_run_at_once(broken_fleet, tmp_path):
    lab = broken_fleet
    first = start(lab, '-e', 'version=v1.2.9', '-e', 'rollback_serial=1', '-e', SLOW_RESTART)
    first_lines = []
    assert read_until(first, 'TASK [ops.rollback.roll_back : Halt the next batches', first_lines), ''.join(first_lines)
    first_id = lab.locks()['lab3']

    # While the first run works through its batches: the same hosts by another
    # inventory (another order, another group), and one host of them by name.
    _rc, other = lab.run('-i', reversed_inventory(tmp_path, ['lab3', 'lab2']), '-e', 'version=v1.2.8', expect_rc=2)
    _rc, one_host = lab.run('-e', 'service=lab3', '-e', 'version=v1.2.8', expect_rc=2)
    for output in (other, one_host):
        assert re.search(r'-> refused: lab[23]: Another rollback is running here: run {0} by '.format(first_id), output), \
            output[-3000:]
        assert 'Nothing was changed.' in output
    # The refused runs released what they took and left the first run's locks alone.
    assert set(lab.locks().values()) <= {first_id}

    first_lines.extend(first.stdout)
    assert first.wait() == 0, ''.join(first_lines)[-3000:]
    assert 'service demo: target v1.2.9 (rule: explicit) -> done' in ''.join(first_lines)
    assert lab.served_all() == ALL_GOOD     # never v1.2.8: the second runs changed nothing
    assert lab.locks() == {}


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_interrupted_mid_batch_finishes_the_batch_releases_and_reports(broken_fleet, signum):
    lab = broken_fleet
    name = signal.Signals(signum).name
    proc = start(lab, '-e', 'version=v1.2.9', '-e', 'rollback_serial=1', '-e', SLOW_RESTART)
    lines = []
    # During batch 2's slow restart, as an operator's Ctrl-C (SIGINT) or a systemd stop (SIGTERM) would.
    assert read_until(proc, 'TASK [ops.rollback.symlink : Switch current, restart and check health', lines)
    assert read_until(proc, 'TASK [ops.rollback.symlink : Switch current, restart and check health', lines)
    threading.Timer(2, proc.send_signal, [signum]).start()
    lines.extend(proc.stdout)
    output = ''.join(lines)
    assert proc.wait() != 0

    assert '[ops.rollback] {0} received'.format(name) in output
    assert 'interrupted: {0} received; no batch started after it'.format(name) in output   # in the summary
    # Batch 2 (lab2) finished its step; batch 3 never started.
    assert re.search(r'-> FAILED: the run was interrupted \({0}\) before batch 3 of 3'.format(name), output), \
        output[-3000:]
    assert lab.served_all() == {'lab1': 'v1.2.9', 'lab2': 'v1.2.9', 'lab3': 'v1.3.0'}
    assert re.search(r'lab3\s+v1\.3\.0 -> v1\.3\.0\s+not reached', output)
    assert lab.locks() == {}

    _rc, output = lab.run('-e', 'version=v1.2.9')
    assert lab.served_all() == ALL_GOOD and lab.locks() == {}


@pytest.mark.parametrize('setting, words', [
    ('version=', '-e version= is empty'),
    ('rollback_serial=0', "rollback_serial '0' is not a batch size"),
    ('rollback_serial=-1', "rollback_serial '-1' is not a batch size"),
    ('rollback_serial=many', "rollback_serial 'many' is not a batch size"),
    ('rollback_max_fail_percentage=150', "rollback_max_fail_percentage '150' must be a percentage"),
    ('rollback_lock_ttl=soon', "rollback_lock_ttl 'soon' must be a whole number of seconds"),
    ('rollback_health_retries=' + 'x' * 500, "rollback_health_retries 'xxxxxxxx"),
])
def test_bad_settings_are_refused_before_any_host_is_touched(broken_fleet, setting, words):
    lab = broken_fleet
    _rc, output = lab.run('-e', setting, expect_rc=2)
    assert words in output and 'Nothing was changed.' in output
    assert 'x' * 100 not in output      # a long value is echoed shortened
    # Refused on the controller: the play over the hosts never started, so no host was locked.
    assert 'PLAY [Roll back' not in output
    assert lab.served_all() == ALL_BROKEN and lab.locks() == {}


@pytest.mark.parametrize('setting, words', [
    ('{"symlink_restart_command": "/usr/local/bin/demo-restart --now"}',
     'symlink_restart_command must be an argument list'),
    ('{"symlink_restart_timeout": 0}', 'symlink_restart_timeout 0 must be a number of seconds above 0'),
    ('{"symlink_health_endpoints": "http://127.0.0.1:8000/health"}', 'symlink_health_endpoints'),
])
def test_bad_platform_settings_are_refused_before_any_lock(broken_fleet, setting, words):
    lab = broken_fleet
    _rc, output = lab.run('-e', 'version=v1.2.9', '-e', setting, expect_rc=2)
    assert re.search(r'-> refused: lab\d: .*{0}'.format(re.escape(words)), output, re.S), output[-3000:]
    # Refused by the check before the state read, which is where locks are taken.
    assert 'TASK [ops.rollback.symlink : Take this host' not in output
    assert lab.served_all() == ALL_BROKEN and lab.locks() == {}


def test_a_version_recorded_bad_is_refused_unless_allowed(broken_fleet):
    lab = broken_fleet
    left_v128 = ('import json\n'
                 'path = "/srv/demo/rollback-ledger.json"\n'
                 'ledger = json.load(open(path))\n'
                 'ledger["entries"].append({"version": "v1.2.8", "state": "bad", "at": "2026-11-20T00:00:00Z", "note": "INC-7"})\n'
                 'json.dump(ledger, open(path, "w"))\n')
    for host in lab.names:   # an earlier rollback left v1.2.8
        lab.exec(host, 'python3', '-c', left_v128)
    _rc, output = lab.run('-e', 'version=v1.2.8', expect_rc=2)
    assert ('refused: Refusing to roll service demo back to v1.2.8: the release ledger records it as bad (a rollback '
            'left it on lab1, lab2, lab3)') in output
    assert lab.served_all() == ALL_BROKEN and lab.locks() == {}

    _rc, output = lab.run('-e', 'version=v1.2.8', '-e', 'rollback_allow_bad_version=true')
    assert 'NOTE: v1.2.8 is recorded as bad; rolling back to it anyway' in output
    assert lab.served_all() == {'lab1': 'v1.2.8', 'lab2': 'v1.2.8', 'lab3': 'v1.2.8'}
    # Verified now, so good again, and the ledger says it was forced.
    good = [e for e in lab.ledger_entries('lab1') if e['version'] == 'v1.2.8'][-1]
    assert good['state'] == 'good' and 'rollback_allow_bad_version' in good['note']


def test_previous_says_which_release_it_skipped_and_where(broken_fleet):
    lab = broken_fleet
    lab.exec('lab2', 'rm', '/srv/demo/releases/v1.2.9/REVISION')   # its deploy never finished there
    _rc, output = lab.run()
    assert ('NOTE: skipped v1.2.9: it is not deployable on 1 of 3 hosts (lab2): on lab2, the release '
            '/srv/demo/releases/v1.2.9 has no REVISION marker') in output
    assert 'service demo: target v1.2.8 (rule: ledger) -> done' in output
    assert re.search(r'^  NOTE: skipped v1\.2\.9: it is not deployable on 1 of 3 hosts \(lab2\)', output, re.M)  # summary
    assert set(lab.served_all().values()) == {'v1.2.8'}


def test_a_current_link_to_a_missing_release_is_said_and_never_recorded(broken_fleet):
    lab = broken_fleet
    lab.exec('lab2', 'ln', '-sfn', 'releases/v1.3.5', '/srv/demo/current')
    _rc, output = lab.run('-e', 'version=v1.2.9')
    assert 'NOTE: lab2: current points at v1.3.5, a release that does not exist' in output
    assert re.search(r'lab2\s+v1\.3\.5 \(missing release\) -> v1\.2\.9\s+ok', output), output[-3000:]
    assert lab.served_all() == ALL_GOOD
    assert all('v1.3.5' not in lab.ledger(h) for h in lab.names)


@pytest.mark.parametrize('path, content, words', [
    ('rollback-ledger.json', '[1, 2]', 'lab2: Cannot read the release ledger /srv/demo/rollback-ledger.json: it is not '
                                       'a JSON object with a list of "entries"'),
    ('.ops-rollback.lock', '{"owner":', 'lab2: The lock /srv/demo/.ops-rollback.lock is not one ops.rollback '
                                        'wrote'),
])
def test_malformed_ledger_and_lock_files_are_named_with_the_fix(broken_fleet, path, content, words):
    lab = broken_fleet
    lab.exec('lab2', 'sh', '-c', "printf '%s' '{0}' > /srv/demo/{1}".format(content, path))
    _rc, output = lab.run('-e', 'version=v1.2.9', expect_rc=2)
    assert '-> refused: ' + words in output, output[-3000:]
    assert 'Nothing was changed.' in output and "has no attribute" not in output and '?@?' not in output
    assert lab.served_all() == ALL_BROKEN
    assert set(lab.locks()) <= {'lab2'}     # only the planted file, if that is what was planted


def test_secrets_in_health_urls_never_reach_the_output_or_the_timeline(broken_fleet):
    lab = broken_fleet
    token, password = 'T0k3n-pl4nted-9f2c', 'pa55-pl4nted-77e1'
    healthy = {'rollback_health_endpoints': [
        {'url': 'http://127.0.0.1:8000/health?token=' + token, 'json_query': 'status', 'equals': 'ok'}]}
    _rc, output = lab.run('-vvv', '-e', 'version=v1.2.9', '-e', json.dumps(healthy))
    assert 'service demo: target v1.2.9 (rule: explicit) -> done' in output
    with open(lab.last_timeline) as handle:
        timeline = handle.read()
    assert token not in output and token not in timeline
    assert 'token=' in output   # the endpoint is still named, its secret masked
    assert os.stat(lab.last_timeline).st_mode & 0o777 == 0o600

    # Failing, the error says which endpoint failed, without its credentials.
    failing = {'rollback_health_endpoints': [{'url': 'http://ops:{0}@127.0.0.1:8000/missing?token={1}'.format(
        password, token)}], 'rollback_health_retries': 1}
    _rc, output = lab.run('-vvv', '-e', 'version=v1.2.8', '-e', json.dumps(failing), expect_rc=2)
    with open(lab.last_timeline) as handle:
        timeline = handle.read()
    assert 'FAILED on lab1' in output and '127.0.0.1:8000/missing' in output
    for secret in (password, token):
        assert secret not in output and secret not in timeline


@pytest.mark.parametrize('restart, words', [
    (['/usr/local/bin/demo-restrat'], 'the restart command could not be executed: /usr/local/bin/demo-restrat'),
    (['/bin/sh', '-c', 'sleep 60'], 'was still running after restart_timeout=2 s'),
])
def test_a_restart_that_cannot_run_or_hangs_points_back_and_stops(broken_fleet, restart, words):
    lab = broken_fleet
    settings = {'symlink_restart_command': restart, 'symlink_restart_timeout': 2}
    _rc, output = lab.run('-e', 'version=v1.2.9', '-e', json.dumps(settings), expect_rc=2)
    assert words in output, output[-3000:]
    # The summary says where lab1 was left: on the release still serving, not restarted.
    assert re.search(r'lab1\s+v1\.3\.0 -> v1\.3\.0\s+FAILED', output), output[-3000:]
    assert re.search(r'lab2\s+v1\.3\.0 -> v1\.3\.0\s+not reached', output)
    assert [lab.current(h) for h in lab.names] == ['v1.3.0'] * 3
    assert lab.served_all() == ALL_BROKEN and lab.locks() == {}
