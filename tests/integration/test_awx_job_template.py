# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX job template "Rollback" (extensions/awx): its survey, and the rollback
playbook run as AWX runs a job, through ansible-runner, against the lab's hosts.

AWX cannot run here; what it does with the survey's answers is in awx_support.py
(after AWX's source), and the job itself is ansible-runner, as in AWX.
Run under ``flock /tmp/ops-lab.lock``: the lab is shared.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from awx_support import LaunchRefused, launch_extra_vars, spec_errors

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
INVENTORY = os.path.join(REPO, 'inventory', 'lab', 'hosts.yml')   # written by scripts/lab.sh up (the lab fixture)
AWX_DIR = os.path.join(REPO, 'extensions', 'awx')
PLAYBOOK = os.path.join('playbooks', 'rollback.yml')
ALL_BROKEN = {'lab1': 'v1.3.0', 'lab2': 'v1.3.0', 'lab3': 'v1.3.0'}
ALL_GOOD = {'lab1': 'v1.2.9', 'lab2': 'v1.2.9', 'lab3': 'v1.2.9'}


def survey():
    with open(os.path.join(AWX_DIR, 'rollback_survey.json')) as handle:
        return json.load(handle)


def job_template_task():
    with open(os.path.join(AWX_DIR, 'job_template.yml')) as handle:
        plays = yaml.safe_load(handle)
    tasks = [t for play in plays for t in play['tasks'] if 'awx.awx.job_template' in t]
    assert len(tasks) == 1
    return plays[0], tasks[0]['awx.awx.job_template']


# --- the survey and the job template, as AWX takes them -----------------------------------------------------------

def test_awx_accepts_the_survey_and_it_asks_what_the_playbook_reads():
    spec = survey()
    assert spec_errors(spec) == []
    variables = [q['variable'] for q in spec['spec']]
    assert variables == ['service', 'version', 'reason', 'severity', 'dry_run', 'force']
    with open(os.path.join(REPO, PLAYBOOK)) as handle:
        playbook = ''.join(line for line in handle if not line.lstrip().startswith('#'))
    for variable in variables:
        # Read in an expression: "service | default(...)", "force is defined", "{{ dry_run }}"...
        assert re.search(r'(?<![\w.\'"-]){0}(?=\s*(\||is\s|\}}|\)|,|\]))'.format(variable), playbook), (
            'the survey asks for {0}, which {1} never reads: the answer would be ignored'.format(variable, PLAYBOOK))
    by_name = dict((q['variable'], q) for q in spec['spec'])
    assert [v for v in variables if by_name[v]['required']] == ['service', 'reason']
    for question in spec['spec']:
        assert question['question_name'] and question['question_description']
        if question['type'] == 'multiplechoice':
            # A default outside the choices is dropped by AWX: only an optional question may have none ("").
            assert question['default'] in question['choices'] or (question['default'] == '' and not question['required'])
    for flag in ('dry_run', 'force'):
        assert sorted(by_name[flag]['choices']) == ['false', 'true'] and by_name[flag]['default'] == 'false'
    assert sorted(by_name['severity']['choices']) == ['critical', 'high', 'low', 'medium']


def test_what_awx_passes_for_a_form_left_mostly_empty():
    # Only the required answers: an empty version must not reach the playbook as version="" (it refuses an
    # empty -e version=); left out, it means the previous good version. Flags are the strings AWX sends.
    extra_vars = launch_extra_vars(survey(), {'service': 'demo', 'version': '', 'reason': 'error rate 8%',
                                              'severity': ''})
    assert dict((k, v) for k, v in extra_vars.items() if not k.startswith(('awx_', 'tower_'))) == {
        'service': 'demo', 'reason': 'error rate 8%', 'dry_run': 'false', 'force': 'false'}
    with pytest.raises(LaunchRefused, match="'reason' value missing"):
        launch_extra_vars(survey(), {'service': 'demo'})
    with pytest.raises(LaunchRefused, match="Value yes for 'force' expected to be one of"):
        launch_extra_vars(survey(), {'service': 'demo', 'reason': 'x', 'force': 'yes'})


def test_the_job_template_playbook_is_valid_and_runs_the_rollback_playbook_with_the_survey():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'))
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '--syntax-check', '-i', 'localhost,',
                           os.path.join(AWX_DIR, 'job_template.yml')], cwd=REPO, env=env, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    play, template = job_template_task()
    assert play['hosts'] == 'localhost' and play['gather_facts'] is False
    # The playbook the template names is the collection's, at that path in the project (the repository).
    assert template['playbook'] == '{{ rollback_awx_playbook }}' and play['vars']['rollback_awx_playbook'] == PLAYBOOK
    assert os.path.isfile(os.path.join(REPO, play['vars']['rollback_awx_playbook']))
    assert template['survey_spec'] == "{{ lookup('ansible.builtin.file', 'rollback_survey.json') | from_json }}"
    expected = {'survey_enabled': True, 'allow_simultaneous': False, 'ask_variables_on_launch': True,
                'job_slice_count': 1, 'use_fact_cache': False, 'job_type': 'run', 'limit': ''}
    assert dict((k, template[k]) for k in expected) == expected
    # The controller's address and token come from the environment only.
    with open(os.path.join(AWX_DIR, 'job_template.yml')) as handle:
        text = handle.read()
    assert not re.search(r'^\s*(controller_\w+|oauthtoken|password|token)\s*:', text, re.M | re.I)


