# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ops.rollback.incident_report run by ansible-playbook, as the report phase runs it, on the
timeline the real timeline callback wrote for a small run with phase roles."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from ansible_collections.ops.rollback.plugins.plugin_utils.verdict import run_verdicts

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
TOKEN = 's3cr3t-token-0123'

# A run in miniature: each role is named after its phase, as the callback expects; web2's restart fails.
PHASE_ROLES = {
    'decide': [{'name': 'Decide to roll back', 'ansible.builtin.debug': {'msg': 'rollback now'}}],
    'protect_data': [{'name': 'Skip phase protect_data', 'ansible.builtin.set_fact': {
        'protect_data_skipped': {'phase': 'protect_data', 'reason': 'no databases configured'}}}],
    'roll_back': [{'name': 'Restart the application', 'ansible.builtin.fail': {
        'msg': 'restart failed, health at http://ops:hunter22@{{ inventory_hostname }}:8000/health?token=' + TOKEN},
        'when': "inventory_hostname == 'web2'"}],
    'verify': [{'name': 'Check health', 'ansible.builtin.debug': {'msg': 'healthy'}}],
}

TARGETS = {'orders': {'version': 'v1.2.9', 'rule': 'ledger'}, 'payments': {'version': 'v2.0.1', 'rule': 'explicit'},
           'search': {'version': 'v4.1.0', 'rule': 'ledger'}}


def host(name, service, current, to=None, verified=False, failure=None):
    facts = {'inventory_hostname': name, 'rollback_service': service, 'rollback_platform': 'symlink',
             'symlink_state': {'current': current}}
    if to:
        facts['roll_back_outcome'] = {'to_version': to, 'failure': failure}
    if verified:
        facts['verify_health'] = {'passed': True}
    return facts


# Done, failed on one host, and rolled back but not verified: the verdict model computes them.
VERDICTS = run_verdicts([
    host('web1', 'orders', 'v1.3.0', 'v1.2.9', verified=True),
    host('pay1', 'payments', 'v2.1.0', 'v2.1.0', failure='restart failed'),
    host('pay2', 'payments', 'v2.1.0'),
    host('idx1', 'search', 'v4.2.0', 'v4.1.0'),
], TARGETS)

# Orders as the results of rollback_decision, db_backup (its backup) and migration_check come, extra keys and all.
SERVICES = {
    'orders': {
        'decision': {'decision': 'rollback_now', 'advised': 'investigate_then_decide', 'proceed': True,
                     'reasons': ['error rate 8% over the 5% threshold'], 'forced': True,
                     'force_reason': 'customer-facing outage', 'message': 'Rolling back (rollback_now).'},
        'backups': [{'db': 'orders', 'engine': 'postgresql', 'path': '/var/backups/orders/INC-2026-0042.dump',
                     'manifest': '/var/backups/orders/INC-2026-0042.json', 'size': 48213377,
                     'sha256': '9f2c4f0e5b1d8a7c3e6f4a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d',
                     'tables': {'public.orders': 120433}, 'verified': '2026-11-23T03:02:10Z'}],
        'checks': [{'name': 'error rate', 'before': 0.08, 'after': 0.002, 'threshold': 0.05, 'passed': True}],
        'migrations': {'recommendation': 'rollback_to', 'safe_version': 'v1.2.9',
                       'migrations': [{'name': '3_drop_legacy_email', 'reversible': False},
                                      {'name': '4_add_index', 'reversible': True}],
                       'explanation': ['3_drop_legacy_email cannot be reversed safely.']},
        'notifications': [{'event': 'completed', 'channels': [{'name': 'slack', 'delivered': True}]}],
        'deployment_record_updated': True,
    },
    'payments': {'notifications': [{'event': 'failed', 'channels': [{'name': 'teams', 'delivered': False}]}]},
}

REPORT_TASK = {
    'name': 'Write the incident report',
    'ops.rollback.incident_report': {
        'incident_id': '{{ incident_id }}',
        'dest': '{{ dest }}',
        'timeline': '{{ timeline }}',
        'verdicts': '{{ verdicts }}',
        'services': '{{ services }}',
        'reason': 'error rate 8% after v1.3.0',
        'impact': 'checkout failed for 1 request in 12',
        'severity': '{{ severity }}',
        'initiated_by': 'alice',
        'ticket': 'OPS-4242',
    },
}


