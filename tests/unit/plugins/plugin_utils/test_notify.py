# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure logic of notifications: messages, payloads, escalation levels, backoff, masking, input rules.
Delivery over HTTP is tested against a real server in tests/integration/test_notify_delivery.py."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.plugin_utils import notify as n

RUNBOOK_CONTEXT = {
    'incident_id': 'INC-2024-0117', 'service': 'order-service', 'from_version': '1.2.3', 'to_version': '1.2.2',
    'reason': 'Error rate spiked to 8%', 'eta_minutes': 5, 'status_channel': '#inc-order',
    'impact': ['Order creation may fail intermittently', 'No data loss expected'], 'initiated_by': '@engineer',
    'duration_seconds': 240, 'status': 'Service healthy',
    'checks': [{'name': 'Error rate', 'before': '8%', 'after': '0.1%', 'passed': True},
               {'name': 'Latency p95', 'before': '2000ms', 'after': '2100ms', 'passed': False}],
    'next_steps': ['Incident ticket: INC-2024-0117', 'RCA scheduled for tomorrow'],
}


def message(event, context=None, escalation=None, **extra):
    variables = n.template_vars(event, RUNBOOK_CONTEXT if context is None else context, escalation, **extra)
    title, body = n.render(n.DEFAULT_TEMPLATES[event], variables, 'default')
    return title + '\n' + body


def params(**overrides):
    base = {'channels': [{'type': 'slack', 'url': 'https://hooks.slack.com/services/T1/B2/abcdefghijkl'}],
            'event': 'started', 'context': {}, 'templates': {}, 'required': False, 'retries': 3, 'delay': 1.0,
            'timeout': 10.0, 'escalation_levels': None, 'elapsed_minutes': 0.0, 'outcome': None}
    base.update(overrides)
    return base


# Messages ------------------------------------------------------------------

def test_started_message_has_what_the_runbook_announces():
    text = message('started', now=datetime.datetime(2024, 1, 17, 14, 45, tzinfo=datetime.timezone.utc))
    assert text.splitlines()[0] == '🚨 Rollback in progress: order-service'
    for line in ('**Incident:** INC-2024-0117', '**Service:** order-service', '**Version:** 1.2.3 → 1.2.2',
                 '**Reason:** Error rate spiked to 8%', '**Started:** 2024-01-17 14:45 UTC', '**ETA:** 5 minutes',
                 '- Order creation may fail intermittently', '- No data loss expected',
                 '- Rollback initiated by @engineer', 'Updates in #inc-order'):
        assert line in text.splitlines()


def test_completed_message_has_duration_checks_and_what_not_to_redeploy():
    lines = message('completed').splitlines()
    assert lines[0] == '✅ Rollback complete: order-service'
    for line in ('**Rolled back to:** 1.2.2', '**Duration:** 4 minutes', '**Status:** Service healthy',
                 '- Error rate: 0.1% (was 8%) ✅', '- Latency p95: 2100ms (was 2000ms) ❌',
                 'Do not re-deploy 1.2.3 without a fix.', '- RCA scheduled for tomorrow'):
        assert line in lines


def test_failed_message_says_why():
    text = message('failed', dict(RUNBOOK_CONTEXT, status=None, verdict='FAILED on web-2', error='2.4.0 unhealthy'))
    assert text.splitlines()[0] == '❌ Rollback FAILED: order-service'
    assert '**Status:** FAILED on web-2' in text
    assert '**Error:** 2.4.0 unhealthy' in text


def test_update_message_reports_progress():
    text = message('update', {'services': ['api', 'worker'], 'progress': 'Rolled back 2 of 4 hosts'})
    assert text.splitlines()[0] == '🔄 Rollback update: api, worker'
    assert '**Progress:** Rolled back 2 of 4 hosts' in text


def test_fields_not_given_are_left_out():
    text = message('started', {'service': 'order-service'})
    for label in ('Version', 'Reason', 'ETA', 'Impact', 'Incident', 'initiated by', 'Updates in'):
        assert label not in text
    assert '**Started:** ' in text   # now, when not given


