# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback playbook's decide, announce, protect_data and report phases on
the lab: the decision rules, the migration check against the app's real git
repository and the database's own table, a verified backup in the
controller's real PostgreSQL, webhooks received by a real HTTP server, and
the incident report."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CACHE = os.environ.get('OPS_ROLLBACK_CACHE') or os.path.join(os.path.expanduser('~'), '.cache', 'ops-rollback')
LAB_DB = 'ops_rollback_lab_demo'
DRILL_VARS = '@' + os.path.join(REPO, 'lab', 'drill.yml')
ALL_BROKEN = {'lab1': 'v1.3.0', 'lab2': 'v1.3.0', 'lab3': 'v1.3.0'}
ALL_GOOD = {'lab1': 'v1.2.9', 'lab2': 'v1.2.9', 'lab3': 'v1.2.9'}


def psql(db, sql):
    return subprocess.run(['psql', '-X', '-At', '-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-c', sql],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def lab_data(broken_fleet, tmp_path):
    """The broken fleet with the demo app's database (1000 orders, at v1.3.0's schema) and repository."""
    subprocess.run(['bash', os.path.join(REPO, 'scripts', 'lab.sh'), 'data'], check=True, capture_output=True)
    broken_fleet.report_dir = str(tmp_path / 'reports')
    broken_fleet.backup_dir = str(tmp_path / 'backups')
    return broken_fleet


def drill(lab, *args, expect_rc=0):
    return lab.rollback('-e', DRILL_VARS, '-e', 'rollback_report_dir=' + lab.report_dir,
                        '-e', json.dumps({'rollback_databases': [{
                            'engine': 'postgresql', 'login_host': '127.0.0.1', 'login_user': 'postgres',
                            'db': LAB_DB, 'dest': lab.backup_dir}]}),
                        *args, expect_rc=expect_rc)


def report(lab, incident):
    with open(os.path.join(lab.report_dir, incident + '.json')) as handle:
        document = json.load(handle)
    with open(os.path.join(lab.report_dir, incident + '.md')) as handle:
        return document, handle.read()


def test_decide_back_up_roll_back_and_report(lab_data, webhook_receiver):
    receiver = webhook_receiver
    lab = lab_data
    channels = {'rollback_notify_channels': [{'type': 'webhook', 'url': receiver.url}]}
    _rc, output = drill(lab, '-e', 'version=v1.2.9', '-e', 'severity=critical', '-e', '{"signals": {"error_rate": 8}}',
                        '-e', 'incident_id=INC-T1', '-e', json.dumps(channels), '-e', 'reason="error rate 8%"')
    assert lab.served_all() == ALL_GOOD
    assert not lab.locked()

    # The backup was taken before the switch, verified, and restores to the same 1000 orders.
    backups = [name for name in os.listdir(lab.backup_dir) if 'INC-T1' in name and not name.endswith('.json')]
    assert len(backups) == 1, os.listdir(lab.backup_dir)
    path = os.path.join(lab.backup_dir, backups[0])
    psql('postgres', 'DROP DATABASE IF EXISTS ops_rollback_restored')
    psql('postgres', 'CREATE DATABASE ops_rollback_restored')
    try:
        subprocess.run(['pg_restore', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'ops_rollback_restored', path],
                       check=True, capture_output=True)
        assert psql('ops_rollback_restored', 'SELECT count(*) FROM orders') == '1000'
    finally:
        psql('postgres', 'DROP DATABASE IF EXISTS ops_rollback_restored')
    with open(path, 'rb') as handle:
        sha256 = hashlib.sha256(handle.read()).hexdigest()

    # The report says what was decided, checked, backed up and done.
    document, markdown = report(lab, 'INC-T1')
    service = document['services']['demo']
    assert service['to_version'] == 'v1.2.9' and service['from_version'] == 'v1.3.0'
    assert service['decision']['decision'] == 'rollback_now'
    assert any('error rate' in words.lower() for words in service['decision']['reasons'])
    assert service['migrations']['recommendation'] == 'safe'
    assert service['backups'][0]['sha256'] == sha256 and service['backups'][0]['verified'] is True
    assert service['state'] == 'done' and service['do_not_redeploy'] == ['v1.3.0']
    for words in ('INC-T1', 'v1.3.0', 'v1.2.9', sha256, 'rollback_now', 'Root cause', 'do not redeploy'):
        assert words.lower() in markdown.lower(), words

    # The ledger marks the version rolled back from as bad, with the incident.
    bad = [e for e in lab.ledger_entries('lab2') if e['version'] == 'v1.3.0' and e['note'].startswith('ops.rollback:')]
    assert bad and 'INC-T1' in bad[-1]['note'] and 'do not redeploy' in bad[-1]['note']

    # The channel heard the start and the end, and the URL's secret never reached the output.
    events = [body.get('event') for body in receiver.bodies]
    assert events == ['started', 'completed'], receiver.bodies
    assert receiver.bodies[0]['context']['to_version'] == 'v1.2.9'
    assert 's3cr3t-t0ken-value' not in output

    # Again: nothing to change, so no backup, no message, changed=0.
    before = sorted(os.listdir(lab.backup_dir))
    _rc, output = drill(lab, '-e', 'version=v1.2.9', '-e', json.dumps(channels))
    assert sorted(os.listdir(lab.backup_dir)) == before
    assert len(receiver.bodies) == 2
    assert 'changed=1' not in output


def test_rules_that_advise_against_stop_the_run_until_forced(lab_data):
    lab = lab_data
    low = json.dumps({'signals': {'severity': 'low', 'data_impact': 'none'}})
    _rc, output = drill(lab, '-e', 'version=v1.2.9', '-e', low, '-e', 'incident_id=INC-T2', expect_rc=2)
    assert lab.served_all() == ALL_BROKEN
    assert not lab.locked()
    assert 'fix_forward' in output and '-e force=true' in output
    assert not os.path.isdir(lab.backup_dir) or os.listdir(lab.backup_dir) == []
    document, _markdown = report(lab, 'INC-T2')
    assert document['services']['demo']['decision']['decision'] == 'fix_forward'

    _rc, output = drill(lab, '-e', 'version=v1.2.9', '-e', low, '-e', 'force=true',
                        '-e', 'reason="customer escalation"', '-e', 'incident_id=INC-T3')
    assert lab.served_all() == ALL_GOOD
    document, _markdown = report(lab, 'INC-T3')
    assert document['services']['demo']['decision']['forced'] is True


def test_an_irreversible_migration_stops_the_rollback_before_anything_changes(lab_data):
    lab = lab_data
    repo = os.path.join(CACHE, 'lab', 'demo-app')
    git = ['git', '-C', repo]
    # v1.3.0 dropped a column the older app reads, and cannot be undone.
    subprocess.run(git + ['tag', '-d', 'v1.3.0'], check=True, capture_output=True)
    subprocess.run(git + ['rm', '-q', 'migrations/2_add_order_note.down.sql'], check=True)
    with open(os.path.join(repo, 'migrations', '2_add_order_note.up.sql'), 'w') as handle:
        handle.write('ALTER TABLE orders DROP COLUMN amount;\n')
    subprocess.run(git + ['commit', '-qam', 'v1.3.0: drop amount'], check=True)
    subprocess.run(git + ['tag', 'v1.3.0'], check=True)

    _rc, output = drill(lab, '-e', 'version=v1.2.9', '-e', 'incident_id=INC-T4', expect_rc=2)
    assert lab.served_all() == ALL_BROKEN
    assert not lab.locked()
    assert 'fix_forward' in output and 'drops column orders.amount' in output
    document, _markdown = report(lab, 'INC-T4')
    # The dropped column's data is gone: only a restore brings the schema back, so the rules say fix forward.
    assert document['services']['demo']['migrations']['recommendation'] == 'restore_database'
    assert document['services']['demo']['decision']['decision'] == 'fix_forward'
    assert not os.path.isdir(lab.backup_dir) or os.listdir(lab.backup_dir) == []


def test_a_failed_backup_stops_the_rollback_before_anything_changes(lab_data):
    lab = lab_data
    missing = {'rollback_databases': [{'engine': 'postgresql', 'login_host': '127.0.0.1', 'login_user': 'postgres',
                                       'db': 'ops_rollback_no_such_db', 'dest': lab.backup_dir}]}
    _rc, output = lab.rollback('-e', DRILL_VARS, '-e', 'rollback_report_dir=' + lab.report_dir, '-e', json.dumps(missing),
                               '-e', 'version=v1.2.9', '-e', 'incident_id=INC-T5', expect_rc=2)
    assert lab.served_all() == ALL_BROKEN
    assert not lab.locked()
    assert 'ops_rollback_no_such_db' in output and 'does not exist' in output
    document, _markdown = report(lab, 'INC-T5')
    assert document['services']['demo']['state'] == 'refused'


def test_migrations_narrow_the_target_to_the_newest_version_the_database_fits(lab_data):
    lab = lab_data
    repo = os.path.join(CACHE, 'lab', 'demo-app')
    git = ['git', '-C', repo]
    # History v1.2.8 (orders) -> v1.2.9 (drops orders.amount, no way back) -> v1.3.0 (adds a column).
    subprocess.run(git + ['tag', '-d', 'v1.2.9', 'v1.3.0'], check=True, capture_output=True)
    subprocess.run(git + ['tag', 'v1.2.8', 'HEAD~1'], check=True)
    subprocess.run(git + ['rm', '-q', 'migrations/2_add_order_note.up.sql', 'migrations/2_add_order_note.down.sql'],
                   check=True)
    migrations = os.path.join(repo, 'migrations')
    with open(os.path.join(migrations, '2_drop_amount.up.sql'), 'w') as handle:
        handle.write('ALTER TABLE orders DROP COLUMN amount;\n')
    subprocess.run(git + ['add', '-A'], check=True)
    subprocess.run(git + ['commit', '-qm', 'v1.2.9'], check=True)
    subprocess.run(git + ['tag', 'v1.2.9'], check=True)
    for name, sql in (('3_add_order_note.up.sql', 'ALTER TABLE orders ADD COLUMN note2 text;\n'),
                      ('3_add_order_note.down.sql', 'ALTER TABLE orders DROP COLUMN note2;\n')):
        with open(os.path.join(migrations, name), 'w') as handle:
            handle.write(sql)
    subprocess.run(git + ['add', '-A'], check=True)
    subprocess.run(git + ['commit', '-qm', 'v1.3.0'], check=True)
    subprocess.run(git + ['tag', 'v1.3.0'], check=True)
    psql(LAB_DB, 'UPDATE schema_migrations SET version = 3')

    down = json.dumps({'signals': {'service_down': True}})
    _rc, output = drill(lab, '-e', 'version=v1.2.8', '-e', down, '-e', 'incident_id=INC-T6', expect_rc=2)
    assert lab.served_all() == ALL_BROKEN
    assert not lab.locked()
    assert 'Roll back to it instead: -e version=v1.2.9' in output

    _rc, output = drill(lab, '-e', 'version=v1.2.9', '-e', down, '-e', 'incident_id=INC-T7')
    assert lab.served_all() == ALL_GOOD
    document, _markdown = report(lab, 'INC-T7')
    assert document['services']['demo']['migrations']['recommendation'] == 'safe'
