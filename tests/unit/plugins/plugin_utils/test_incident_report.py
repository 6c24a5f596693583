# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident report: what it says about a run, from the verdicts and the timeline records."""
from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.plugin_utils.incident_report import (
    ARGUMENT_SPEC, build_report, read_timeline, render_markdown, write_report,
)
from ansible_collections.ops.rollback.plugins.plugin_utils.verdict import run_verdicts

TARGETS = {'orders': {'version': 'v1.2.9', 'rule': 'ledger'}, 'search': {'version': 'v4.1.0', 'rule': 'explicit'}}


def host(name, service, current, to=None, verified=False, failure=None):
    """A host's facts at the end of a run, as the phase roles leave them."""
    facts = {'inventory_hostname': name, 'rollback_service': service, 'rollback_platform': 'symlink',
             'symlink_state': {'current': current}}
    if to:
        facts['roll_back_outcome'] = {'to_version': to}
        if failure:
            facts['roll_back_outcome']['failure'] = failure
    if verified:
        facts['verify_health'] = {'passed': True}
    return facts


DONE_AND_NOT_VERIFIED = run_verdicts(
    [host('web1', 'orders', 'v1.3.0', 'v1.2.9', verified=True), host('idx1', 'search', 'v4.2.0', 'v4.1.0')], TARGETS)


def params(**given):
    """The options as the action plugin hands them over: validated, defaults filled in."""
    given.setdefault('incident_id', 'INC-7')
    given.setdefault('dest', '/nonexistent')
    result = ArgumentSpecValidator(ARGUMENT_SPEC).validate(given)
    assert not result.error_messages
    return result.validated_parameters


def record(phase, task, start, end, outcome='ok', host_name='web1', **extra):
    return dict(event='task', phase=phase, task=task, host=host_name, start=start, end=end, outcome=outcome, **extra)


def test_done_service_ticks_health_and_lists_version_left_as_do_not_redeploy():
    verdicts = run_verdicts([host('web1', 'orders', 'v1.3.0', 'v1.2.9', verified=True)], TARGETS)
    report = build_report(params(verdicts=verdicts, ticket='OPS-1', services={'orders': {
        'deployment_record_updated': True, 'notifications': [{'event': 'completed', 'channels': [{'name': 'slack', 'delivered': True}]}]}}), [])
    orders = report['services']['orders']
    assert (orders['state'], orders['from_version'], orders['to_version']) == ('done', 'v1.3.0', 'v1.2.9')
    assert report['outcome'] == 'done'
    assert report['do_not_redeploy'] == [
        {'service': 'orders', 'version': 'v1.3.0', 'incident_id': 'INC-7', 'recorded': True}]
    ticked = dict((i['item'], i['done']) for section in report['checklist'] for i in section['items'])
    assert [item for item, done in ticked.items() if done] == [
        'Service health verified', 'Team notified', 'Incident ticket created', 'Deployment record updated']
    assert len(ticked) == 16


def test_a_service_not_verified_leaves_health_unticked_and_outcome_worst_first():
    report = build_report(params(verdicts=DONE_AND_NOT_VERIFIED), [])
    assert report['outcome'] == 'not_verified'
    assert report['services']['search']['verdict'] == 'rolled back but NOT verified'
    immediate = report['checklist'][0]['items']
    assert immediate[0] == {'item': 'Service health verified', 'done': False}
    # No notification was delivered, no ticket given, no record updated.
    assert not any(i['done'] for section in report['checklist'] for i in section['items'])


def test_failed_service_still_marks_the_version_left():
    verdicts = run_verdicts([host('web1', 'orders', 'v1.3.0', 'v1.3.0', failure='restart failed'),
                             host('web2', 'orders', 'v1.3.0')], TARGETS)
    report = build_report(params(verdicts=verdicts), [])
    assert report['outcome'] == 'failed'
    assert report['services']['orders']['failed_hosts'] == ['web1']
    assert [e['version'] for e in report['do_not_redeploy']] == ['v1.3.0']


def test_plan_only_marks_nothing_and_ticks_nothing():
    verdicts = run_verdicts([host('web1', 'orders', 'v1.3.0', 'v1.2.9', verified=True)], TARGETS, check_mode=True)
    report = build_report(params(verdicts=verdicts, ticket='OPS-1', check_mode_run=True), [])
    assert report['outcome'] == 'planned'
    assert report['do_not_redeploy'] == []
    assert not any(i['done'] for section in report['checklist'] for i in section['items'])
    assert 'Plan only' in render_markdown(report)


