# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback core as users meet it: hosts with python3 only, the README's
inventory example, several services in one run, and runs killed with -9."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess

import pytest
import yaml

# Not imported from conftest: with the unit tests in the same run, "conftest" may name another one.
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CACHE = os.environ.get('OPS_ROLLBACK_CACHE') or os.path.join(os.path.expanduser('~'), '.cache', 'ops-rollback')
INVENTORY = os.path.join(REPO, 'inventory', 'lab', 'hosts.yml')

ALL_GOOD = {'lab1': 'v1.2.9', 'lab2': 'v1.2.9', 'lab3': 'v1.2.9'}


def write_inventory(tmp_path, groups, common):
    """An inventory over the lab's hosts, with the lab's connection variables."""
    with open(INVENTORY) as handle:
        lab_inventory = yaml.safe_load(handle)['all']['children']['demo']
    connection = dict((k, v) for k, v in lab_inventory['vars'].items() if k.startswith('ansible_'))
    children = {}
    for group, (hosts, group_vars) in groups.items():
        children[group] = {'hosts': dict((h, lab_inventory['hosts'][h]) for h in hosts),
                           'vars': dict(connection, **common, **group_vars)}
    path = tmp_path / 'hosts.yml'
    path.write_text(yaml.safe_dump({'all': {'children': children}}))
    return str(path)


def test_managed_hosts_have_python3_and_nothing_more(lab):
    # What a real fleet has: the lab image must not carry jmespath (or any other
    # library) that would hide a new dependency of the collection.
    for host in lab.names:
        result = subprocess.run(['/usr/bin/docker', 'exec', lab.container(host), 'python3', '-c', 'import jmespath'],
                                capture_output=True, text=True, check=False)
        assert result.returncode != 0 and 'No module named' in result.stderr


def test_the_readme_inventory_example_rolls_back_python3_only_hosts(broken_fleet, tmp_path, webhook_receiver):
    """inventory/production/hosts.yml, with only its site-specific values (paths, ports, the database, the app's
    repository, the vault) pointed at the lab and the controller's PostgreSQL."""
    lab = broken_fleet
    subprocess.run(['bash', os.path.join(REPO, 'scripts', 'lab.sh'), 'data'], check=True, capture_output=True)
    with open(os.path.join(REPO, 'inventory', 'production', 'hosts.yml')) as handle:
        example = yaml.safe_load(handle)['all']['children']['checkout']['children']['order_service']['vars']
    site = json.loads(json.dumps(example).replace('8080', '8000'))
    site.update(symlink_path='/srv/demo', symlink_restart_command=['/usr/local/bin/demo-restart'])
    database = dict(login_host='127.0.0.1', login_user='postgres', db='ops_rollback_lab_demo')
    site['rollback_migrations'].update(database, repo=os.path.join(CACHE, 'lab', 'demo-app'), migrations_path='migrations')
    site['rollback_databases'][0].update(database, dest=str(tmp_path / 'backups'))
    # The example's checks as written: a json_query key with equals, a latency bound, the version URL.
    assert site['rollback_health_endpoints'][0]['json_query'] == 'status' and site['symlink_version_query']
    inventory = write_inventory(tmp_path, {'order_service': (lab.names, {})}, site)

    _rc, output = lab.run('-i', inventory, '-e', 'version=v1.2.9', '-e', 'vault_orders_db_password=',
                          '-e', 'vault_slack_incidents_webhook=' + webhook_receiver.url)
    assert re.search(r'service order-service: target v1\.2\.9 \(rule: explicit\) -> done', output), output[-3000:]
    assert lab.served_all() == ALL_GOOD
    # Its standing signals alone do not make the decision: an operator asked. Backed up, and the channel was told.
    assert 'because an operator asked' in output
    assert len([name for name in os.listdir(tmp_path / 'backups') if name.endswith('.json')]) == 1
    assert len(webhook_receiver.bodies) == 2 and 'v1.2.9' in webhook_receiver.bodies[0]['text']


