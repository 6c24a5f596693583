# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upstream file lb_switch backend=nginx owns: what it reads of an operator's file, what it writes,
and the servers it refuses. The integration tests run the switch against a real nginx; these cover the
forms of the file nginx accepts that those do not write."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.traffic.nginx import (
    UnparseableError,
    nginx_message,
    parse_upstream_file,
    render_upstream,
    validate_servers,
)


def server(address, weight=1, down=False, backup=False):
    return dict(address=address, weight=weight, down=down, backup=backup)


@pytest.mark.parametrize('text, expected', [
    ('', None),
    ('# nothing here yet\n\n', None),
    ('upstream web{server 10.0.0.1:80;server 10.0.0.2:80 weight=3;}',
     [server('10.0.0.1:80'), server('10.0.0.2:80', 3)]),
    ('# hand-written\nupstream web {\n  server unix:/run/a.sock down;  # out for now\n'
     '  server [2001:db8::1]:8080 backup weight=1;\n}\n',
     [server('unix:/run/a.sock', down=True), server('[2001:db8::1]:8080', backup=True)]),
])
def test_an_operators_file_is_read_as_its_servers(text, expected):
    parsed = parse_upstream_file(text, 'web')
    assert (parsed and parsed[0]) == expected


def test_other_parameters_and_directives_are_kept_where_nginx_needs_them():
    text = 'upstream web {\n    hash $request_uri consistent;\n    server 10.0.0.1:80 max_fails=3 fail_timeout=5s;\n' \
           '    server 10.0.0.2:80;\n    keepalive 16;\n}\n'
    servers, extras, directives = parse_upstream_file(text, 'web')
    servers[1]['down'] = True
    written = render_upstream('web', servers, extras, directives)
    assert written.startswith('# Managed by ops.rollback')
    # The balancing method stays before keepalive, as nginx requires.
    assert written.endswith('upstream web {\n    server 10.0.0.1:80 max_fails=3 fail_timeout=5s;\n'
                            '    server 10.0.0.2:80 down;\n    hash $request_uri consistent;\n    keepalive 16;\n}\n')
    # What it writes, it reads back as the same servers.
    assert parse_upstream_file(written, 'web') == (servers, extras, directives)


@pytest.mark.parametrize('text, why', [
    ('upstream api { server 10.0.0.1:80; }', 'holds upstream api, not web'),
    ('upstream web { server 10.0.0.1:80; }\nupstream api { server 10.0.0.2:80; }', 'more than the one upstream'),
    ('server { listen 80; }', 'does not start with an upstream block'),
    ('upstream web { server 10.0.0.1:80; ', 'not closed'),
    ('upstream web { server 10.0.0.1:80 }', 'lacks its ";"'),
    ('upstream web { zone "w" 64k; server 10.0.0.1:80; }', 'quoted text'),
    ('upstream web { server 10.0.0.1:80 weight=x; }', 'weight=x'),
    ('upstream web { if ($x) { } }', 'nested block'),
])
def test_a_file_it_would_not_write_is_not_taken_for_one(text, why):
    with pytest.raises(UnparseableError, match=why.replace('(', r'\(')):
        parse_upstream_file(text, 'web')


@pytest.mark.parametrize('address', [
    '10.0.0.1:80;server 6.6.6.6:80', '10.0.0.1:80}', 'a{b', '10.0.0.1:80#', '$host:80', '"10.0.0.1"',
    '10.0.0.1:80 down', 'weight=5', 'a\\b', '', None,
])
def test_an_address_that_could_reach_beyond_its_server_line_is_refused(address):
    with pytest.raises(InvalidInputError, match='an address is one word'):
        validate_servers([dict(address=address)])


def test_servers_default_to_weight_1_up_and_primary():
    assert validate_servers([dict(address='10.0.0.1:80'), dict(address='unix:/run/a.sock', weight=2, down=None)]) == \
        [server('10.0.0.1:80'), server('unix:/run/a.sock', 2)]


def test_nginx_message_keeps_nginxs_errors():
    stderr = ('nginx: [emerg] invalid port in upstream "10.0.0.1:99999" in /etc/nginx/conf.d/web.conf:3\n'
              'nginx: configuration file /etc/nginx/nginx.conf test failed\n')
    assert nginx_message(stderr) == 'nginx: [emerg] invalid port in upstream "10.0.0.1:99999" in ' \
                                    '/etc/nginx/conf.d/web.conf:3'
    assert nginx_message('open() "/run/nginx.pid" failed\n') == 'open() "/run/nginx.pid" failed'