def test_check_mode_and_verdicts_come_from_the_timeline_when_not_given():
    records = [{'event': 'start', 'at': '2026-11-23T03:00:00.000Z', 'check_mode': True},
               {'event': 'summary', 'at': '2026-11-23T03:02:00.500Z', 'verdicts': DONE_AND_NOT_VERIFIED}]
    report = build_report(params(), records)
    assert report['check_mode_run'] is True
    assert sorted(report['services']) == ['orders', 'search']
    assert (report['started'], report['finished'], report['duration_seconds']) == (
        '2026-11-23T03:00:00.000Z', '2026-11-23T03:02:00.500Z', 120.5)


def test_explicit_versions_win_over_the_verdict():
    report = build_report(params(verdicts=DONE_AND_NOT_VERIFIED, services={'orders': {
        'from_version': 'v1.3.0-rc2', 'to_version': 'v1.2.9'}}), [])
    assert report['services']['orders']['from_version'] == 'v1.3.0-rc2'
    assert report['do_not_redeploy'][0]['version'] == 'v1.3.0-rc2'


def test_service_without_verdict_says_so():
    report = build_report(params(services={'billing': {}}), [])
    assert report['services']['billing']['state'] is None
    assert report['services']['billing']['verdict'].startswith('no verdict')
    assert report['outcome'] == 'unknown'


def test_phases_with_durations_skips_and_failed_tasks():
    records = [
        {'event': 'start', 'at': '2026-11-23T03:00:00.000Z', 'check_mode': False},
        record('decide', 'Decide', '2026-11-23T03:00:00.000Z', '2026-11-23T03:00:01.000Z'),
        record('protect_data', 'Skip phase protect_data', '2026-11-23T03:00:01.000Z', '2026-11-23T03:00:01.100Z'),
        record('roll_back', 'Switch', '2026-11-23T03:00:02.000Z', '2026-11-23T03:00:05.000Z'),
        record('roll_back', 'Restart', '2026-11-23T03:00:03.000Z', '2026-11-23T03:01:04.000Z', outcome='failed',
               host_name='web2', msg='GET http://ops:hunter22@web2:8000/health?token=abcdefghij failed'),
        record('roll_back', 'Optional', '2026-11-23T03:00:03.000Z', '2026-11-23T03:00:04.000Z', outcome='ignored'),
        record(None, 'Outside any phase', '2026-11-23T03:01:05.000Z', '2026-11-23T03:01:06.000Z'),
    ]
    report = build_report(params(), records, skipped={'protect_data': 'no databases configured'})
    phases = dict((p['phase'], p) for p in report['timeline']['phases'])
    assert list(phases) == ['decide', 'protect_data', 'roll_back']
    assert phases['protect_data']['outcome'] == 'skipped'
    assert phases['protect_data']['reason'] == 'no databases configured'
    assert (phases['roll_back']['outcome'], phases['roll_back']['duration_seconds']) == ('failed', 62.0)
    assert phases['decide'] == {'phase': 'decide', 'outcome': 'ok', 'reason': None, 'duration_seconds': 1.0,
                                'start': '2026-11-23T03:00:00.000Z', 'end': '2026-11-23T03:00:01.000Z'}
    assert report['timeline']['failed_tasks'] == [{
        'phase': 'roll_back', 'task': 'Restart', 'host': 'web2', 'at': '2026-11-23T03:01:04.000Z',
        'msg': 'GET http://ops:********@web2:8000/health?token=******** failed'}]
    # Without a finished time, the run ends with its last task so far.
    assert report['finished'] == '2026-11-23T03:01:06.000Z'


def test_skip_reason_of_the_summary_wins():
    records = [record('edge', 'Skip phase edge', '2026-11-23T03:00:00.000Z', '2026-11-23T03:00:00.100Z'),
               {'event': 'summary', 'phases': {'edge': {'outcome': 'skipped', 'reason': 'no load balancer'}}}]
    phases = build_report(params(), records, skipped={'edge': 'other'})['timeline']['phases']
    assert (phases[0]['outcome'], phases[0]['reason']) == ('skipped', 'no load balancer')


def test_timeline_last_run_only_and_bad_lines_warned(tmp_path):
    path = tmp_path / 'timeline.jsonl'
    lines = [{'event': 'start', 'at': '2026-11-22T01:00:00.000Z'},
             record('decide', 'old run', '2026-11-22T01:00:00.000Z', '2026-11-22T01:00:01.000Z'),
             {'event': 'start', 'at': '2026-11-23T03:00:00.000Z'},
             record('decide', 'new run', '2026-11-23T03:00:00.000Z', '2026-11-23T03:00:01.000Z')]
    path.write_text('\n'.join(json.dumps(line) for line in lines) + '\nnot json\n[1]\n')
    records, warnings = read_timeline(str(path))
    assert [r.get('task') for r in records] == [None, 'new run']
    assert warnings == ['Skipped 2 line(s) of the timeline {0} that are not timeline records (JSON objects).'.format(
        path)]


