# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lb_switch backend ``nginx``: an upstream block rewritten, checked with ``nginx -t`` and reloaded.
Runs on the load balancer's host: python3's standard library only.

The module owns ``upstream_file``: one ``upstream`` block, included by the main config, written whole.
A switch writes the new file under a temporary name in the same directory, renames it into place, runs
``nginx -T`` (the test of ``nginx -t`` plus the config it loaded), puts the previous file back when nginx
refuses it, and reloads. ``verify`` then waits until the master runs the new generation of workers and
every old worker has exited, and polls ``verify_url`` until the new pool answers.

Servers are ``{address, weight, down, backup}``; the other parameters of a ``server`` line (``max_fails``...)
and the other directives of the block (``keepalive``, ``least_conn``, ``zone``...) are kept as read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time

from ansible.module_utils.urls import open_url

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    RollbackError,
    RollbackTimeoutError,
)
from ansible_collections.ops.rollback.plugins.module_utils.traffic.switch import TrafficBackend

# The options only this backend takes (lb_switch's argument spec).
NGINX_SPEC = dict(
    upstream_file=dict(type='path'),
    upstream=dict(type='str'),
    servers=dict(type='list', elements='dict', options=dict(
        address=dict(type='str', required=True),
        weight=dict(type='int'),
        down=dict(type='bool', default=False),
        backup=dict(type='bool', default=False),
    )),
    nginx_config=dict(type='path'),
    verify_url=dict(type='str'),
    verify_regex=dict(type='str'),
)

DEFAULT_CONFIG = '/etc/nginx/nginx.conf'
HEADER = ('# Managed by ops.rollback (lb_switch, backend=nginx): written whole on every switch,\n'
          '# so edits made here are lost. Change the servers through lb_switch.\n')
# Where nginx lives when the PATH of a module (often without sbin) does not say.
SBIN = ('/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin', '/sbin')
# An address goes into the config as one word: nothing that could end it or start another directive.
_ADDRESS = re.compile(r'^[^\s;{}#\'"\\$=]+$')
_WORKER_SHUTDOWN = re.compile(r'^\s*worker_shutdown_timeout\s+([^;\s]+)\s*;', re.MULTILINE)
_PID = re.compile(r'^\s*pid\s+([^;\s]+)\s*;', re.MULTILINE)
_CONFIG_FILE = re.compile(r'^# configuration file (.+):$', re.MULTILINE)
POLL_SECONDS = 0.2
# Answers of verify_url in a row that must match: one lucky answer is not a switch.
MATCHES_IN_A_ROW = 3


def run_process(argv):
    """``(rc, stdout, stderr)`` of ``argv`` run without a shell."""
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False)
    except OSError as exc:
        return 127, '', str(exc)
    return proc.returncode, proc.stdout.decode('utf-8', 'replace'), proc.stderr.decode('utf-8', 'replace')


def nginx_message(stderr):
    """What nginx said was wrong: its [emerg]/[alert] lines, else its last line."""
    lines = [line.strip() for line in (stderr or '').splitlines() if line.strip()]
    errors = [line for line in lines if '[emerg]' in line or '[alert]' in line or '[crit]' in line]
    return '; '.join(errors or lines[-1:]) or 'no output'


# --- the upstream file: parsed and written -------------------------------------------------------------------------

class UnparseableError(ValueError):
    """The upstream file holds something other than one upstream block of simple directives."""


def _tokens(text):
    """nginx's words, ``;``, ``{`` and ``}``; comments dropped. Quotes are not ours to write, so not read."""
    position, length = 0, len(text)
    while position < length:
        char = text[position]
        if char.isspace():
            position += 1
        elif char == '#':
            end = text.find('\n', position)
            position = length if end < 0 else end
        elif char in ';{}':
            yield char
            position += 1
        elif char in '"\'':
            raise UnparseableError('it has quoted text, which this module does not write')
        else:
            end = position
            while end < length and not text[end].isspace() and text[end] not in ';{}#"\'':
                end += 1
            yield text[position:end]
            position = end


