#!/usr/bin/env python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/traffic.py [--rounds R] [--clients C]: requests served and failed during a switch, and the time from
the switch's start until all traffic is on the target pool, for lb_switch and for the raw tool.

Switches, each under keep-alive GET and POST load (tests/integration/loadgen.py, C clients):
  - nginx:   blue (2 demo app processes, v1) to green (2, v2) and back, by
               module: lb_switch backend=nginx (write under a temporary name, nginx -t, reload, wait for the old
                       workers, verify_url), as Ansible runs it (a python process with the module's arguments);
               raw:    the upstream file rewritten in place and `nginx -s reload`.
             Clients reuse connections as browsers do (loadgen's BrowserConnection): an nginx reload closes its old
             workers' idle connections, and user agents resend a request such a connection lost unread.
  - haproxy: server a of backend web (a and b) drained, then made ready again, by
               module: lb_switch backend=haproxy state=drain (waits for 0 sessions, then maint) and state=ready
                       (waits until a health check passed);
               raw:    `set server web/a state drain`, then `maint`, then `ready` on the runtime socket (socat's job).
             Clients write to their connection blindly (HAProxy keeps client connections across a drain).
"To target" is the time from the switch's start to the last request the old pool answered (for a drain: the
last one server a answered; for ready: the first one it answered again); its ratio module/raw is printed.
The module's times include starting its Python process (about 0.3-0.4 s here), which the raw tool's do not.
"Returns" is when the command returned: the raw tool returns before anything is proven, the module once it
is. Target: 0 failed requests. Timings stay here; no test asserts on them.

Run it in the env of scripts/setup.sh --print-env (nginx and haproxy from scripts/setup.sh).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))
from haproxy_support import App, Haproxy  # noqa: E402  (beside the tests, not a package)
from loadgen import LoadGenerator  # noqa: E402
from nginx_support import DemoApp, Nginx  # noqa: E402

MODULE = '''
import json, sys
sys.path.insert(0, {collections!r})
from ansible.module_utils.testing import patch_module_args
from ansible_collections.ops.rollback.plugins.modules import lb_switch
with patch_module_args(json.loads(sys.argv[1])):
    lb_switch.main()
'''.format(collections=os.path.join(REPO, '.collections'))


def lb_switch(**args):
    out = subprocess.run([sys.executable, '-c', MODULE, json.dumps(args)], capture_output=True, text=True,
                         check=False)
    result = json.loads(out.stdout)
    if out.returncode != 0:
        sys.exit('lb_switch failed: {0}'.format(result.get('msg')))
    return result


def measured(load, switch, old=None, back=None):
    """Run ``switch()`` under ``load``; the requests answered during it, how many failed, its wall time and the
    time until the last answer of ``old`` (or the first one of ``back``), both from its start."""
    load.wait_for(50)
    before = len(load.snapshot())
    started = time.monotonic()
    switch()
    elapsed = time.monotonic() - started
    load.wait_for(50)
    during = load.snapshot()[before:]
    if back:
        answers = [r.started - started for r in during if r.ok and r.served_by == back]
        to_target = min(answers) if answers else float('nan')
    else:
        to_target = max([r.started - started for r in during if r.ok and r.served_by == old] + [0.0])
    return {'requests': len(during), 'failed': sum(not r.ok for r in during),
            'non_2xx': sum(r.status is not None and not r.ok for r in during),
            'transport': sum(r.status is None for r in during), 'switch_s': elapsed,
            'to_target_s': to_target}