def test_escalation_message_names_the_level_and_why():
    escalation = n.choose_escalation(n.DEFAULT_ESCALATION_LEVELS, 12, 'failed')
    text = message('escalation', {'service': 'order-service'}, dict(escalation, mention='@leads'),
                   elapsed_minutes=12.0, outcome='failed')
    assert text.splitlines()[0] == '📣 Escalation to team lead: order-service'
    assert '@leads The rollback of order-service needs team lead: outcome failed.' in text
    assert '**Elapsed:** 12 minutes' in text


def test_undefined_variable_in_a_template_is_refused_by_name():
    with pytest.raises(InvalidInputError, match="'ticket_url' is undefined"):
        n.render('Rollback {{ ticket_url }}', n.template_vars('started', {}), 'template x.j2')


def test_a_template_cannot_reach_python_internals():
    with pytest.raises(InvalidInputError, match='Cannot render the template x.j2'):
        n.render("{{ ''.__class__.__mro__[1].__subclasses__() }}", n.template_vars('started', {}), 'template x.j2')


def test_checks_must_be_named_mappings():
    with pytest.raises(InvalidInputError, match='context.checks must be a list of mappings'):
        n.template_vars('completed', {'checks': ['error rate ok']})


@pytest.mark.parametrize('seconds, text', [
    (0, '0 seconds'), (45, '45 seconds'), (60, '1 minute'), (250, '4 minutes 10 seconds'),
    (3900, '1 hour 5 minutes'), (7261, '2 hours 1 minute'),
])
def test_duration_text(seconds, text):
    assert n.duration_text(seconds) == text


# Payloads ------------------------------------------------------------------

def test_slack_gets_mrkdwn():
    body = n.payload('slack', 'started', 'Title', '**Service:** a\nSee [the runbook](https://r.example/x)', {}, None)
    assert body == {'text': '*Title*\n*Service:* a\nSee <https://r.example/x|the runbook>'}


def test_teams_gets_an_adaptive_card_with_one_block_per_line():
    body = n.payload('teams', 'failed', 'Title', '**Service:** a\n\n- one', {}, None)
    attachment = body['attachments'][0]
    assert body['type'] == 'message'
    assert attachment['contentType'] == 'application/vnd.microsoft.card.adaptive'
    blocks = attachment['content']['body']
    assert [block['text'] for block in blocks] == ['Title', '**Service:** a', '- one']
    assert blocks[0]['color'] == 'Attention'
    assert blocks[2]['spacing'] == 'Medium'   # the blank line before it


def test_generic_webhook_gets_event_text_and_context():
    body = n.payload('webhook', 'completed', 'Title', 'Body', {'service': 'a', 'custom': 1}, None)
    assert body == {'event': 'completed', 'title': 'Title', 'text': 'Body', 'context': {'service': 'a', 'custom': 1},
                    'escalation': None}


# Escalation ----------------------------------------------------------------

@pytest.mark.parametrize('elapsed, outcome, level', [
    (0, None, 'on-call'),
    (10, 'in_progress', 'on-call'),
    (10, 'failed', 'team lead'),
    (10, 'data_issue', 'team lead'),
    (10, 'infrastructure_issue', 'platform'),
    (30, None, 'management'),
    (45, 'failed', 'management'),
])
def test_default_escalation_levels_follow_the_runbook(elapsed, outcome, level):
    assert n.choose_escalation(n.DEFAULT_ESCALATION_LEVELS, elapsed, outcome)['name'] == level


def test_custom_levels_say_which_and_why():
    levels = [{'name': 'first', 'after_minutes': 5}, {'name': 'second', 'on': ['failed'], 'channels': ['leads']}]
    assert n.choose_escalation(levels, 1, None) is None
    assert n.choose_escalation(levels, 6, None) == {
        'level': 1, 'name': 'first', 'mention': None, 'channels': None,
        'reason': '6 minutes elapsed (level after 5)'}
    assert n.choose_escalation(levels, 6, 'failed')['channels'] == ['leads']


