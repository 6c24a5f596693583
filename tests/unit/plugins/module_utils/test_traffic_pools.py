# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/traffic/pools.py and the lb_pools module: the colors of a blue-green service on hosts, read from
a real upstream file and real HTTP version endpoints on 127.0.0.1; the split lb_switch gets for a share."""
from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.traffic.pools import split_servers, traffic_shares
from ansible_collections.ops.rollback.plugins.modules import lb_pools

COLORS = {'blue': ['b1:80'], 'green': ['g1:80', 'g2:80']}


# --- split_servers: what lb_switch writes for a share ---------------------------------------------------------------

def shares_of(servers, colors):
    """The share each color gets from the servers lb_switch would write, as nginx would weigh them."""
    parsed = [{'address': s['address'], 'weight': s.get('weight', 1), 'down': s.get('down', False), 'backup': False}
              for s in servers]
    return traffic_shares(parsed, colors)


@pytest.mark.parametrize('percent', [1, 10, 25, 33, 50, 75, 99])
def test_a_split_gives_the_target_its_share_whatever_the_pool_sizes(percent):
    servers = split_servers(COLORS, 'blue', percent)
    assert shares_of(servers, COLORS)['blue'] == pytest.approx(percent, abs=0.1)
    assert all(s['weight'] >= 1 for s in servers)


def test_a_side_with_no_share_is_down_never_weight_zero():
    assert split_servers(COLORS, 'blue', 100) == [
        {'address': 'b1:80'}, {'address': 'g1:80', 'down': True}, {'address': 'g2:80', 'down': True}]
    assert split_servers(COLORS, 'blue', 0) == [
        {'address': 'b1:80', 'down': True}, {'address': 'g1:80'}, {'address': 'g2:80'}]


def test_weights_are_the_smallest_whole_numbers():
    assert split_servers({'blue': ['b:1'], 'green': ['g:1']}, 'blue', 10) == [
        {'address': 'b:1', 'weight': 1}, {'address': 'g:1', 'weight': 9}]


@pytest.mark.parametrize('colors, target, percent, words', [
    ({'blue': ['b:1']}, 'blue', 10, 'at least two'),
    ({'blue': ['b:1'], 'green': ['b:1']}, 'blue', 10, 'one color only'),
    ({'blue': ['b:1'], 'green': []}, 'blue', 10, 'non-empty list'),
    ({'blue': ['b:1; evil'], 'green': ['g:1']}, 'blue', 10, 'not a server address'),
    (COLORS, 'red', 10, "'red' is not one of the colors"),
    (COLORS, 'blue', 101, 'from 0 to 100'),
    (COLORS, 'blue', 'half', 'from 0 to 100'),
])
def test_bad_splits_are_refused_saying_why(colors, target, percent, words):
    with pytest.raises(InvalidInputError, match=words):
        split_servers(colors, target, percent)


# --- shares: what nginx loads --------------------------------------------------------------------------------------

def test_down_and_backup_servers_get_no_share_and_unknown_servers_are_named():
    servers = [{'address': 'b1:80', 'weight': 3, 'down': False, 'backup': False},
               {'address': 'g1:80', 'weight': 1, 'down': True, 'backup': False},
               {'address': 'g2:80', 'weight': 1, 'down': False, 'backup': True},
               {'address': 'x:80', 'weight': 1, 'down': False, 'backup': False}]
    assert traffic_shares(servers, COLORS) == {'(other)': 25.0, 'blue': 75.0, 'green': 0.0}


# --- the module on a real upstream file and real version endpoints ----------------------------------------------------

class VersionServer(http.server.ThreadingHTTPServer):
    """Answers GET /<name>[:port]/version with {"version": versions[name]}; a name it does not know answers 500."""

    def __init__(self):
        self.versions = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.strip('/').split('/')[0].split(':')[0]
                if name not in server.versions:
                    self.send_response(500)
                    self.end_headers()
                    return
                body = json.dumps({'version': server.versions[name]}).encode()
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(('127.0.0.1', 0), Handler)


@pytest.fixture
def fleet(tmp_path):
    server = VersionServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    upstream = tmp_path / 'shop.conf'
    upstream.write_text('# written by lb_switch\nupstream shop {\n    server g1:80;\n    server g2:80 max_fails=2;\n'
                        '    server b1:80 down;\n    keepalive 8;\n}\n')
    state_dir = tmp_path / 'state'
    state_dir.mkdir()
    server.versions.update({'b1': 'v1.2.9', 'g1': 'v1.3.0', 'g2': 'v1.3.0'})
    # The servers' addresses go into the path of one local server, which answers for each of them.
    args = dict(colors=COLORS, upstream_file=str(upstream), upstream='shop', state_dir=str(state_dir),
                version_url='http://127.0.0.1:{0}/{{address}}/version'.format(server.server_address[1]))
    yield server, upstream, state_dir, args
    server.shutdown()


def listed(run_module, args, **more):
    return run_module(lb_pools.main, dict(args, **more))


def test_listed_names_the_live_color_and_orders_the_colors_versions(run_module, fleet):
    _server, _upstream, _state, args = fleet
    rc, result = listed(run_module, args)
    assert rc == 0, result
    assert result['current'] == 'v1.3.0' and result['live_color'] == 'green'
    assert [(e['version'], e['color'], e['current']) for e in result['history']] == [
        ('v1.2.9', 'blue', False), ('v1.3.0', 'green', True)]
    assert result['upstream']['shares'] == {'blue': 0.0, 'green': 100.0}
    assert result['syntax'] == 'release' and result['good'] == [] and result['bad'] == []


def test_a_color_whose_servers_disagree_has_no_version_and_says_why(run_module, fleet):
    server, _upstream, _state, args = fleet
    server.versions['g2'] = 'v1.3.1'
    rc, result = listed(run_module, args)
    assert rc == 0, result
    assert result['colors']['green']['version'] is None
    assert 'different versions' in result['colors']['green']['why']
    assert [e['version'] for e in result['history']] == ['v1.2.9']
    del server.versions['g2']
    rc, result = listed(run_module, args)
    assert 'g2:80' in result['colors']['green']['why'] and 'HTTP 500' in result['colors']['green']['why']


def test_the_lock_is_taken_then_released_and_a_second_run_is_refused(run_module, fleet):
    _server, _upstream, state_dir, args = fleet
    rc, result = listed(run_module, args, lock={'owner': 'run-1'})
    assert rc == 0 and result['changed'] and (state_dir / '.ops-rollback.lock').exists()
    rc, result = listed(run_module, args, lock={'owner': 'run-2'})
    assert rc == 1 and 'run-1' in json.dumps(result['held_by'])
    unlock = dict(upstream_file=args['upstream_file'], upstream='shop', state_dir=args['state_dir'], state='unlocked',
                  lock={'owner': 'run-1'})
    rc, result = run_module(lb_pools.main, unlock)
    assert rc == 0 and not (state_dir / '.ops-rollback.lock').exists()


def test_recorded_writes_the_verdicts_once(run_module, fleet):
    _server, _upstream, state_dir, args = fleet
    record = dict(args, state='recorded', version='v1.2.9', rolled_back_from='v1.3.0', note='INC-1')
    rc, result = run_module(lb_pools.main, record)
    assert rc == 0 and result['changed']
    entries = json.loads((state_dir / 'rollback-ledger.json').read_text())['entries']
    assert sorted((e['version'], e['state']) for e in entries) == [('v1.2.9', 'good'), ('v1.3.0', 'bad')]
    rc, result = run_module(lb_pools.main, record)
    assert rc == 0 and not result['changed']
    rc, result = listed(run_module, args)
    assert result['good'] == ['v1.2.9'] and result['bad'] == ['v1.3.0']


@pytest.mark.parametrize('change, words', [
    ({'upstream': 'absent'}, 'it holds upstream shop, not absent'),
    ({'upstream_file': '/nonexistent/shop.conf'}, 'Cannot read /nonexistent/shop.conf'),
    ({'version_url': 'http://127.0.0.1/version'}, 'must contain {address}'),
    ({'colors': {'blue': ['b1:80']}}, 'at least two'),
])
def test_bad_input_is_refused_and_takes_no_lock(run_module, fleet, change, words):
    _server, _upstream, state_dir, args = fleet
    rc, result = listed(run_module, dict(args, **change), lock={'owner': 'run-1'})
    assert rc == 1 and words in result['msg'] and 'Nothing was changed' in result['msg']
    if 'colors' in change or 'version_url' in change:
        assert not (state_dir / '.ops-rollback.lock').exists()
