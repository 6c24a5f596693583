# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The summary renders the report phase's verdicts: "done" means converged and verified, nothing less."""
from __future__ import annotations

import datetime
import json
import os
import stat

import pytest

from ansible_collections.ops.rollback.plugins.callback.timeline import CallbackModule
from ansible_collections.ops.rollback.plugins.filter.rollback import rollback_verdicts
from ansible_collections.ops.rollback.plugins.plugin_utils.interrupt import STOP_VARIABLE

T0 = datetime.datetime(2026, 11, 23, 3, 0, tzinfo=datetime.timezone.utc)
TARGETS = {'demo': {'version': 'v1.2.9', 'rule': 'ledger'}}


def host(name, rolled_back=None, failure=None, verified=False, stopped=None, current='v1.3.0'):
    """A host's facts at the end of a run, as the phase roles leave them."""
    facts = {'inventory_hostname': name, 'rollback_service': 'demo', 'rollback_platform': 'symlink',
             'symlink_state': {'current': current}}
    if rolled_back or failure:
        facts['roll_back_outcome'] = {'to_version': rolled_back or current}
        if failure:
            facts['roll_back_outcome']['failure'] = failure
    if verified:
        facts['verify_health'] = {'passed': True}
    if stopped:
        facts['rollback_stopped'] = stopped
    return facts


def summary(hosts, check_mode=False):
    cb = CallbackModule()
    cb.path = '/tmp/timeline.jsonl'
    cb.check_mode = check_mode
    cb.phases = {'verify': {'start': T0, 'end': T0 + datetime.timedelta(seconds=2), 'outcome': 'ok'}}
    cb.verdicts = rollback_verdicts(hosts, TARGETS, check_mode)
    return '\n'.join(cb.summary_lines())


@pytest.mark.parametrize('hosts, expected', [
    ([host('lab1', 'v1.2.9', verified=True), host('lab2', 'v1.2.9', verified=True, current='v1.2.9')],
     ['service demo: target v1.2.9 (rule: ledger) -> done', 'lab1  v1.3.0 -> v1.2.9  ok',
      'lab2  v1.2.9 -> v1.2.9  ok, already there']),
    # Converged but one host not verified: never "done".
    ([host('lab1', 'v1.2.9', verified=True), host('lab2', 'v1.2.9')], ['-> rolled back but NOT verified']),
    ([host('lab1', failure='restart failed', stopped='batch 1 failed'), host('lab2')],
     ['-> FAILED on lab1', 'lab1  v1.3.0 -> v1.3.0  FAILED (restart failed)',
      'lab2  v1.3.0 -> v1.3.0  not reached: left on v1.3.0']),
    # Stopped before any host changed (a lock held by another run): refused, says why and that nothing changed.
    ([host('lab1', stopped='lab2: Another rollback is running here'), host('lab2')],
     ['-> refused: lab2: Another rollback is running here Nothing was changed.',
      'lab1  v1.3.0 -> v1.3.0  unchanged, on v1.3.0']),
])
def test_summary_verdicts(hosts, expected):
    text = summary(hosts)
    for line in expected:
        assert line in text


def test_check_mode_is_a_plan():
    assert '-> planned' in summary([host('lab1', 'v1.2.9')], check_mode=True)


def test_no_verdict_says_so():
    cb = CallbackModule()
    cb.path = '/tmp/timeline.jsonl'
    assert 'no verdict: the run ended before its report phase' in '\n'.join(cb.summary_lines())


# Secrets in URLs never reach the timeline file nor the summary; the file is its owner's only.
TOKEN = 's3cr3t-token-0123'
SECRET_URL = 'http://ops:hunter2@127.0.0.1:8000/health?token={0}&env=Zq7'.format(TOKEN)
MASKED_URL = 'http://ops:********@127.0.0.1:8000/health?token=********&env=********'
PLANTED = (TOKEN, 'hunter2', 'Zq7')


class _Display:
    verbosity = 0

    def __init__(self):
        self.lines = []

    def display(self, msg, *args, **kwargs):
        self.lines.append(msg)


class _Named:
    def __init__(self, name):
        self._name = name
        self._uuid = 'uuid-' + name

    def get_name(self):
        return self._name


class _Result:
    def __init__(self, host, task, result):
        self._host, self._task, self._result = _Named(host), _Named(task), result


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _run(tmp_path):
    display = _Display()
    cb = CallbackModule(display=display)
    cb.path = str(tmp_path / 'timeline.jsonl')
    cb._write({'event': 'start', 'at': 'now', 'playbook': 'rollback.yml', 'check_mode': False,
               'args': {'health_check': {'endpoints': [{'url': SECRET_URL}]}}})   # held until it is a rollback
    cb._phase = 'verify'
    cb._record(_Result('lab1', 'Check health', {
        'msg': 'Health check failed for 1 of 1 endpoint after 1 round: {0}: status 500'.format(SECRET_URL),
        'ansible_facts': {'report_verdicts': {'demo': {'target': 'v1.2.9', 'rule': 'ledger', 'text': 'FAILED on lab1',
                                                       'hosts': {'lab1': {'from_version': 'v1.3.0',
                                                                          'to_version': 'v1.2.9',
                                                                          'result': 'FAILED ({0})'.format(SECRET_URL)}}}}},
    }), 'failed')
    cb._phase = 'report'
    cb._record(_Result('lab1', 'Skip notifications', {'ansible_facts': {'report_skipped': {
        'phase': 'report', 'reason': 'no webhook at {0}'.format(SECRET_URL)}}}), 'ok')
    cb._write({'event': 'task', 'results': [{'invocation': {'module_args': {'url': SECRET_URL}}}, [SECRET_URL]]})
    cb.v2_playbook_on_stats(None)
    return cb, display


def test_timeline_masks_url_secrets(tmp_path):
    cb, display = _run(tmp_path)
    written = (tmp_path / 'timeline.jsonl').read_text()
    records = [json.loads(line) for line in written.splitlines()]
    assert [r['event'] for r in records] == ['start', 'task', 'task', 'task', 'summary']
    assert records[0]['args']['health_check']['endpoints'][0]['url'] == MASKED_URL
    assert records[1]['msg'].endswith('{0}: status 500'.format(MASKED_URL))
    assert records[3]['results'] == [{'invocation': {'module_args': {'url': MASKED_URL}}}, [MASKED_URL]]
    assert records[4]['phases']['report']['reason'] == 'no webhook at {0}'.format(MASKED_URL)
    assert records[4]['verdicts']['demo']['hosts']['lab1']['result'] == 'FAILED ({0})'.format(MASKED_URL)
    shown = '\n'.join(display.lines)
    assert 'lab1  v1.3.0 -> v1.2.9  FAILED ({0})'.format(MASKED_URL) in shown
    assert 'report           skipped: no webhook at {0}'.format(MASKED_URL) in shown
    for secret in PLANTED:
        assert secret not in written and secret not in shown


def test_timeline_file_is_created_for_its_owner_only(tmp_path, umask_022):
    _run(tmp_path)
    assert stat.S_IMODE(os.stat(str(tmp_path / 'timeline.jsonl')).st_mode) == 0o600


def test_an_interrupt_is_said_even_when_nothing_was_left_to_stop(monkeypatch):
    # Ctrl-C during the last batch: the run finished, and the summary says the signal came.
    monkeypatch.setenv(STOP_VARIABLE, 'SIGINT')
    text = summary([host('lab1', 'v1.2.9', verified=True)])
    assert '-> done' in text and 'interrupted: SIGINT received; no batch started after it' in text
