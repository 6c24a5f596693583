# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ops.rollback.notify through `ansible` itself, against a real webhook receiver on 127.0.0.1.

The receiver (targets/notify/files/receiver.py, also used by the integration
target) records every request and fails, or hangs, as the path of the
request tells it. Every channel URL carries a secret in its path, as Slack's
and Teams' do; no output may show it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
RECEIVER = os.path.join(REPO, 'tests', 'integration', 'targets', 'notify', 'files', 'receiver.py')
SECRET = 'T0123ABCD/B0456EFGH/s3cr3tWebhookToken'
HEADER_SECRET = 'Bearer hunter2-header-token'
MASKED = 'http://127.0.0.1/********'
CONTEXT = {
    'incident_id': 'INC-2024-0117', 'service': 'order-service', 'from_version': '1.2.3', 'to_version': '1.2.2',
    'reason': 'Error rate spiked to 8%', 'eta_minutes': 5, 'status_channel': '#inc-order', 'duration_seconds': 240,
    'checks': [{'name': 'Error rate', 'before': '8%', 'after': '0.1%', 'passed': True}],
    'next_steps': ['RCA scheduled for tomorrow'],
}
FAST = {'retries': 3, 'delay': 0.01, 'timeout': 5}


def _load_receiver():
    spec = importlib.util.spec_from_file_location('notify_receiver', RECEIVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def receiver():
    server = _load_receiver().Receiver().start()
    yield server
    server.stop()


def channel(receiver, kind, path=None, **extra):
    """A channel whose URL ends in the secret, at ``path`` (the receiver's script: /fail/2/500, ...)."""
    return dict({'type': kind, 'url': '{0}{1}/{2}'.format(receiver.url, path or '/' + kind, SECRET)}, **extra)


def run_ansible(args, tmp_path, *options, callback='json'):
    """Run the module with ``args`` through `ansible` on localhost; returns (exit code, output)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_STDOUT_CALLBACK=callback,
               ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               OPS_ROLLBACK_TIMELINE=str(tmp_path / 'timeline.jsonl'))
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    proc = subprocess.run(
        [os.path.join(BIN, 'ansible'), 'localhost', '-i', 'localhost,', '-c', 'local', '-m', 'ops.rollback.notify',
         '-a', json.dumps(args)] + list(options),
        cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return proc.returncode, proc.stdout


def notify(args, tmp_path, *options):
    """The task's result, from the json callback."""
    code, output = run_ansible(args, tmp_path, *options)
    assert SECRET not in output and HEADER_SECRET not in output
    result = json.loads(output[output.index('{'):])['plays'][0]['tasks'][0]['hosts']['localhost']
    assert bool(result.get('failed')) == (code != 0), output
    return result


# What each channel type receives -------------------------------------------

@pytest.mark.parametrize('event, title', [
    ('started', '🚨 Rollback in progress: order-service'),
    ('update', '🔄 Rollback update: order-service'),
    ('completed', '✅ Rollback complete: order-service'),
    ('failed', '❌ Rollback FAILED: order-service'),
    ('escalation', '📣 Escalation to on-call: order-service'),
])
def test_every_event_reaches_slack_teams_and_a_generic_webhook(receiver, tmp_path, event, title):
    result = notify({'channels': [channel(receiver, 'slack'), channel(receiver, 'teams'),
                                  channel(receiver, 'webhook')],
                     'event': event, 'context': CONTEXT}, tmp_path)
    assert result['changed'] is True
    assert [(c['name'], c['delivered'], c['attempts'], c['status']) for c in result['channels']] == [
        ('slack-1', True, 1, 200), ('teams-1', True, 1, 200), ('webhook-1', True, 1, 200)]
    assert result['message'].splitlines()[0] == title
    assert '**Version:** 1.2.3 → 1.2.2' in result['message']

    slack = receiver.posts('/slack/')[0]['json']
    assert slack['text'].startswith('*' + title + '*\n')
    assert '*Version:* 1.2.3 → 1.2.2' in slack['text'] and '**' not in slack['text']

    card = receiver.posts('/teams/')[0]['json']['attachments'][0]
    assert card['contentType'] == 'application/vnd.microsoft.card.adaptive'
    texts = [block['text'] for block in card['content']['body']]
    assert texts[0] == title and '**Reason:** Error rate spiked to 8%' in texts

    hook = receiver.posts('/webhook/')[0]
    assert hook['headers']['Content-Type'] == 'application/json'
    assert hook['json']['event'] == event and hook['json']['title'] == title
    assert hook['json']['context'] == CONTEXT
    assert 'Updates in #inc-order' in hook['json']['text']


def test_completion_tells_duration_checks_and_next_steps(receiver, tmp_path):
    notify({'channels': [channel(receiver, 'slack')], 'event': 'completed', 'context': CONTEXT}, tmp_path)
    text = receiver.posts('/slack/')[0]['json']['text']
    for line in ('*Duration:* 4 minutes', '- Error rate: 0.1% (was 8%) ✅', 'Do not re-deploy 1.2.3 without a fix.',
                 '- RCA scheduled for tomorrow'):
        assert line in text.splitlines()


def test_headers_are_sent_and_never_shown(receiver, tmp_path):
    result = notify({'channels': [channel(receiver, 'webhook', headers={'Authorization': HEADER_SECRET})],
                     'event': 'update', 'context': {'service': 'api', 'progress': 'half way'}}, tmp_path)
    assert result['channels'][0]['delivered'] is True
    assert receiver.posts('/webhook/')[0]['headers']['Authorization'] == HEADER_SECRET


def test_a_channel_gets_only_its_events(receiver, tmp_path):
    result = notify({'channels': [channel(receiver, 'slack', events=['completed', 'failed']),
                                  channel(receiver, 'webhook')],
                     'event': 'started', 'context': CONTEXT}, tmp_path)
    assert result['channels'][0]['skipped'] == 'takes only completed, failed'
    assert result['channels'][0]['attempts'] == 0
    assert receiver.posts('/slack/') == []
    assert len(receiver.posts('/webhook/')) == 1


# Retries and failures ------------------------------------------------------

@pytest.mark.parametrize('status', [500, 503, 429])
def test_retried_until_the_server_takes_it(receiver, tmp_path, status):
    path = '/fail/2/{0}'.format(status)
    result = notify(dict(FAST, channels=[channel(receiver, 'slack', path)], event='started', context=CONTEXT),
                    tmp_path)
    assert result['changed'] is True
    assert result['channels'][0]['delivered'] is True
    assert result['channels'][0]['attempts'] == 3
    assert len(receiver.posts(path)) == 3
    assert not result.get('warnings')


def test_a_client_error_is_not_retried_and_only_warns(receiver, tmp_path):
    result = notify(dict(FAST, channels=[channel(receiver, 'slack', '/status/404'), channel(receiver, 'teams')],
                         event='failed', context=CONTEXT), tmp_path)
    assert result.get('failed') is not True
    failed, delivered = result['channels']
    assert (failed['delivered'], failed['attempts'], failed['status'], failed['error']) == (
        False, 1, 404, 'status 404: no_service')
    assert len(receiver.posts('/status/404')) == 1
    assert delivered['delivered'] is True and result['changed'] is True
    assert [w for w in result['warnings'] if 'slack-1 ({0})'.format(MASKED) in w and 'set required=true' in w]


def test_a_server_that_keeps_failing_gets_every_retry_then_a_warning(receiver, tmp_path):
    result = notify(dict(FAST, channels=[channel(receiver, 'webhook', '/status/502')], event='started',
                         context=CONTEXT), tmp_path)
    assert result.get('failed') is not True and result['changed'] is False
    assert result['channels'][0]['attempts'] == 4
    assert len(receiver.posts('/status/502')) == 4
    assert 'after 4 attempt(s): status 502' in ' '.join(result['warnings'])


def test_a_hanging_server_times_out_and_is_retried(receiver, tmp_path):
    result = notify({'channels': [channel(receiver, 'webhook', '/hang/5')], 'event': 'update', 'context': CONTEXT,
                     'retries': 1, 'delay': 0.01, 'timeout': 0.5}, tmp_path)
    entry = result['channels'][0]
    assert (entry['delivered'], entry['attempts'], entry['status']) == (False, 2, None)
    assert 'timed out' in entry['error']


def test_nothing_listening_is_retried_then_warns(tmp_path):
    receiver = _load_receiver().Receiver()
    receiver.server.server_close()   # never served: a port that was just free
    result = notify(dict(FAST, retries=1, channels=[channel(receiver, 'slack')], event='started', context=CONTEXT),
                    tmp_path)
    assert result['channels'][0]['attempts'] == 2
    assert 'Connection refused' in result['channels'][0]['error']


def test_a_required_notification_fails_the_task_with_the_url_masked(receiver, tmp_path):
    args = dict(FAST, required=True, channels=[channel(receiver, 'slack', '/status/500'), channel(receiver, 'teams')],
                event='failed', context=CONTEXT)
    result = notify(args, tmp_path)
    assert result['failed'] is True
    assert result['msg'].startswith('Failed to deliver the required failed notification to slack-1 ({0}) after 4 '
                                    'attempt(s): status 500'.format(MASKED))
    # Every channel was tried; the one that took it counts as a change.
    assert result['changed'] is True and result['channels'][1]['delivered'] is True


# Templates and escalation --------------------------------------------------

def test_a_user_template_replaces_the_default(receiver, tmp_path):
    template = tmp_path / 'started.md.j2'
    template.write_text('Rolling {{ service }} back to {{ to_version }} ({{ ticket }})\n'
                        '{% for step in next_steps %}* {{ step }}\n{% endfor %}')
    result = notify({'channels': [channel(receiver, 'slack')], 'event': 'started',
                     'templates': {'started': str(template)}, 'context': dict(CONTEXT, ticket='JIRA-9')}, tmp_path)
    assert result['message'] == 'Rolling order-service back to 1.2.2 (JIRA-9)\n* RCA scheduled for tomorrow'
    assert receiver.posts('/slack/')[0]['json']['text'] == '*Rolling order-service back to 1.2.2 (JIRA-9)*\n' \
                                                           '* RCA scheduled for tomorrow'


def test_a_broken_template_fails_before_anything_is_sent(receiver, tmp_path):
    template = tmp_path / 'bad.j2'
    template.write_text('{{ ticket_url }}')
    result = notify({'channels': [channel(receiver, 'slack')], 'event': 'started',
                     'templates': {'started': str(template)}, 'context': CONTEXT, 'required': False}, tmp_path)
    assert result['failed'] is True
    assert "'ticket_url' is undefined" in result['msg'] and 'Nothing was sent.' in result['msg']
    assert receiver.posts() == []


LEVELS = [
    {'name': 'on-call', 'after_minutes': 0, 'channels': ['ops']},
    {'name': 'team lead', 'on': ['failed', 'data_issue'], 'mention': '@leads', 'channels': ['ops', 'leads']},
    {'name': 'management', 'after_minutes': 60, 'channels': ['leads']},
]


@pytest.mark.parametrize('elapsed, outcome, level, reached', [
    (5, 'in_progress', 'on-call', ['ops']),
    (42, 'failed', 'team lead', ['ops', 'leads']),
    (61, 'failed', 'management', ['leads']),
])
def test_escalation_goes_to_the_level_for_elapsed_time_and_outcome(receiver, tmp_path, elapsed, outcome, level,
                                                                   reached):
    result = notify({'channels': [channel(receiver, 'slack', '/ops', name='ops'),
                                  channel(receiver, 'slack', '/leads', name='leads')],
                     'event': 'escalation', 'elapsed_minutes': elapsed, 'outcome': outcome,
                     'escalation_levels': LEVELS, 'context': CONTEXT}, tmp_path)
    assert result['escalation']['name'] == level
    assert [c['name'] for c in result['channels'] if c['delivered']] == reached
    for name in ('ops', 'leads'):
        posts = receiver.posts('/' + name + '/')
        assert len(posts) == (1 if name in reached else 0)
        if posts:
            assert posts[0]['json']['text'].startswith('*📣 Escalation to {0}: order-service*'.format(level))


def test_escalation_mention_comes_first(receiver, tmp_path):
    notify({'channels': [channel(receiver, 'slack', '/leads', name='leads'), channel(receiver, 'slack', '/ops',
                                                                                     name='ops')],
            'event': 'escalation', 'elapsed_minutes': 12, 'outcome': 'failed', 'escalation_levels': LEVELS,
            'context': CONTEXT}, tmp_path)
    lines = receiver.posts('/leads/')[0]['json']['text'].splitlines()
    assert lines[1] == '@leads The rollback of order-service needs team lead: outcome failed.'


# Check mode, bad input, secrets --------------------------------------------

def test_check_mode_sends_nothing_and_shows_what_would_be_sent(receiver, tmp_path):
    result = notify({'channels': [channel(receiver, 'slack'), channel(receiver, 'webhook')], 'event': 'started',
                     'context': CONTEXT}, tmp_path, '--check', '--diff')
    assert receiver.posts() == []
    assert result['changed'] is True
    assert [(c['delivered'], c['attempts']) for c in result['channels']] == [(False, 0), (False, 0)]
    assert result['channels'][0]['payload']['text'].startswith('*🚨 Rollback in progress: order-service*')
    assert result['diff']['after'] == result['message'] + '\n'
    assert result['diff']['after_header'] == 'started message to slack-1, webhook-1'


def test_bad_input_fails_saying_what_to_do_and_sends_nothing(receiver, tmp_path):
    result = notify({'channels': [channel(receiver, 'slack', name='ops'), channel(receiver, 'teams', name='ops')],
                     'event': 'started'}, tmp_path)
    assert result['failed'] is True
    assert result['msg'] == ('Channel names must be unique, ops is used more than once: give each channel its own '
                             'name. Nothing was sent.')
    assert receiver.posts() == []


def test_an_unknown_event_is_refused_by_the_argument_spec(receiver, tmp_path):
    result = notify({'channels': [channel(receiver, 'slack')], 'event': 'finished'}, tmp_path)
    assert result['failed'] is True and 'finished' in result['msg'] and 'started' in result['msg']
    assert receiver.posts() == []


@pytest.mark.parametrize('path, required', [('/slack', False), ('/status/500', False), ('/status/500', True)])
def test_the_url_secret_never_shows_at_vvv(receiver, tmp_path, path, required):
    args = dict(FAST, retries=0, required=required, event='started', context=CONTEXT,
                channels=[channel(receiver, 'slack', path, headers={'Authorization': HEADER_SECRET})])
    code, output = run_ansible(args, tmp_path, '-vvv', callback='default')
    assert code == (2 if required else 0), output
    assert len(receiver.posts(path + '/')) == 1
    assert receiver.posts(path + '/')[0]['path'].endswith(SECRET)   # it was really sent there
    assert MASKED in output
    assert SECRET not in output and SECRET.rsplit('/', maxsplit=1)[-1] not in output and HEADER_SECRET not in output