def test_no_level_applies_is_refused_before_sending():
    levels = [{'name': 'late', 'after_minutes': 60, 'on': None, 'mention': None, 'channels': None}]
    sent = []
    with pytest.raises(InvalidInputError, match='No escalation level applies at 5 minutes'):
        n.notify(params(event='escalation', escalation_levels=levels, elapsed_minutes=5.0),
                 sender=lambda *args, **kwargs: sent.append(args))
    assert sent == []


# Backoff -------------------------------------------------------------------

def test_backoff_doubles_with_jitter_between_half_and_all():
    assert n.backoff_seconds(1, 2.0, rand=lambda: 0.0) == 1.0
    assert n.backoff_seconds(1, 2.0, rand=lambda: 1.0) == 2.0
    assert n.backoff_seconds(3, 2.0, rand=lambda: 1.0) == 8.0


def test_backoff_honours_retry_after():
    assert n.backoff_seconds(3, 2.0, retry_after=7.0, rand=lambda: 1.0) == 7.0


@pytest.mark.parametrize('header, seconds', [
    (None, None), ('', None), ('12', 12.0), ('0', 0.0), ('3600', n.MAX_RETRY_AFTER), ('-4', 0.0), ('soon', None),
    ('Wed, 17 Jan 2024 14:45:20 GMT', 20.0),
])
def test_retry_after_header(header, seconds):
    now = datetime.datetime(2024, 1, 17, 14, 45, tzinfo=datetime.timezone.utc)
    assert n.retry_after_seconds(header, now=now) == seconds


# Secrets -------------------------------------------------------------------

def test_redactor_masks_urls_their_paths_and_header_values():
    redact = n.Redactor([{'url': 'https://hooks.slack.com/services/T1/B2/abcdefghijkl?token=qwertyuiop',
                          'headers': {'Authorization': 'Bearer 0123456789', 'X-Short': 'ab'}}])
    said = redact.data({'msg': 'POST https://hooks.slack.com/services/T1/B2/abcdefghijkl?token=qwertyuiop failed; '
                               'path /services/T1/B2/abcdefghijkl; query token=qwertyuiop; '
                               'auth Bearer 0123456789; short ab'})
    assert said['msg'] == ('POST ******** failed; path ********; query ********; auth ********; short ab')


def test_shown_url_keeps_scheme_and_host_only():
    assert n.shown_url('https://hooks.slack.com/services/T1/B2/abc') == 'https://hooks.slack.com/********'


# Input ---------------------------------------------------------------------

def test_channels_are_named_by_type_and_position():
    channels = [{'type': 'slack'}, {'type': 'teams'}, {'type': 'slack', 'name': 'leads'}, {'type': 'slack'}]
    assert n.channel_names(channels) == ['slack-1', 'teams-1', 'leads', 'slack-3']


@pytest.mark.parametrize('overrides, says', [
    ({'channels': []}, 'No channel to notify'),
    ({'channels': [{'type': 'slack', 'url': 'https://a.example/x', 'name': 'ops'},
                   {'type': 'teams', 'url': 'https://b.example/y', 'name': 'ops'}]}, 'ops is used more than once'),
    ({'channels': [{'type': 'slack', 'url': 'hooks.slack.com/services/x'}]}, 'is not an http:// or https:// URL'),
    ({'templates': {'finished': 'x.j2'}}, 'templates has no event finished'),
    ({'retries': -1}, 'retries must be 0 or more'),
    ({'timeout': 0.0}, 'timeout must be more than 0'),
    ({'escalation_levels': [{'name': 'lead'}]}, 'lead has neither after_minutes nor on'),
    ({'escalation_levels': [{'name': 'lead', 'after_minutes': 0, 'channels': ['nope']}]},
     'names channels that do not exist: nope'),
])
def test_bad_input_is_refused_and_nothing_is_sent(overrides, says):
    sent = []
    with pytest.raises(InvalidInputError, match=says) as caught:
        n.notify(params(**overrides), sender=lambda *args, **kwargs: sent.append(args))
    assert 'Nothing was sent.' in caught.value.msg
    assert sent == []
