# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real Prometheus scraping real demo apps, for metrics_check's tests.

The demo app (lab/demoapp/app.py) runs from temporary release directories,
one process per version on a free loopback port: a healthy ``v1``, a
``v2-broken`` (BROKEN: every third request 500; SLOW: each answer 0.3 s late)
and a ``v0-idle`` that answered once before Prometheus started and never
again (its rates are 0, so ratios of them are NaN). Background clients keep
v1 and v2-broken busy. Prometheus is started by scripts/prometheus.sh on a
free port in a temporary directory, scraping all three every second.

A test module makes ``running_metrics_lab()`` a session fixture (one line; see test_metrics_check.py).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
APP = os.path.join(REPO, 'lab', 'demoapp', 'app.py')
SCRIPT = os.path.join(REPO, 'scripts', 'prometheus.sh')
HEALTHY, BROKEN, IDLE = 'v1', 'v2-broken', 'v0-idle'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def closed_url():
    """A loopback URL where nothing listens."""
    return 'http://127.0.0.1:{0}'.format(free_port())


def until(read, what, timeout=30, interval=0.2):
    """``read()``'s first truthy value, polled until ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('{0}: not within {1} s'.format(what, timeout))
        time.sleep(interval)


class DemoApp:
    """The lab's demo app as one release: its own directory, VERSION and markers, its own process."""

    def __init__(self, root, version, broken=False, slow=None):
        self.version = version
        self.dir = os.path.join(root, version)
        os.makedirs(self.dir)
        shutil.copy(APP, self.dir)
        with open(os.path.join(self.dir, 'VERSION'), 'w') as handle:
            handle.write(version + '\n')
        if broken:
            open(os.path.join(self.dir, 'BROKEN'), 'w').close()
        if slow is not None:
            with open(os.path.join(self.dir, 'SLOW'), 'w') as handle:
                handle.write(str(slow))
        self.port = free_port()
        self.url = 'http://127.0.0.1:{0}'.format(self.port)
        self.target = '127.0.0.1:{0}'.format(self.port)
        self.process = subprocess.Popen([sys.executable, os.path.join(self.dir, 'app.py')],
                                        env=dict(os.environ, DEMO_PORT=str(self.port)),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        until(self._answers, 'demo app {0} answering on {1}'.format(version, self.url))

    def _answers(self):
        try:
            with urllib.request.urlopen(self.url + '/metrics', timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def get(self, path='/'):
        """One request, as a client makes it; the status it got."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code

    def metrics(self):
        with urllib.request.urlopen(self.url + '/metrics', timeout=5) as response:
            return response.read().decode('utf-8')

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Traffic:
    """Clients that keep requesting ``/`` from some apps until stopped, one thread per app."""

    def __init__(self, apps, pause=0.02):
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(app, pause), daemon=True) for app in apps]
        for thread in self._threads:
            thread.start()

    def _run(self, app, pause):
        while not self._stop.is_set():
            try:
                app.get('/')
            except OSError:
                pass
            self._stop.wait(pause)

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


class Prometheus:
    """A Prometheus started by scripts/prometheus.sh on a free port, in its own directory.

    ``users``: ``{user: password}`` that Prometheus asks for with basic auth (its web config), the first of
    them used by the script's own requests."""

    def __init__(self, root, targets, name='prometheus', users=None):
        self.dir = os.path.join(root, name)
        self.env = dict(os.environ, OPS_ROLLBACK_PROMETHEUS_PORT=str(free_port()),
                        OPS_ROLLBACK_PROMETHEUS_DIR=self.dir,
                        OPS_ROLLBACK_PROMETHEUS_TARGETS=','.join(targets))
        if users:
            os.makedirs(self.dir)
            web_config = os.path.join(self.dir, 'web.yml')
            with open(web_config, 'w') as handle:
                handle.write('basic_auth_users:\n' + ''.join(
                    '  {0}: {1}\n'.format(user, bcrypt_hash(password)) for user, password in users.items()))
            self.env.update(OPS_ROLLBACK_PROMETHEUS_WEB_CONFIG=web_config,
                            OPS_ROLLBACK_PROMETHEUS_AUTH='{0}:{1}'.format(*next(iter(users.items()))))
        self.url = self.script('up').strip()

    def script(self, *args):
        done = subprocess.run(['bash', SCRIPT] + list(args), env=self.env, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, 'prometheus.sh {0}: {1}'.format(' '.join(args), done.stderr)
        return done.stdout

    def scrape(self, targets):
        """Scrape these targets from now on: ``up`` again reloads Prometheus with the new config."""
        self.env['OPS_ROLLBACK_PROMETHEUS_TARGETS'] = ','.join(targets)
        self.script('up')

    def query(self, expression):
        """The result list of an instant query now (the tests' own view, to wait for data)."""
        body = urllib.parse.urlencode({'query': expression}).encode()
        with urllib.request.urlopen(self.url + '/api/v1/query', data=body, timeout=5) as response:
            return json.loads(response.read())['data']['result']

    def down(self):
        self.script('down')


def bcrypt_hash(password):
    """A bcrypt hash as Prometheus' web config takes it (libxcrypt's, through python3's crypt module)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)   # crypt leaves the standard library in 3.13
        import crypt  # pylint: disable=import-outside-toplevel
    # Cost 4, the lowest: Prometheus checks the hash on every request.
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))


class MetricsLab:
    """What the tests use: the Prometheus URL and the apps by version; ``add`` starts more, scraped too."""

    def __init__(self, prometheus, apps, root):
        self.prometheus = prometheus
        self.url = prometheus.url
        self.apps = apps
        self.root = root

    def add(self, releases):
        """Start ``{version: markers}`` and have Prometheus scrape them (one reload: its discovery takes 5 s)."""
        started = [DemoApp(self.root, version, **markers) for version, markers in releases.items()]
        self.apps.update((app.version, app) for app in started)
        self.prometheus.scrape([a.target for a in self.apps.values()])
        for app in started:
            until(lambda: self.prometheus.query('demo_http_requests_total{{version="{0}"}}'.format(app.version)),
                  'Prometheus scrapes {0}'.format(app.version))
        return started


def error_ratio(version, window='30s'):
    return ('sum(rate(demo_http_requests_total{{version="{0}",code=~"5.."}}[{1}])) '
            '/ sum(rate(demo_http_requests_total{{version="{0}"}}[{1}]))'.format(version, window))


def p95(version, window='30s'):
    return ('histogram_quantile(0.95, sum by (le) '
            '(rate(demo_http_request_duration_seconds_bucket{{version="{0}"}}[{1}])))'.format(version, window))


@contextlib.contextmanager
def running_metrics_lab():
    """The apps, their traffic and Prometheus scraping them, once Prometheus holds rates of each; stopped after."""
    root = tempfile.mkdtemp(prefix='ops-rollback-metrics-')
    apps, traffic, prometheus = {}, None, None
    try:
        apps[HEALTHY] = DemoApp(root, HEALTHY)
        apps[BROKEN] = DemoApp(root, BROKEN, broken=True, slow=0.3)
        apps[IDLE] = DemoApp(root, IDLE)
        assert apps[IDLE].get('/') == 200   # its only request, before the first scrape: its rates stay 0
        traffic = Traffic([apps[HEALTHY], apps[BROKEN]])
        prometheus = Prometheus(root, [app.target for app in apps.values()])
        # Rates need two scrapes with traffic in between; the broken app needs a 500 among them.
        for version in (HEALTHY, BROKEN):
            until(lambda: prometheus.query(
                'sum(rate(demo_http_requests_total{{version="{0}",code=~"5..|2.."}}[30s])) > 0'.format(version)),
                'Prometheus has rates of {0}'.format(version))
        until(lambda: prometheus.query(
            'sum(rate(demo_http_requests_total{{version="{0}",code="500"}}[30s])) > 0'.format(BROKEN)),
            'Prometheus has 500s of {0}'.format(BROKEN))
        until(lambda: prometheus.query('count_over_time(demo_http_requests_total{{version="{0}"}}[30s]) >= 2'.format(
            IDLE)), 'Prometheus scraped {0} twice'.format(IDLE))
        yield MetricsLab(prometheus, apps, root)
    finally:
        if traffic:
            traffic.stop()
        if prometheus:
            prometheus.down()
        for app in apps.values():
            app.stop()
        shutil.rmtree(root, ignore_errors=True)
