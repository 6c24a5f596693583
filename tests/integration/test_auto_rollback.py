# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alert-triggered rollback on the lab, with the real chain scripts/alerting.sh runs:
Prometheus (Debian) scrapes the demo apps and fires DemoErrorRate, Alertmanager (Debian)
posts it with a bearer token to ansible-rulebook (PyPI) running the collection's rulebook
and event source, which runs the rollback playbook.

The tests run in order: the first rolls back through the whole chain; the second posts
what Alertmanager could send next (a repeat, a resolved alert, an alert without
auto_rollback, a wrong token) and then one alert that must act: the rulebook handles
events in order, so when that last rollback is done, anything the earlier events had
started would have left its own incident report.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from loadgen import LoadGenerator

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)

PORTS = {'OPS_ROLLBACK_ALERTING_PROMETHEUS_PORT': '19191', 'OPS_ROLLBACK_ALERTING_ALERTMANAGER_PORT': '19094',
         'OPS_ROLLBACK_ALERTING_SOURCE_PORT': '15051'}
SOURCE = 'http://127.0.0.1:{0}/alerts'.format(PORTS['OPS_ROLLBACK_ALERTING_SOURCE_PORT'])


class Alerting:
    """scripts/alerting.sh in a directory of its own, and what a user sees of it."""

    def __init__(self, directory):
        self.dir = directory
        self.env = dict(os.environ, OPS_ROLLBACK_ALERTING_DIR=directory, **PORTS)
        self.env['PATH'] = BIN + os.pathsep + self.env.get('PATH', '')

    def script(self, *args):
        return subprocess.run(['bash', os.path.join(REPO, 'scripts', 'alerting.sh')] + list(args), env=self.env,
                              check=True, capture_output=True, text=True)

    @property
    def token(self):
        with open(os.path.join(self.dir, 'token')) as handle:
            return handle.read().strip()

    def log(self):
        with open(os.path.join(self.dir, 'rulebook.log'), errors='replace') as handle:
            return handle.read()

    def reports(self):
        """The incident reports (JSON) of the rollbacks the rulebook ran, oldest first."""
        found = []
        for path in sorted(glob.glob(os.path.join(self.dir, 'reports', '*.json')), key=os.path.getmtime):
            with open(path) as handle:
                found.append(json.load(handle))
        return found

    def post(self, alerts, token=None):
        """POST a webhook as Alertmanager does; returns the HTTP status."""
        body = json.dumps({'version': '4', 'status': alerts[0]['status'], 'receiver': 'ops-rollback',
                           'groupKey': 'test', 'alerts': alerts}).encode()
        request = urllib.request.Request(SOURCE, data=body, method='POST', headers={
            'Content-Type': 'application/json', 'Authorization': 'Bearer ' + (token or self.token)})
        try:
            # An opener of its own: no auth handler another test installed answers the 401 itself.
            with urllib.request.build_opener().open(request, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    def wait_for_reports(self, count, timeout=180):
        """Block until ``count`` rollbacks have ended (their playbook's recap is in the log, after its
        report and lock release); a deadline, never a timing assertion."""
        deadline = time.monotonic() + timeout
        while self.log().count('PLAY RECAP') < count and time.monotonic() < deadline:
            time.sleep(0.5)
        return self.reports()


def alert(name, status='firing', **labels):
    """An alert as Alertmanager sends it; its error rate (40 %) is one the decision rules roll back for."""
    return {'status': status, 'labels': dict({'alertname': name, 'service': 'demo'}, **labels),
            'annotations': {'summary': name + ' in a test', 'error_rate': '40'}, 'startsAt': '2026-12-01T12:00:00Z',
            'endsAt': '0001-01-01T00:00:00Z', 'generatorURL': 'http://127.0.0.1/graph', 'fingerprint': name}


@pytest.fixture(scope='module')
def alerting(lab, tmp_path_factory):
    lab.reset()
    lab.deploy('v1.2.8')
    lab.deploy('v1.2.9')
    chain = Alerting(str(tmp_path_factory.mktemp('alerting')))
    chain.script('up', str(lab.size))
    yield chain
    chain.script('down')


def test_a_firing_alert_rolls_the_service_back_through_alertmanager_and_the_rulebook(lab, alerting):
    loads = [LoadGenerator(lab.hosts[host]['lab_http_url'], clients=1, pause=0.05) for host in lab.names]
    for load in loads:
        load.start()
    try:
        lab.deploy('v1.3.0', broken=True)
        reports = alerting.wait_for_reports(1)
    finally:
        for load in loads:
            load.stop()

    assert len(reports) == 1, alerting.log()[-4000:]
    report = reports[0]
    assert report['outcome'] == 'done', report
    assert report['services']['demo']['from_version'] == 'v1.3.0'
    assert report['services']['demo']['to_version'] == 'v1.2.9'
    assert report['initiated_by'] == 'alert DemoErrorRate via ansible-rulebook'
    assert report['trigger']['name'] == 'DemoErrorRate'
    assert report['trigger']['labels']['auto_rollback'] == 'true'
    assert report['reason'].startswith('alert DemoErrorRate firing since ')
    # The alert's severity and error rate reached the decision phase.
    assert report['services']['demo']['decision']['decision'] == 'rollback_now'
    assert set(lab.served_all().values()) == {'v1.2.9'}
    assert not lab.locked()
    # The token Alertmanager sends is in no log.
    assert alerting.token not in alerting.log()


def test_repeats_resolved_alerts_and_wrong_tokens_start_nothing(lab, alerting):
    lab.deploy('v1.3.0', broken=True)
    assert set(lab.served_all().values()) == {'v1.3.0'}
    before = len(alerting.reports())

    assert alerting.post([alert('DemoWrongToken', auto_rollback='true', severity='critical')], token='wrong') == 401
    # A repeat of the alert that already rolled demo back, within the throttle window.
    assert alerting.post([alert('DemoErrorRate', auto_rollback='true', severity='critical')]) == 202
    assert alerting.post([alert('DemoLatency', status='resolved', auto_rollback='true')]) == 202
    assert alerting.post([alert('DemoDiskFull', severity='critical')]) == 202
    # Then one that must act: the marker that the events before it were handled.
    assert alerting.post([alert('DemoDrillMarker', auto_rollback='true', severity='critical')]) == 202
    reports = alerting.wait_for_reports(before + 1)

    assert [report['trigger']['name'] for report in reports[before:]] == ['DemoDrillMarker'], alerting.log()[-4000:]
    assert reports[-1]['outcome'] == 'done'
    assert set(lab.served_all().values()) == {'v1.2.9'}
    # Every event was logged, acted on or not; the wrong token never reached the rulebook.
    log = alerting.log()
    for line in ('alert DemoLatency resolved for service demo', 'alert DemoDiskFull firing for service demo',
                 'alert DemoDrillMarker firing for service demo'):
        assert line in log
    assert log.count('alert DemoErrorRate firing for service demo') >= 2
    assert 'DemoWrongToken' not in log


def test_the_drill_scores_the_alert_triggered_rollback(lab, alerting, tmp_path, monkeypatch):
    lab.deploy('v1.2.9')
    # A fresh chain: the rulebook's throttle still holds DemoErrorRate for demo back.
    alerting.script('up', str(lab.size))
    for name, value in dict(PORTS, OPS_ROLLBACK_ALERTING_DIR=alerting.dir).items():
        monkeypatch.setenv(name, value)

    _rc, output = lab.run('-e', '@lab/drill-alert.yml', '-e', 'drill_name=alert-drill',
                          '-e', 'drill_report_dir=' + str(tmp_path), playbook='ops.rollback.drill')

    with open(str(tmp_path / 'alert-drill-scorecard.json')) as handle:
        card = json.load(handle)
    assert 'DRILL SCORECARD: alert-drill' in output
    # Every step of the chain was seen, in order, and the customers' failed requests were counted.
    assert card['not_measured'] == {}, card
    assert card['bad_deploy_at'] < card['alert_at'] < card['healthy_at']
    assert card['rollback_started_at'][:19] <= card['healthy_at'][:19]
    assert 0 < card['failed_requests'] < card['requests']
    assert set(lab.served_all().values()) == {'v1.2.9'}