def env(tmp_path, timeline):
    variables = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                     ANSIBLE_FORCE_COLOR='0', OPS_ROLLBACK_TIMELINE=str(timeline),
                     ANSIBLE_ROLES_PATH=str(tmp_path / 'roles'))
    variables['PATH'] = BIN + os.pathsep + variables.get('PATH', '')
    return variables


def playbook(tmp_path, *args, timeline):
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook')] + list(args), cwd=REPO, env=env(tmp_path, timeline),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return proc.returncode, proc.stdout


@pytest.fixture(scope='module')
def timeline(tmp_path_factory):
    """The timeline file of a small run with phase roles, written by the timeline callback."""
    tmp_path = tmp_path_factory.mktemp('run')
    for role, tasks in PHASE_ROLES.items():
        (tmp_path / 'roles' / role / 'tasks').mkdir(parents=True)
        (tmp_path / 'roles' / role / 'tasks' / 'main.yml').write_text(yaml.safe_dump(tasks, sort_keys=False))
    (tmp_path / 'hosts.yml').write_text(yaml.safe_dump({'all': {'hosts': {
        'web1': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable},
        'web2': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}))
    (tmp_path / 'run.yml').write_text(yaml.safe_dump([{
        'name': 'A rollback in miniature', 'hosts': 'all', 'gather_facts': False,
        'roles': ['decide', 'protect_data', 'roll_back', 'verify']}], sort_keys=False))
    path = tmp_path / 'timeline.jsonl'
    rc, output = playbook(tmp_path, '-i', str(tmp_path / 'hosts.yml'), str(tmp_path / 'run.yml'), timeline=path)
    assert rc == 2 and 'restart failed' in output, output   # web2 failed, as planned
    return str(path)


@pytest.fixture
def report_run(tmp_path):
    """Run the report task with the variables given; returns (rc, output)."""
    (tmp_path / 'report.yml').write_text(yaml.safe_dump([{
        'name': 'Report', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [REPORT_TASK]}], sort_keys=False))

    def run(*args, **variables):
        variables = dict(dict(incident_id='INC-2026-0042', dest=str(tmp_path / 'reports'), verdicts=VERDICTS,
                              services=SERVICES, severity='SEV2'), **variables)
        (tmp_path / 'vars.json').write_text(json.dumps(variables))
        return playbook(tmp_path, '-i', 'localhost,', '-c', 'local', str(tmp_path / 'report.yml'),
                        '-e', '@' + str(tmp_path / 'vars.json'), *args, timeline=tmp_path / 'report-run.jsonl')

    return run


def changed(output):
    return int(re.search(r'localhost\s+: ok=\d+\s+changed=(\d+)', output).group(1))


def read(path):
    with open(path) as handle:
        return handle.read()


def test_report_of_a_run_says_what_happened(timeline, report_run, tmp_path):
    rc, output = report_run(timeline=timeline)
    assert rc == 0 and changed(output) == 1, output
    report = json.loads(read(tmp_path / 'reports' / 'INC-2026-0042.json'))
    markdown = read(tmp_path / 'reports' / 'INC-2026-0042.md')

    assert (report['schema_version'], report['incident_id'], report['outcome']) == (1, 'INC-2026-0042', 'failed')
    states = dict((name, s['state']) for name, s in report['services'].items())
    assert states == {'orders': 'done', 'payments': 'failed', 'search': 'not_verified'}
    assert '### orders: done' in markdown
    assert '| Outcome | FAILED (payments) |' in markdown
    assert '### payments: FAILED on pay1' in markdown
    assert '### search: rolled back but NOT verified' in markdown
    assert '- Version: v1.3.0 → v1.2.9 (target chosen by rule: ledger)' in markdown
    assert '- Decision: rollback_now (FORCED over investigate_then_decide: customer-facing outage)' in markdown
    assert '  - error rate 8% over the 5% threshold' in markdown
    assert ('| orders | /var/backups/orders/INC-2026-0042.dump | 46.0 MiB (48213377 bytes) | '
            '9f2c4f0e5b1d8a7c3e6f4a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d | yes, 2026-11-23T03:02:10Z |') in markdown
    assert report['services']['orders']['backups'][0]['sha256'].startswith('9f2c4f0e')
    assert 'manifest' not in report['services']['orders']['backups'][0]
    assert ('- Recommendation: rollback_to\n- Safe version: v1.2.9\n- Irreversible: 3_drop_legacy_email\n'
            '  - 3_drop_legacy_email cannot be reversed safely.') in markdown
    assert '| error rate | 0.08 | 0.002 | 0.05 | yes |' in markdown
    assert '- teams (failed): NOT delivered' in markdown

    # The versions left are not to be deployed again; the ones the failed payments never left too.
    assert [(e['service'], e['version']) for e in report['do_not_redeploy']] == [
        ('orders', 'v1.3.0'), ('payments', 'v2.1.0'), ('search', 'v4.2.0')]
    assert ('- **v1.3.0** of orders: do not redeploy, rolled back from in incident INC-2026-0042 '
            '(recorded in the deployment record).') in markdown

    # The timeline's phases, the skip reason and web2's failure, its URL masked.
    phases = dict((p['phase'], p) for p in report['timeline']['phases'])
    assert list(phases) == ['decide', 'protect_data', 'roll_back', 'verify']
    assert (phases['roll_back']['outcome'], phases['protect_data']['reason']) == ('failed', 'no databases configured')
    assert '| protect_data | skipped: no databases configured |' in markdown
    assert [(t['host'], t['task']) for t in report['timeline']['failed_tasks']] == [
        ('web2', 'roll_back : Restart the application')]
    assert 'http://ops:********@web2:8000/health?token=********' in markdown
    assert TOKEN not in markdown and 'hunter22' not in markdown and TOKEN not in json.dumps(report)

    # Ticked from the facts: a ticket was given; not every service is done, notified, recorded.
    assert '- [x] Incident ticket created' in markdown
    for item in ('Service health verified', 'Team notified', 'Deployment record updated', 'Root cause identified'):
        assert '- [ ] ' + item in markdown
    assert '## Root cause\n\n_To be filled in' in markdown and '## Lessons learned\n\n_To be filled in' in markdown
    assert (report['root_cause'], report['lessons_learned']) == (None, [])
    # Start and end of the run from the timeline: its start and summary records.
    records = [json.loads(line) for line in read(timeline).splitlines()]
    assert (report['started'], report['finished']) == (records[0]['at'], records[-1]['at'])
    assert report['duration_seconds'] >= 0

    for name in ('INC-2026-0042.md', 'INC-2026-0042.json'):
        assert os.stat(tmp_path / 'reports' / name).st_mode & 0o777 == 0o600


def test_same_report_again_is_not_a_change(timeline, report_run, tmp_path):
    report_run(timeline=timeline)
    first = os.stat(tmp_path / 'reports' / 'INC-2026-0042.md')
    rc, output = report_run(timeline=timeline)
    assert rc == 0 and changed(output) == 0, output
    assert os.stat(tmp_path / 'reports' / 'INC-2026-0042.md').st_ino == first.st_ino   # not rewritten


def test_check_mode_writes_nothing_and_diff_shows_the_report(timeline, report_run, tmp_path):
    rc, output = report_run('--check', '--diff', timeline=timeline)
    assert rc == 0 and changed(output) == 1, output
    assert '+### payments: FAILED on pay1' in output
    assert not (tmp_path / 'reports').exists()

    report_run(timeline=timeline)
    rc, output = report_run('--check', '--diff', timeline=timeline, severity='SEV1')
    assert rc == 0 and changed(output) == 1, output
    assert '-| Severity | SEV2 |' in output and '+| Severity | SEV1 |' in output
    assert '| Severity | SEV2 |' in read(tmp_path / 'reports' / 'INC-2026-0042.md')


@pytest.mark.parametrize('incident_id', ['../INC-1', 'INC 1'])
def test_bad_incident_id_is_refused_and_nothing_written(timeline, report_run, tmp_path, incident_id):
    rc, output = report_run(timeline=timeline, incident_id=incident_id)
    assert rc == 2, output
    assert 'cannot name the report files' in output and 'Nothing was written.' in output
    assert not (tmp_path / 'reports').exists()
    assert not os.path.exists(os.path.join(str(tmp_path), 'INC-1.md'))


def test_missing_timeline_warns_and_still_reports(report_run, tmp_path):
    missing = tmp_path / 'no-such-timeline.jsonl'
    rc, output = report_run(timeline=str(missing))
    assert rc == 0, output
    assert '[WARNING]: Cannot read the timeline {0}'.format(missing) in ' '.join(output.split())
    markdown = read(tmp_path / 'reports' / 'INC-2026-0042.md')
    assert '_No timeline: {0} could not be read._'.format(missing) in markdown
    assert '### orders: done' in markdown