def test_two_services_in_one_run_get_their_own_target_and_verdict(broken_fleet, tmp_path):
    lab = broken_fleet
    # The api service (lab3) once rolled back from v1.2.9: its previous is v1.2.8.
    lab.exec('lab3', '/bin/sh', '-c', 'printf %s \'{"entries": [{"version": "v1.2.9", "state": "bad", "at": '
             '"2026-11-20T00:00:00Z", "note": ""}]}\' > /srv/demo/rollback-ledger.json')
    with open(INVENTORY) as handle:
        common = dict((k, v) for k, v in yaml.safe_load(handle)['all']['children']['demo']['vars'].items()
                      if not k.startswith('ansible_') and k != 'rollback_service')
    inventory = write_inventory(tmp_path, {
        'web': (['lab1', 'lab2'], {'rollback_service': 'web'}),
        'api': (['lab3'], {'rollback_service': 'api'}),
    }, common)
    with open(inventory) as handle:
        tree = yaml.safe_load(handle)
    tree['all']['children'] = {'checkout': {'children': tree['all']['children']}}
    with open(inventory, 'w') as handle:
        yaml.safe_dump(tree, handle)

    # Several services and no -e service=: refused, listing them.
    _rc, output = lab.run('-i', inventory, expect_rc=2)
    assert 'The inventory holds 2 services (api, web): say which one to roll back with -e service=NAME' in output

    locks_seen = []

    def watch_locks(line):
        if line.startswith('TASK [ops.rollback.protect_data') and not locks_seen:
            locks_seen.extend(h for h in lab.names if subprocess.run(
                ['/usr/bin/docker', 'exec', lab.container(h), 'test', '-e', '/srv/demo/.ops-rollback.lock'],
                check=False).returncode == 0)

    _rc, output = lab.run('-i', inventory, '-e', 'service=checkout', on_line=watch_locks)
    assert 'service web: target v1.2.9 (rule: ledger) -> done' in output, output[-3000:]
    assert 'service api: target v1.2.8 (rule: release-before-current) -> done' in output
    assert lab.served_all() == {'lab1': 'v1.2.9', 'lab2': 'v1.2.9', 'lab3': 'v1.2.8'}
    # A lock on every host of both services, held while the run worked and released at the end.
    assert locks_seen == ['lab1', 'lab2', 'lab3']
    # Each host recorded what it left; api's lead host recorded its verified
    # target (web's, v1.2.9, was already good).
    assert lab.rollback_verdicts('lab3') == [('v1.3.0', 'bad'), ('v1.2.8', 'good')]
    assert lab.rollback_verdicts('lab1') == lab.rollback_verdicts('lab2') == [('v1.3.0', 'bad')]
    assert not [h for h in lab.names if subprocess.run(
        ['/usr/bin/docker', 'exec', lab.container(h), 'test', '-e', '/srv/demo/.ops-rollback.lock'],
        check=False).returncode == 0]


# Points at which the run is killed: after the lock is taken, after the first
# host switched, during verification, while recording the verdicts.
KILL_POINTS = [
    'TASK [ops.rollback.roll_back : Split the hosts into batches]',
    'TASK [ops.rollback.roll_back : Halt the next batches if this batch failed',
    'TASK [ops.rollback.verify : Check every host',
    'TASK [ops.rollback.symlink : Record the rollback in the release ledger',
]


@pytest.mark.parametrize('point', KILL_POINTS)
def test_killed_with_sigkill_then_the_same_command_converges(broken_fleet, point):
    lab = broken_fleet
    lab.forget_verdicts()   # so the verdicts at the end are the runs' own
    command = [os.path.join(os.path.dirname(os.sys.executable), 'ansible-playbook'), 'ops.rollback.rollback',
               '-e', 'version=v1.2.9']
    proc = subprocess.Popen(command, cwd=REPO, env=lab.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    killed = False
    for line in proc.stdout:
        if line.startswith(point):
            # kill -9 of ansible-playbook and its workers, as an OOM killer or a lost terminal would.
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
    proc.wait()
    assert killed, 'the run never reached {0}'.format(point)

    _rc, output = lab.run('-e', 'version=v1.2.9')
    assert 'service demo: target v1.2.9 (rule: explicit) -> done' in output, output[-3000:]
    assert lab.served_all() == ALL_GOOD
    assert not lab.locked()
    # The same ledger an uninterrupted run leaves: v1.3.0 bad on every host,
    # v1.2.9 verified good once, by the lead host.
    assert [v for v in lab.rollback_verdicts('lab1') if v[1] == 'good'] == [('v1.2.9', 'good')]
    assert all(('v1.3.0', 'bad') in lab.rollback_verdicts(h) for h in lab.names)
    assert all(v[1] == 'bad' for h in ('lab2', 'lab3') for v in lab.rollback_verdicts(h))