def parse_upstream_file(text, name):
    """``(servers, extras, directives)`` of upstream ``name`` in ``text``, or None when the file holds no
    upstream block yet (empty or comments only). ``extras``: address -> the parameters of its server
    line this module does not set; ``directives``: the block's other directives, as word lists, in order."""
    tokens = list(_tokens(text))
    if not tokens:
        return None
    if tokens[0] != 'upstream' or len(tokens) < 3 or tokens[2] != '{':
        raise UnparseableError('it does not start with an upstream block')
    if tokens[1] != name:
        raise UnparseableError('it holds upstream {0}, not {1}'.format(tokens[1], name))
    if '{' in tokens[3:] and ('}' not in tokens or tokens.index('{', 3) < tokens.index('}')):
        raise UnparseableError('its upstream block has a nested block')
    if '}' not in tokens or tokens.index('}') != len(tokens) - 1:
        raise UnparseableError('it holds more than the one upstream block, or the block is not closed')
    servers, extras, directives, words = [], {}, [], []
    for token in tokens[3:-1]:
        if token != ';':
            words.append(token)
            continue
        if not words:
            continue
        if words[0] == 'server':
            server, extra = _server(words[1:])
            servers.append(server)
            extras[server['address']] = extra
        else:
            directives.append(words)
        words = []
    if words:
        raise UnparseableError('a directive lacks its ";" ({0})'.format(' '.join(words)))
    return servers, extras, directives


def _server(words):
    if not words:
        raise UnparseableError('a server line has no address')
    server, extra = dict(address=words[0], weight=1, down=False, backup=False), []
    for word in words[1:]:
        if word.startswith('weight='):
            try:
                server['weight'] = int(word[len('weight='):])
            except ValueError:
                raise UnparseableError('server {0} has {1}'.format(words[0], word))
        elif word in ('down', 'backup'):
            server[word] = True
        else:
            extra.append(word)
    return server, extra


def render_upstream(name, servers, extras=None, directives=None):
    """The whole upstream file for ``servers``: our header, then the block."""
    lines = [HEADER, 'upstream {0} {{\n'.format(name)]
    for server in servers:
        words = [server['address']]
        if server['weight'] != 1:
            words.append('weight={0}'.format(server['weight']))
        words.extend((extras or {}).get(server['address'], []))
        words.extend(flag for flag in ('down', 'backup') if server[flag])
        lines.append('    server {0};\n'.format(' '.join(words)))
    for words in directives or []:
        lines.append('    {0};\n'.format(' '.join(words)))
    lines.append('}\n')
    return ''.join(lines)


def validate_servers(servers):
    """``servers`` as asked, as ``[{address, weight, down, backup}]``, or the error saying what is wrong."""
    if not servers:
        raise InvalidInputError('servers is empty: nginx refuses an upstream without servers. Name at least one '
                                'server. Nothing was changed.')
    wanted, seen = [], set()
    for number, server in enumerate(servers):
        address = server.get('address')
        what = 'servers[{0}] ({1})'.format(number, address)
        if not isinstance(address, str) or not _ADDRESS.match(address):
            raise InvalidInputError(
                'servers[{0}].address is {1!r}: an address is one word, host:port, [ipv6]:port or unix:/path, '
                'without spaces, quotes or any of ; {{ }} # $ = \\. Nothing was changed.'.format(number, address))
        if address in seen:
            raise InvalidInputError('{0} is named twice in servers; name each server once. Nothing was '
                                    'changed.'.format(what))
        seen.add(address)
        weight = 1 if server.get('weight') is None else server['weight']
        if weight == 0:
            raise InvalidInputError('{0} has weight 0, which nginx refuses. To take a server out, set down: true '
                                    '(and leave weight out). Nothing was changed.'.format(what))
        if weight < 1:
            raise InvalidInputError('{0} has weight {1}; a weight is a whole number from 1. Nothing was '
                                    'changed.'.format(what, weight))
        if server.get('down') and server.get('backup'):
            raise InvalidInputError('{0} is both down and backup; a backup server is one nginx may use, a down '
                                    'one it never uses. Choose one. Nothing was changed.'.format(what))
        wanted.append(dict(address=address, weight=weight, down=bool(server.get('down')),
                           backup=bool(server.get('backup'))))
    return wanted


# --- the running nginx: its workers, seen through /proc --------------------------------------------------------------