def test_missing_timeline_is_a_warning(tmp_path):
    records, warnings = read_timeline(str(tmp_path / 'absent.jsonl'))
    assert records == []
    assert 'Cannot read the timeline' in warnings[0] and 'No such file' in warnings[0]


@pytest.mark.parametrize('incident_id', ['', '../etc/passwd', 'INC/7', '.hidden', 'INC 7', 'x' * 101, 'INC-7\n'])
def test_incident_id_that_cannot_be_a_file_name_is_refused(incident_id, tmp_path):
    with pytest.raises(InvalidInputError) as caught:
        write_report(params(incident_id=incident_id, dest=str(tmp_path / 'reports')))
    assert 'cannot name the report files' in caught.value.msg
    assert 'Nothing was written.' in caught.value.msg
    assert not (tmp_path / 'reports').exists()


@pytest.mark.parametrize('services, words', [
    ({'orders': {'backups': [{'size': 12}]}}, 'services.orders: missing required arguments: path'),
    ({'orders': {'checks': [{'name': 'x', 'passd': True}]}},
     'services.orders: unsupported parameters: checks.passd. Supported parameters include: after, before, name, '
     'passed, threshold. Fix that service'),
    ({'orders': {'backups': [{'path': '/b', 'size': 'big'}]}}, "services.orders: argument 'size' is of type str"),
    ({'orders': 'v1.2.9'}, 'services.orders must be a mapping'),
])
def test_bad_service_input_says_which_service_and_what(services, words):
    with pytest.raises(InvalidInputError) as caught:
        build_report(params(services=services), [])
    assert caught.value.msg.startswith(words)
    assert caught.value.msg.endswith('Nothing was written.')


@pytest.mark.parametrize('times, words', [
    ({'started': 'yesterday'}, "started 'yesterday' is not an ISO 8601 time"),
    ({'started': '2026-11-23T03:10:00Z', 'finished': '2026-11-23T03:00:00Z'}, 'finished 2026-11-23T03:00:00Z is before'),
])
def test_bad_times_are_refused(times, words):
    with pytest.raises(InvalidInputError) as caught:
        build_report(params(**times), [])
    assert caught.value.msg.startswith(words)


def test_markdown_tables_hold_values_with_pipes_and_newlines():
    report = build_report(params(verdicts=DONE_AND_NOT_VERIFIED, services={'orders': {
        'checks': [{'name': 'body a|b', 'before': {'p95': 812}, 'after': 'line1\nline2', 'passed': False}],
        'backups': [{'path': '/b/orders.dump', 'size': 3 * 1024 * 1024, 'sha256': 'c0ffee', 'verified': True}]}}), [])
    text = render_markdown(report)
    assert '| body a\\|b | {"p95": 812} | line1 line2 | - | no |' in text
    assert '| - | /b/orders.dump | 3.0 MiB (3145728 bytes) | c0ffee | yes |' in text


def test_written_once_then_unchanged_and_owner_only(tmp_path):
    options = params(dest=str(tmp_path / 'reports'), verdicts=DONE_AND_NOT_VERIFIED,
                     started='2026-11-23T03:00:00Z', finished='2026-11-23T03:05:00Z')
    planned = write_report(options, check_mode=True)
    assert planned['changed'] and not (tmp_path / 'reports').exists()
    first = write_report(options)
    assert first['changed']
    for path in (first['markdown_path'], first['json_path']):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(first['json_path']) as handle:
        assert json.load(handle) == first['report']
    assert write_report(options)['changed'] is False
    # A mode opened up by someone else is put back.
    os.chmod(first['json_path'], 0o644)
    assert write_report(options)['changed'] is True
    assert stat.S_IMODE(os.stat(first['json_path']).st_mode) == 0o600


def test_diff_shows_the_markdown_before_and_after(tmp_path):
    options = params(dest=str(tmp_path), verdicts=DONE_AND_NOT_VERIFIED, severity='SEV3')
    first = write_report(options)
    changed = write_report(dict(options, severity='SEV1'), check_mode=True)
    assert changed['changed']
    assert '| Severity | SEV3 |' in changed['diff']['before'] and '| Severity | SEV1 |' in changed['diff']['after']
    with open(first['markdown_path']) as handle:
        assert '| Severity | SEV3 |' in handle.read()


def test_dest_that_is_a_file_is_refused(tmp_path):
    dest = tmp_path / 'reports'
    dest.write_text('')
    with pytest.raises(InvalidInputError) as caught:
        write_report(params(dest=str(dest)))
    assert 'is not a directory' in caught.value.msg
    assert dest.read_text() == ''
