# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a running HAProxy loads a backend's server states from at a reload, read from its command line
and configuration (lb_switch backend=haproxy warns when nowhere). The integration tests run the global
case against a real HAProxy; these cover the other forms of the configuration."""
from __future__ import annotations

import os

import pytest

from ansible_collections.ops.rollback.plugins.module_utils.traffic.haproxy import (
    ConfigUnknown,
    config_files,
    server_state_file,
)

GLOBAL = """global
    server-state-base /var/lib/haproxy   # relative names are under it
    server-state-file state
defaults
    mode http
    load-server-state-from-file global
backend web
    server a 10.0.0.1:80
"""


@pytest.mark.parametrize('config, pool, expected', [
    (GLOBAL, 'web', '/var/lib/haproxy/state'),
    # Without load-server-state-from-file the file is not read, whatever global says.
    (GLOBAL.replace('    load-server-state-from-file global\n', ''), 'web', None),
    # A backend's own setting wins over its defaults.
    (GLOBAL.replace('    server a', '    load-server-state-from-file none\n    server a'), 'web', None),
    # The last defaults section before the backend applies, not an earlier one.
    (GLOBAL.replace('backend web', 'defaults\n    mode tcp\nbackend web'), 'web', None),
    # A named defaults section chosen with "from".
    ('global\n  server-state-file /run/s\ndefaults keep\n  load-server-state-from-file global\ndefaults\n'
     '  mode http\nbackend web from keep\n  server a 1.2.3.4:80\n', 'web', '/run/s'),
    # local: a file per backend, named by server-state-file-name or after the backend, under server-state-base.
    ('global\n  server-state-base /var/state\nlisten web\n  load-server-state-from-file local\n', 'web',
     '/var/state/web'),
    ('global\n  server-state-base /var/state\nbackend web\n  load-server-state-from-file local\n'
     '  server-state-file-name web.state\n', 'web', '/var/state/web.state'),
    # global mode but no server-state-file: nothing is loaded.
    ('defaults\n  load-server-state-from-file global\nbackend web\n', 'web', None),
    # Another backend's setting does not count.
    ('global\n  server-state-file /s\nbackend api\n  load-server-state-from-file global\nbackend web\n', 'web', None),
])
def test_server_state_file_of_a_backend(config, pool, expected):
    assert server_state_file(config, pool) == expected


def write_process(proc, pid, argv, cwd=None):
    os.makedirs(os.path.join(proc, str(pid)))
    with open(os.path.join(proc, str(pid), 'cmdline'), 'wb') as handle:
        handle.write(b'\0'.join(a.encode() for a in argv) + b'\0')
    if cwd:
        os.symlink(cwd, os.path.join(proc, str(pid), 'cwd'))


def test_config_files_from_the_command_line_a_directory_gives_its_cfg_files(tmp_path):
    conf = tmp_path / 'conf.d'
    conf.mkdir()
    for name in ('20-web.cfg', '10-global.cfg', 'notes.txt'):
        (conf / name).write_text('')
    (tmp_path / 'main.cfg').write_text('')
    proc = str(tmp_path / 'proc')
    write_process(proc, 42, ['/usr/sbin/haproxy', '-Ws', '-f', 'main.cfg', '-f', str(conf), '-p', '/run/h.pid'],
                  cwd=str(tmp_path))
    assert config_files(proc, 42) == [str(tmp_path / 'main.cfg'), str(conf / '10-global.cfg'),
                                      str(conf / '20-web.cfg')]


@pytest.mark.parametrize('argv, message', [
    (None, 'process 7 is not visible here'),
    (['/usr/bin/python3', 'app.py'], 'process 7 of "show info" is not HAProxy here'),
    (['haproxy', '-db'], 'process 7 was started without -f'),
])
def test_config_files_unknown_says_why(tmp_path, argv, message):
    proc = str(tmp_path / 'proc')
    if argv:
        write_process(proc, 7, argv)
    with pytest.raises(ConfigUnknown) as caught:
        config_files(proc, 7)
    assert str(caught.value).startswith(message)