# --- the job, as AWX runs it ----------------------------------------------------------------------------------------

def run_as_awx(tmp_path, form, name):
    """Launch the template with the survey filled as ``form``: ansible-runner runs the playbook from the
    project (the repository) with the extra vars AWX builds. Returns (runner, events, report dir)."""
    import ansible_runner

    private = tmp_path / name
    private.mkdir()
    reports = str(tmp_path / (name + '-reports'))
    envvars = {'ANSIBLE_CONFIG': os.path.join(REPO, 'ansible.cfg'), 'ANSIBLE_NOCOLOR': '1',
               'OPS_ROLLBACK_TIMELINE': str(tmp_path / (name + '-timeline.jsonl')),
               'OPS_ROLLBACK_REPORT_DIR': reports,
               'PATH': BIN + os.pathsep + os.environ.get('PATH', '')}
    runner = ansible_runner.run(private_data_dir=str(private), project_dir=REPO, playbook=PLAYBOOK,
                                inventory=INVENTORY, extravars=launch_extra_vars(survey(), form), envvars=envvars,
                                quiet=True)
    return runner, list(runner.events), reports


def said(events, role, task=None):
    """Everything the tasks of ``role`` (and named ``task``) printed or failed with, as one text."""
    texts = []
    for event in events:
        data = event.get('event_data', {})
        if (data.get('role') or '').split('.')[-1] != role or (task and data.get('task') != task):
            continue
        if event['event'] in ('runner_on_ok', 'runner_on_failed', 'runner_item_on_ok', 'runner_item_on_failed'):
            texts.append(json.dumps(data.get('res', {})))
    return '\n'.join(texts)


def stats(events):
    found = [e['event_data'] for e in events if e['event'] == 'playbook_on_stats']
    assert len(found) == 1
    return found[0]


def failures(events):
    return [e['event_data']['res'].get('msg', '') for e in events if e['event'] == 'runner_on_failed']