def nginx_round(tmp, clients, how):
    blue = [DemoApp(tmp, 'v1') for _number in range(2)]
    green = [DemoApp(tmp, 'v2') for _number in range(2)]
    nginx = Nginx(tmp, [app.address for app in blue]).start()
    rows = []
    try:
        with LoadGenerator(nginx.url, clients=clients, browser=True) as load:
            for pool, old, new in ((green, 'v1', 'v2'), (blue, 'v2', 'v1')):
                if how == 'module':
                    def switch():
                        lb_switch(backend='nginx', upstream_file=nginx.upstream_file, upstream='pool',
                                  nginx_config=nginx.config, servers=[{'address': a.address} for a in pool],
                                  verify_url=nginx.url + '/version', verify_regex='"version": "{0}"'.format(new))
                else:
                    def switch():
                        nginx.write_upstream('upstream pool {{\n{0}    keepalive 8;\n}}\n'.format(
                            ''.join('    server {0};\n'.format(a.address) for a in pool)))
                        subprocess.run(['nginx', '-c', nginx.config, '-s', 'reload'], check=True,
                                       capture_output=True)
                rows.append(measured(load, switch, old))
    finally:
        nginx.stop()
        for app in blue + green:
            app.stop()
    return rows


def haproxy_round(tmp, clients, how):
    apps = {'a': App('a'), 'b': App('b')}
    haproxy = Haproxy(tmp, dict((name, app.port) for name, app in apps.items())).start()
    haproxy.until_checked(up=['a', 'b'])
    rows = []
    try:
        with LoadGenerator(haproxy.url, clients=clients) as load:
            if how == 'module':
                def drain():
                    lb_switch(backend='haproxy', socket=haproxy.socket, pool='web', server='a', state='drain')

                def ready():
                    lb_switch(backend='haproxy', socket=haproxy.socket, pool='web', server='a', state='ready')
            else:
                def drain():
                    haproxy.api('set server web/a state drain')
                    haproxy.until(lambda: haproxy.servers()['a']['sessions'] == 0, 'server a has no session')
                    haproxy.api('set server web/a state maint')

                def ready():
                    haproxy.api('set server web/a state ready')
            rows.append(measured(load, drain, 'a'))
            rows.append(measured(load, ready, back='a'))
    finally:
        haproxy.stop()
        for app in apps.values():
            app.stop()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--clients', type=int, default=4)
    args = parser.parse_args()
    switches = {'nginx': (nginx_round, ['blue->green', 'green->blue']),
                'haproxy': (haproxy_round, ['drain a', 'ready a'])}
    for lb, (run, names) in switches.items():
        results = dict(((how, name), []) for how in ('module', 'raw') for name in names)
        for round_ in range(args.rounds):
            for how in (('module', 'raw') if round_ % 2 == 0 else ('raw', 'module')):
                with tempfile.TemporaryDirectory(prefix='ops-rb-bench-traffic-') as tmp:
                    for name, row in zip(names, run(tmp, args.clients, how)):
                        results[(how, name)].append(row)
        print('{0}: {1} rounds, {2} keep-alive clients (GET and POST)'.format(lb, args.rounds, args.clients))
        print('  {0:12} {1:7} {2:>9} {3:>7} {4:>8} {5:>10} {6:>9} {7:>12}'.format(
            'switch', 'by', 'requests', 'failed', 'non-2xx', 'transport', 'returns s', 'to target s'))
        for name in names:
            for how in ('module', 'raw'):
                rows = results[(how, name)]
                print('  {0:12} {1:7} {2:9d} {3:7d} {4:8d} {5:10d} {6:9.2f} {7:12.2f}'.format(
                    name, how, sum(r['requests'] for r in rows), sum(r['failed'] for r in rows),
                    sum(r['non_2xx'] for r in rows), sum(r['transport'] for r in rows),
                    statistics.median(r['switch_s'] for r in rows), statistics.median(r['to_target_s'] for r in rows)))
            module = statistics.median(r['to_target_s'] for r in results[('module', name)])
            raw = statistics.median(r['to_target_s'] for r in results[('raw', name)])
            print('  {0:12} to target, module/raw (medians): {1}'.format(
                name, '{0:.2f}'.format(module / raw) if raw > 0.005 else 'raw ~0 s, module {0:.2f} s'.format(module)))


if __name__ == '__main__':
    main()