def nginx_children(master):
    """``{pid: title}`` of the processes the master ``pid`` runs (workers, cache manager); {} without /proc."""
    children = {}
    try:
        entries = os.listdir('/proc')
    except OSError:
        return children
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open('/proc/{0}/stat'.format(entry)) as handle:
                stat = handle.read()
            # The command may hold spaces and parentheses: the fields after its last ")" are fixed.
            if int(stat[stat.rindex(')') + 2:].split()[1]) != master:
                continue
            with open('/proc/{0}/cmdline'.format(entry), 'rb') as handle:
                title = handle.read().replace(b'\0', b' ').decode('utf-8', 'replace').strip()
        except (OSError, ValueError, IndexError):
            continue   # it exited while we looked
        children[int(entry)] = title
    return children


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as err:
        return err.errno == 1   # EPERM: it exists, run by another user
    return True


class NginxUpstream(TrafficBackend):
    """Upstream ``upstream`` in ``upstream_file``, served by the nginx of ``nginx_config``."""

    name = 'nginx'

    def __init__(self, upstream_file, upstream, servers, nginx_config=None, verify_url=None, verify_regex=None,
                 wait=True, wait_timeout=60, validate_certs=True, run=run_process, clock=time.monotonic,
                 sleep=time.sleep):
        self.upstream_file = upstream_file
        self.upstream = upstream
        self.servers = servers
        self.nginx_config = nginx_config or DEFAULT_CONFIG
        self.verify_url = verify_url
        self.verify_regex = verify_regex
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.validate_certs = validate_certs
        self.run = run
        self.clock = clock
        self.sleep = sleep
        self._text = None          # the file as read; None when it does not exist
        self._unparseable = None   # why the file could not be read, when it could not
        self._extras, self._directives = {}, []
        self._binary = None
        self._master = None
        self._old_workers = None   # the master's children before our reload

    @classmethod
    def from_params(cls, params):
        return cls(params['upstream_file'], params['upstream'], params['servers'], params['nginx_config'],
                   params['verify_url'], params['verify_regex'], wait=params['wait'],
                   wait_timeout=params['wait_timeout'], validate_certs=params.get('validate_certs') is not False)

    def _real_file(self):
        # A symlinked upstream_file stays a link: its target is what gets replaced.
        return os.path.realpath(self.upstream_file)

    def describe(self):
        return 'upstream {0} in {1}'.format(self.upstream, self.upstream_file)

    # --- state --------------------------------------------------------------------------------------------------
    def read(self):
        if self.verify_regex is not None:
            if not self.verify_url:
                raise InvalidInputError('verify_regex is set without verify_url: give the URL whose answer it must '
                                        'match. Nothing was changed.')
            try:
                re.compile(self.verify_regex)
            except re.error as err:
                raise InvalidInputError('verify_regex {0!r} is not a regular expression: {1}. Nothing was '
                                        'changed.'.format(self.verify_regex, err))
        self._text = self._read_text()
        if self._text is None:
            if not os.path.isdir(os.path.dirname(os.path.abspath(self.upstream_file))):
                raise InvalidInputError('The directory of upstream_file {0} does not exist; create it, and include '
                                        'the file from the http block of {1}. Nothing was changed.'.format(
                                            self.upstream_file, self.nginx_config))
            return []
        try:
            parsed = parse_upstream_file(self._text, self.upstream)
        except UnparseableError as err:
            self._unparseable = str(err)
            return None
        if parsed is None:
            return []
        servers, self._extras, self._directives = parsed
        return servers

    def plan(self, before):
        return validate_servers(self.servers)

    def render(self, state):
        if state is None:   # a file this module could not read: shown as it is
            return self._text
        if not state:
            return ''
        return render_upstream(self.upstream, state, self._extras, self._directives)

    # --- refusals -----------------------------------------------------------------------------------------------
    def preflight(self, before, after, force=False):
        if self._unparseable and not force:
            raise InvalidInputError(
                'Refused to rewrite {0}: {1}. This module writes that file whole, with the one upstream block {2}; '
                'move anything else to another file, or pass force=true to replace the file. Nothing was '
                'changed.'.format(self.upstream_file, self._unparseable, self.upstream))
        if not [s for s in after if not s['down'] and not s['backup']] and not force:
            raise InvalidInputError(
                'Refused to set {0}: every server is down or backup, so no server would take the traffic. Keep one '
                'server up, or pass force=true. Nothing was changed.'.format(self.describe()))
        self._binary = self._find_binary()
        if not os.access(self.nginx_config, os.R_OK):
            raise InvalidInputError('nginx_config {0} is not a readable file: pass the main config nginx runs with '
                                    '(nginx -V shows its --conf-path). Nothing was changed.'.format(self.nginx_config))
        rc, out, err = self.run([self._binary, '-T', '-c', self.nginx_config])
        if rc != 0:
            raise RollbackError(
                'Refused to switch {0}: the current config of nginx ({1}) already fails nginx -t: {2}. Fix it '
                'first. Nothing was changed.'.format(self.describe(), self.nginx_config, nginx_message(err)))
        facts = self._check_loaded(out, included=self._text is not None)
        self._master = self._running_master(out)
        facts['master_pid'] = self._master
        return {'nginx': facts}

    def _find_binary(self):
        path = os.environ.get('PATH', '') + os.pathsep + os.pathsep.join(SBIN)
        for directory in path.split(os.pathsep):
            candidate = os.path.join(directory or '.', 'nginx')
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        raise RollbackError('nginx is not installed on this host (not in PATH nor in {0}). Run lb_switch on the '
                            'load balancer\'s host. Nothing was changed.'.format(', '.join(SBIN)))

    def _check_loaded(self, dump, included=True):
        """Refuse a config without worker_shutdown_timeout, or that does not load upstream_file."""
        timeout = _WORKER_SHUTDOWN.search(dump)
        if not timeout:
            raise InvalidInputError(
                'Refused to switch {0}: {1} does not set worker_shutdown_timeout, so after a reload the old '
                'workers would keep serving the old pool on open connections for as long as those last. Add for '
                'example "worker_shutdown_timeout 30s;" to the main context of {1}. Nothing was changed.'.format(
                    self.describe(), self.nginx_config))
        loaded = set(os.path.realpath(path) for path in _CONFIG_FILE.findall(dump))
        if included and os.path.realpath(self.upstream_file) not in loaded:
            raise InvalidInputError(
                'Refused to switch {0}: nginx does not load {1} from {2}, so changing it would change nothing. '
                'Add "include {1};" to the http block of {2}, or pass the upstream_file it includes. Nothing was '
                'changed.'.format(self.describe(), self.upstream_file, self.nginx_config))
        return {'config': self.nginx_config, 'worker_shutdown_timeout': timeout.group(1)}

    def _running_master(self, dump):
        """The pid of the running master, from the pid file the config (or nginx's build) names."""
        match = _PID.search(dump)
        pid_file = match.group(1) if match else None
        if pid_file is None or not os.path.isabs(pid_file):
            _rc, _out, built = self.run([self._binary, '-V'])
            options = dict(re.findall(r'--([a-z-]+)=(\S+)', built))
            pid_file = pid_file and os.path.join(options.get('prefix', '/usr/share/nginx'), pid_file) or \
                options.get('pid-path', '/run/nginx.pid')
        try:
            with open(pid_file) as handle:
                pid = int(handle.read().strip())
        except (IOError, ValueError):
            pid = None
        if pid is None or not _alive(pid):
            raise RollbackError(
                'Refused to switch {0}: nginx is not running (no live master in its pid file {1}), so there is '
                'nothing to reload. Start nginx with {2} first. Nothing was changed.'.format(
                    self.describe(), pid_file, self.nginx_config))
        return pid

    # --- writing ------------------------------------------------------------------------------------------------
    def apply(self, state, dry_run=False):
        content = render_upstream(self.upstream, state, self._extras, self._directives)
        if dry_run:
            self._test_alone(content)
            return
        # One writer of the file at a time: a second task must not take our new file for "the previous one".
        with self._locked():
            if self._read_text() != self._text:
                raise RollbackError(
                    '{0} changed after this task read it, so another task or person is writing it. Nothing was '
                    'changed; run the task again to start from the file as it is now.'.format(self.upstream_file))
            self._old_workers = set(nginx_children(self._master))
            self._write_test_reload(content)

    def _write_test_reload(self, content):
        try:
            previous = self._put(content)
        except (IOError, OSError) as err:
            raise RollbackError('Failed to write {0}: {1}. Check the permissions of its directory (become: true) '
                                'and the free space. Nothing was changed.'.format(self.upstream_file, err))
        rc, out, err = self.run([self._binary, '-T', '-c', self.nginx_config])
        if rc != 0:
            self._restore(previous)
            raise RollbackError(
                'nginx -t refused the new {0}: {1}. The previous file was put back and nginx still serves it. '
                'Check the servers\' addresses and parameters. Nothing was changed.'.format(
                    self.describe(), nginx_message(err)))
        try:
            self._check_loaded(out)
        except RollbackError:
            self._restore(previous)
            raise
        rc, _out, err = self.run([self._binary, '-s', 'reload', '-c', self.nginx_config])
        if rc != 0:
            self._restore(previous)
            raise RollbackError('Failed to reload nginx after writing {0}: {1}. The previous file was put back. '
                                'Nothing was changed.'.format(self.describe(), nginx_message(err)))
        if previous is not None:
            os.unlink(previous)

    @contextlib.contextmanager
    def _locked(self):
        """An exclusive lock on a hidden file beside upstream_file, waited for within wait_timeout."""
        directory, base = os.path.split(self._real_file())
        path = os.path.join(directory, '.{0}.ops-rollback-lock'.format(base))
        try:
            handle = open(path, 'a')
        except IOError as err:
            raise RollbackError('Failed to open the lock file {0}: {1}. Check the permissions of its directory '
                                '(become: true). Nothing was changed.'.format(path, err.strerror))
        with handle:
            deadline = self.clock() + self.wait_timeout
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except (IOError, OSError) as err:
                    if err.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                if self.clock() >= deadline:
                    raise RollbackTimeoutError(
                        'Another task has been writing {0} for more than {1} s (it holds {2}). Nothing was changed; '
                        'run again once it is done.'.format(self.upstream_file, self.wait_timeout, path))
                self.sleep(POLL_SECONDS)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _read_text(self):
        try:
            with open(self.upstream_file) as handle:
                return handle.read()
        except IOError as err:
            if err.errno == errno.ENOENT:
                return None
            raise RollbackError('Failed to read {0}: {1}. Check its permissions (become: true). Nothing was '
                                'changed.'.format(self.upstream_file, err.strerror))

    def _put(self, content):
        """Write ``content`` to upstream_file atomically; returns where the previous file was kept (or None)."""
        directory, base = os.path.split(self._real_file())
        previous = None
        if self._text is not None:
            previous = self._write_temp(directory, base, self._text, '.ops-rollback-previous')
        new = self._write_temp(directory, base, content, '.ops-rollback-new')
        os.rename(new, self._real_file())
        _fsync_dir(directory)
        return previous

    def _write_temp(self, directory, base, content, suffix):
        # A hidden name outside include globs such as *.conf: nginx never loads it half-written.
        handle, path = tempfile.mkstemp(prefix='.{0}.'.format(base), suffix=suffix, dir=directory)
        try:
            with os.fdopen(handle, 'w') as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
            try:
                current = os.stat(self._real_file())
                os.chmod(path, current.st_mode & 0o7777)
                if os.geteuid() == 0:
                    os.chown(path, current.st_uid, current.st_gid)
            except OSError:
                os.chmod(path, 0o644)   # a new file: readable by nginx's workers, like the rest of its config
        except Exception:
            os.unlink(path)
            raise
        return path

    def _restore(self, previous):
        if previous is None:
            os.unlink(self._real_file())
        else:
            os.rename(previous, self._real_file())
        _fsync_dir(os.path.dirname(self._real_file()))

    def _test_alone(self, content):
        """Check mode: ``nginx -t`` of the new block in a config of its own; the real files stay as they are."""
        scratch = tempfile.mkdtemp(prefix='ops-rollback-nginx-')
        try:
            upstream = os.path.join(scratch, 'upstream.conf')
            with open(upstream, 'w') as handle:
                handle.write(content)
            config = os.path.join(scratch, 'nginx.conf')
            temp_paths = ''.join('    {0}_temp_path {1};\n'.format(kind, os.path.join(scratch, kind))
                                 for kind in ('client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'))
            with open(config, 'w') as handle:
                handle.write('pid {0};\nerror_log {1};\nevents {{}}\nhttp {{\n{2}    include {3};\n}}\n'.format(
                    os.path.join(scratch, 'nginx.pid'), os.path.join(scratch, 'error.log'), temp_paths, upstream))
            rc, _out, err = self.run([self._binary, '-t', '-p', scratch + os.sep, '-c', config])
            if rc != 0:
                raise RollbackError('nginx -t refuses the new {0}: {1}. Check the servers\' addresses and '
                                    'parameters. Nothing was changed.'.format(
                                        self.describe(), nginx_message(err).replace(upstream, self.upstream_file)))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    # --- waiting ------------------------------------------------------------------------------------------------
    def verify(self, state):
        """Wait until the master runs only new workers, then until verify_url answers as asked, in a row."""
        if not self.wait:
            return
        deadline = self.clock() + self.wait_timeout
        self._wait_for_workers(deadline)
        if self.verify_url:
            self._wait_for_answers(deadline)

    def _wait_for_workers(self, deadline):
        old = self._old_workers or set()
        while True:
            children = nginx_children(self._master)
            if not children and not os.path.isdir('/proc/{0}'.format(self._master)):
                return   # no /proc here: nothing to observe
            lingering = sorted(pid for pid, title in children.items()
                               if pid in old or 'shutting down' in title)
            fresh = [pid for pid, title in children.items() if pid not in old and 'worker process' in title
                     and 'shutting down' not in title]
            if fresh and not lingering:
                return
            if self.clock() >= deadline:
                raise RollbackTimeoutError(
                    'nginx was reloaded with the new {0}, but after {1} s {2}. Traffic may still reach the old '
                    'servers until then. Look at the error_log of nginx; raise wait_timeout above nginx\'s '
                    'worker_shutdown_timeout, then run again to check again.'.format(
                        self.describe(), self.wait_timeout,
                        'the master (pid {0}) started no new worker: the reload failed'.format(self._master)
                        if not fresh else 'old workers still run (pids {0})'.format(
                            ', '.join(str(pid) for pid in lingering))),
                    partial={'old_workers': lingering})
            self.sleep(POLL_SECONDS)

    def _wait_for_answers(self, deadline):
        pattern = re.compile(self.verify_regex) if self.verify_regex else None
        in_a_row, last = 0, None
        while True:
            matched, last = self._answer(pattern)
            in_a_row = in_a_row + 1 if matched else 0
            if in_a_row >= MATCHES_IN_A_ROW:
                return
            if self.clock() >= deadline:
                raise RollbackTimeoutError(
                    'nginx was reloaded with the new {0}, but after {1} s {2} still does not answer {3} {4} times '
                    'in a row; the last answer: {5}. Check that the new servers serve, and verify_regex, then '
                    'run again to check again.'.format(
                        self.describe(), self.wait_timeout, self.verify_url,
                        'a match of {0!r}'.format(self.verify_regex) if pattern else 'with a 2xx status',
                        MATCHES_IN_A_ROW, last),
                    partial={'verify_url': last})
            self.sleep(POLL_SECONDS)

    def _answer(self, pattern):
        """(matched, the answer in short): the headers, an empty line and the body, matched by ``pattern``."""
        try:
            response = open_url(self.verify_url, method='GET', timeout=5, validate_certs=self.validate_certs,
                                follow_redirects='none')
            status, headers, body = response.getcode(), response.headers, response.read()
        except Exception as err:  # an HTTP error status or a transport error: both are "not yet"
            status = getattr(err, 'code', None)
            if status is None:
                return False, '{0}: {1}'.format(type(err).__name__, err)
            headers, body = err.headers, err.read() if hasattr(err, 'read') else b''
        text = ''.join('{0}: {1}\n'.format(k, v) for k, v in headers.items()) + '\n' + \
            body.decode('utf-8', 'replace')
        short = 'HTTP {0} {1}'.format(status, body.decode('utf-8', 'replace').strip()[:120])
        if not 200 <= status < 300:
            return False, short
        return (pattern.search(text) is not None if pattern else True), short


def _fsync_dir(directory):
    """The rename itself durable, not only the file's content."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