def test_awx_job_rolls_back_to_the_previous_good_version(broken_fleet, tmp_path):
    lab = broken_fleet
    # The form as an SRE fills it at 3 a.m.: the service and why; version, severity, dry run and force left as is.
    runner, events, reports = run_as_awx(tmp_path, {'service': 'demo', 'version': '', 'severity': '',
                                                    'reason': 'error rate 8% since v1.3.0'}, 'job1')
    assert runner.status == 'successful', failures(events)
    assert runner.rc == 0
    assert 'demo: rollback_now' in said(events, 'decide', 'Say the decisions')
    plan = said(events, 'preflight', 'Show the plan')
    assert 'demo: v1.3.0 -> v1.2.9 on 3 host(s) (target chosen by rule: ledger)' in plan
    assert '"demo: done"' in said(events, 'report', 'Say the verdict')
    # The job's output in AWX ends with the collection's summary.
    assert 'service demo: target v1.2.9 (rule: ledger) -> done' in runner.stdout.read()
    result = stats(events)
    assert not result['failures'] and not result['dark']
    assert set(result['changed']) >= set(lab.names)
    assert lab.served_all() == ALL_GOOD
    assert not lab.locked()
    # The incident report names the AWX user who launched the job and the reason given in the survey.
    written = [e['event_data']['res'] for e in events if e['event'] == 'runner_on_ok'
               and e['event_data'].get('task') == 'Write the incident report (Markdown and JSON)']
    assert len(written) == 1 and written[0]['json_path'].startswith(reports)
    with open(written[0]['json_path']) as handle:
        report = json.load(handle)
    assert (report['initiated_by'], report['reason']) == ('alice', 'error rate 8% since v1.3.0')

    # Launched again, now naming the version: already there, nothing changes.
    runner, events, _reports = run_as_awx(tmp_path, {'service': 'demo', 'version': 'v1.2.9',
                                                     'reason': 'relaunch'}, 'job2')
    assert (runner.status, runner.rc) == ('successful', 0), failures(events)
    assert not stats(events)['changed']
    assert lab.served_all() == ALL_GOOD


def test_awx_job_with_an_unsafe_version_fails_clearly_and_changes_nothing(broken_fleet, tmp_path):
    lab = broken_fleet
    # Within the survey's length limits, so AWX launches it; the playbook is what refuses it.
    runner, events, _reports = run_as_awx(tmp_path, {'service': 'demo', 'version': 'v1; rm -rf /',
                                                     'reason': 'error rate 8%'}, 'job')
    assert runner.status == 'failed' and runner.rc != 0
    assert any("Refusing version 'v1; rm -rf /'" in message for message in failures(events)), failures(events)
    assert stats(events)['failures']
    assert lab.served_all() == ALL_BROKEN
    assert [lab.current(h) for h in lab.names] == ['v1.3.0'] * 3
    assert lab.exec('lab1', 'ls', '/srv/demo/releases').split() == ['v1.2.8', 'v1.2.9', 'v1.3.0']
    assert not lab.locked()


def test_awx_job_with_a_severity_only_stops_until_forced(broken_fleet, tmp_path):
    lab = broken_fleet
    runner, events, _reports = run_as_awx(tmp_path, {'service': 'demo', 'severity': 'critical',
                                                     'reason': 'checkout failing'}, 'job')
    assert (runner.status, lab.served_all()) == ('failed', ALL_BROKEN)
    assert any('Not rolling back (investigate_then_decide)' in message for message in failures(events))
    assert not lab.locked()


def test_awx_job_as_a_dry_run_changes_nothing(broken_fleet, tmp_path):
    lab = broken_fleet
    ledgers = [lab.ledger(h) for h in lab.names]
    runner, events, _reports = run_as_awx(tmp_path, {'service': 'demo', 'version': 'v1.2.9',
                                                     'reason': 'what would it do', 'dry_run': 'true'}, 'job')
    assert (runner.status, runner.rc) == ('successful', 0), failures(events)
    assert 'demo: v1.3.0 -> v1.2.9 on 3 host(s)' in said(events, 'preflight', 'Show the plan')
    summary = runner.stdout.read()
    assert 'service demo: target v1.2.9 (rule: explicit) -> planned' in summary
    assert re.search(r'lab3\s+v1\.3\.0 -> v1\.2\.9\s+plan only \(check mode\)', summary)
    assert lab.served_all() == ALL_BROKEN
    assert [lab.current(h) for h in lab.names] == ['v1.3.0'] * 3
    assert [lab.ledger(h) for h in lab.names] == ledgers
    assert not lab.locked()
