# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lb_switch backend ``haproxy``: one server's state or weight through HAProxy's runtime API.
Runs on the load balancer's host: python3's standard library only.

The state is read from ``show servers state`` (its admin bits and weights, by
the header line's column names) and ``show stat`` (sessions, health check), never
from the wording of a reply. ``state: drain`` drains, waits until the server's
sessions ended, then puts it in maintenance.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re
import socket
import stat
import time

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
    RollbackTimeoutError,
)
from ansible_collections.ops.rollback.plugins.module_utils.traffic.switch import TrafficBackend

# The options only this backend takes (lb_switch's argument spec).
HAPROXY_SPEC = dict(
    socket=dict(type='path'),
    pool=dict(type='str'),
    server=dict(type='str'),
    state=dict(type='str', choices=['ready', 'drain', 'maint']),
    weight=dict(type='int'),
    on_timeout=dict(type='str', choices=['fail', 'force']),
)

# srv_admin_state bits (HAProxy management guide, "show servers state").
FMAINT, IMAINT, CMAINT, FDRAIN, IDRAIN, RMAINT = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
# CMAINT alone only remembers the config's "disabled": a server enabled since then serves.
MAINT_BITS = FMAINT | IMAINT | RMAINT
DRAIN_BITS = FDRAIN | IDRAIN
# srv_op_state: 0 stopped, 1 starting (slowstart, serves), 2 running, 3 stopping.
OP_STATES = {0: 'down', 1: 'starting', 2: 'up', 3: 'stopping'}
SERVING_OP_STATES = (1, 2)
CHECK_CONFIGURED = 0x02   # srv_check_state
MAX_WEIGHT = 256
NAME = re.compile(r'^[A-Za-z0-9_.:-]+$')   # HAProxy's own rule for proxy and server names
POLL_SECONDS = 0.2
SOCKET_TIMEOUT = 10


class RuntimeApi:
    """HAProxy's runtime API on a UNIX socket: one command per connection, the reply read to its end."""

    def __init__(self, path, timeout=SOCKET_TIMEOUT):
        self.path = path
        self.timeout = timeout

    def check_socket(self):
        """A clear error when ``path`` is not a socket this user may use."""
        try:
            mode = os.stat(self.path).st_mode
        except OSError as err:
            raise self._error(err)
        if not stat.S_ISSOCK(mode):
            raise InvalidInputError(
                '{0} is not a socket: socket= is the path of the "stats socket" line of HAProxy\'s configuration, '
                'for example /run/haproxy/admin.sock. Nothing was changed.'.format(self.path))

    def _error(self, err):
        causes = {
            errno.ENOENT: ('there is no such file', 'Check socket= against the "stats socket" line of HAProxy\'s '
                           'configuration, and that HAProxy runs'),
            errno.EACCES: ('permission denied', 'Run the task as a user allowed to use the socket (become: true, or '
                           'the "user", "group" and "mode" of its "stats socket" line)'),
            errno.ECONNREFUSED: ('nothing listens on it', 'Start HAProxy, or check that socket= is the one the running '
                                 'HAProxy opened'),
        }
        cause, step = causes.get(err.errno, (os.strerror(err.errno or 0) if err.errno else str(err),
                                             'Check that HAProxy runs and answers on its stats socket'))
        return HaproxyUnreachable('Failed to reach HAProxy\'s runtime API at {0}: {1}. {2}.'.format(
            self.path, cause, step), errno=err.errno)

    def command(self, line):
        """The text of HAProxy's reply to ``line``."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(self.timeout)
        try:
            conn.connect(self.path)
            conn.sendall(line.encode('utf-8') + b'\n')
            chunks = []
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            raise HaproxyUnreachable('HAProxy did not answer "{0}" on {1} within {2} s. Check that it is not '
                                     'overloaded or stopped.'.format(line, self.path, self.timeout))
        except (OSError, IOError) as err:
            raise self._error(err)
        finally:
            conn.close()
        return b''.join(chunks).decode('utf-8', 'replace')

    def set(self, line):
        """Run a command that answers nothing when it worked; HAProxy's words otherwise."""
        reply = self.command(line).strip()
        if reply:
            raise HaproxyRefused('HAProxy refused "{0}": {1}'.format(line, reply), reply=reply)

    def table(self, line, marker):
        """Rows of a ``show`` command as dicts by the header's column names; ``marker`` starts the header."""
        reply = self.command(line)
        lines = reply.splitlines()
        header = next((i for i, text in enumerate(lines) if text.startswith(marker)), None)
        if header is None:
            raise HaproxyRefused('HAProxy answered "{0}" with: {1}'.format(line, reply.strip() or 'nothing'),
                                 reply=reply.strip())
        sep = ',' if ',' in lines[header] else None
        columns = [c for c in lines[header].lstrip('#').strip().split(sep) if c]
        rows = []
        for text in lines[header + 1:]:
            if text.strip() and not text.startswith('#'):
                rows.append(dict(zip(columns, text.split(sep))))
        return rows

    def servers_state(self, pool=None):
        return self.table('show servers state' + (' ' + pool if pool else ''), '# be_id')

    def stats(self, pool):
        """``show stat`` of the servers of ``pool``, by server name."""
        return dict((row['svname'], row) for row in self.table('show stat {0} 4 -1'.format(pool), '# pxname'))

    def info(self):
        return dict(line.split(': ', 1) for line in self.command('show info').splitlines() if ': ' in line)


class HaproxyUnreachable(RollbackError):
    """The socket cannot be used (missing, refused, permission, no answer)."""


class HaproxyRefused(RollbackError):
    """HAProxy answered a command with an error."""


class HaproxyServer(TrafficBackend):
    """Server ``pool/server`` of the HAProxy behind ``api``: its admin state (ready, drain, maint) and weight.

    ``read()`` gives ``{'state', 'weight'}``; the facts that are not asked for (health, sessions) go
    into ``self.facts``, which ``preflight`` hands to the result and the waits keep current.
    """

    name = 'haproxy'

    def __init__(self, api, pool, server, state=None, weight=None, on_timeout=None, wait=True, wait_timeout=60,
                 clock=time.monotonic, sleep=time.sleep, proc='/proc'):
        self.api = api
        self.pool = pool
        self.server = server
        self.state = state
        self.weight = weight
        self.on_timeout = on_timeout
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.clock = clock
        self.sleep = sleep
        self.proc = proc
        self.facts = {}
        self.state_file = None
        self.state_file_unknown = None   # why it could not be told, when it could not
        self.forced_last = False
        self._row = None          # its line of "show servers state", as last read
        self._all_rows = []       # the lines of every server of the pool
        self._stats = {}          # "show stat" of the pool's servers, by name
        self._pid = None          # HAProxy's process at the start, to tell a reload

    @classmethod
    def from_params(cls, params):
        return cls(RuntimeApi(params['socket']), params['pool'], params['server'], state=params['state'],
                   weight=params['weight'], on_timeout=params['on_timeout'], wait=params['wait'],
                   wait_timeout=params['wait_timeout'])

    def describe(self):
        return 'server {0}/{1}'.format(self.pool, self.server)

    # --- reading ------------------------------------------------------------------------------------------
    def _rows(self):
        try:
            return self.api.servers_state(self.pool)
        except HaproxyRefused as refused:
            pools = sorted(set(row['be_name'] for row in self.api.servers_state()))
            if self.pool in pools:
                raise refused
            raise NotFoundError('HAProxy has no backend {0} (its backends: {1}). Check pool=. Nothing was '
                                'changed.'.format(self.pool, ', '.join(pools) or 'none'), reason='unknown_pool')

    def _find(self, rows):
        for row in rows:
            if row['srv_name'] == self.server:
                return row
        raise NotFoundError('Backend {0} of HAProxy has no server {1} (its servers: {2}). Check server=. Nothing '
                            'was changed.'.format(self.pool, self.server, ', '.join(r['srv_name'] for r in rows)
                                                  or 'none'), reason='unknown_server')

    def _observe(self):
        """Read the server again; refresh ``self.facts``; return its ``show stat`` row."""
        rows = self._rows()
        self._row = self._find(rows)
        stats = self.api.stats(self.pool)
        self._stats = stats
        self._all_rows = rows
        row, stat_row = self._row, stats.get(self.server, {})
        self.facts.update(
            pool=self.pool, name=self.server,
            address='{0}:{1}'.format(row['srv_addr'], row.get('srv_port', '')).rstrip(':'),
            status=stat_row.get('status', ''),
            operational_state=OP_STATES.get(_int(row['srv_op_state']), row['srv_op_state']),
            check_status=stat_row.get('check_status') or None,
            check_description=_check_description(stat_row),
            sessions=_int(stat_row.get('scur')),
            queued=_int(stat_row.get('qcur')),
            tracked=stat_row.get('tracked') or None)
        return stat_row

    def read(self):
        for option, value in (('pool', self.pool), ('server', self.server)):
            # Names go into runtime API commands, where ";" or a newline would start another command.
            if not NAME.match(value):
                raise InvalidInputError(
                    '{0} is {1!r}, which is not an HAProxy name (letters, digits and "-", "_", ".", ":" only). Name '
                    'it as HAProxy\'s configuration does. Nothing was changed.'.format(option, value))
        try:
            self.api.check_socket()
            self._observe()
        except (HaproxyUnreachable, HaproxyRefused) as err:
            raise type(err)(err.msg + ' Nothing was changed.', **err.details)
        return self._state_of(self._row)

    @staticmethod
    def _state_of(row):
        admin = _int(row['srv_admin_state'])
        word = 'maint' if admin & MAINT_BITS else 'drain' if admin & DRAIN_BITS else 'ready'
        return dict(state=word, weight=_int(row['srv_uweight']))

    # --- planning -----------------------------------------------------------------------------------------
    def plan(self, before):
        if self.weight is not None and not 0 <= self.weight <= MAX_WEIGHT:
            raise InvalidInputError('weight is {0}; an HAProxy server\'s weight is from 0 to {1}. Nothing was '
                                    'changed.'.format(self.weight, MAX_WEIGHT))
        if self.on_timeout is not None and self.state != 'drain':
            raise InvalidInputError('on_timeout applies to state=drain only (what to do with sessions left after '
                                    'wait_timeout); remove it. Nothing was changed.')
        if self.wait_timeout < 0:
            raise InvalidInputError('wait_timeout is {0}; it is seconds, 0 or more. Nothing was changed.'.format(
                self.wait_timeout))
        after = dict(before)
        if self.weight is not None:
            after['weight'] = self.weight
        if self.state == 'drain':
            # A drain ends in maintenance once the sessions ended; maint is already further than drain.
            if before['state'] != 'maint':
                after['state'] = 'maint' if self.wait else 'drain'
        elif self.state:
            after['state'] = self.state
        return after

    def preflight(self, before, after, force=False):
        self._learn_state_file()
        # The same dict the waits keep current, so the result shows the server as the task left it.
        facts = {'server': self.facts, 'server_state_file': self.state_file}
        if before != after and self._serves(self._row, before) and not self._serves(self._row, after):
            others = [r['srv_name'] for r in self._all_rows if r['srv_name'] != self.server and
                      self._serves(r, self._state_of(r))]
            if not others:
                if not force:
                    raise RollbackError(
                        'Refused to take {0} out of service ({1}): it is the last server of backend {2} that serves '
                        'traffic ({3}), so the backend\'s traffic would fail. Ready another server first, or pass '
                        'force=true to do it anyway. Nothing was changed.'.format(
                            self.describe(), self._wording(after), self.pool, self._others_wording()),
                        backend=self.name, before=before, after=before, server=self.facts, reason='last_server')
                self.forced_last = True
        return facts

    @staticmethod
    def _serves(row, state):
        return _int(row['srv_op_state']) in SERVING_OP_STATES and state['state'] == 'ready' and state['weight'] > 0

    def _wording(self, state):
        return 'weight 0' if state['state'] == 'ready' else state['state']

    def _others_wording(self):
        others = ['{0} is {1}'.format(r['srv_name'], self._stats.get(r['srv_name'], {}).get('status') or
                                      OP_STATES.get(_int(r['srv_op_state'])))
                  for r in self._all_rows if r['srv_name'] != self.server]
        return ', '.join(others) if others else 'it has no other server'

    # --- writing ------------------------------------------------------------------------------------------
    def apply(self, state, dry_run=False):
        if dry_run:
            return   # check mode: the reads above are all that happen
        before = self._state_of(self._row)
        commands = []
        if state['weight'] != before['weight']:
            commands.append('weight {0}'.format(state['weight']))
        if state['state'] == 'maint' and self.state == 'drain' and self.wait and _int(self._row['srv_op_state']):
            # Drained first; verify() waits for the sessions and then puts it in maintenance.
            if before['state'] != 'drain':
                commands.append('state drain')
        elif state['state'] != before['state']:
            commands.append('state ' + state['state'])
        for number, what in enumerate(commands):
            self._set(what, first=not number)

    def _set(self, what, first=False):
        try:
            self.api.set('set server {0}/{1} {2}'.format(self.pool, self.server, what))
        except HaproxyRefused as err:
            # Only HAProxy's words say why; a socket below "level admin" answers this.
            hint = (' Changing servers needs a stats socket with "level admin".'
                    if 'Permission denied' in err.details.get('reply', '') else '')
            raise HaproxyRefused('Failed to set the {0} of {1}: {2}.{3}{4}'.format(
                what.split()[0], self.describe(), err.msg.rstrip('.'), hint,
                ' Nothing was changed.' if first else ''), **err.details)

    def verify(self, state):
        if self.state == 'drain' and state['state'] == 'maint' and self.wait:
            self._observe()
            if self._state_of(self._row)['state'] == 'drain':
                self._finish_drain()
        elif self.state == 'ready' and self.wait:
            self._wait_up(state)
        self._observe()
        now = self._state_of(self._row)
        if now != state:
            raise RollbackError(self._stuck_message(state, now), backend=self.name, after=now, server=self.facts)

    def _finish_drain(self):
        """Wait until the draining server has no sessions, then put it in maintenance."""
        started = self.clock()
        deadline = started + self.wait_timeout
        while True:
            self._observe_through_reloads(deadline)
            now = self._state_of(self._row)
            if now['state'] == 'maint':
                return   # put there meanwhile: what was asked for
            if now['state'] != 'drain':
                raise self._drain_lost(now)
            if not self.facts['sessions'] and not self.facts['queued']:
                break
            if self.clock() >= deadline:
                if self.on_timeout != 'force':
                    raise RollbackTimeoutError(
                        'Draining {0} timed out after {1} s with {2} still open. The server was left in drain: it '
                        'takes no new sessions, and its open ones go on. Wait longer (wait_timeout), run again to '
                        'wait again, or pass on_timeout=force to shut them down.'.format(
                            self.describe(), self.wait_timeout, self._sessions_wording()),
                        backend=self.name, after=now, server=self.facts, partial=now)
                self.facts['sessions_shut'] = self.facts['sessions']
                self.api.set('shutdown sessions server {0}/{1}'.format(self.pool, self.server))
                break
            self.sleep(POLL_SECONDS)
        self.facts['waited'] = round(self.clock() - started, 1)
        self._set('state maint')

    def _observe_through_reloads(self, deadline):
        # During a reload the socket is briefly missing or refused; it comes back with the new process.
        while True:
            try:
                return self._observe()
            except HaproxyUnreachable:
                if self.clock() >= deadline:
                    raise
                self.sleep(POLL_SECONDS)

    def _drain_lost(self, now):
        pid = self._process_id()
        if pid and self._pid and pid != self._pid and not self.state_file:
            cause = ('HAProxy was reloaded while it drained (process {0} is now {1}), and the new process does not '
                     'load server states from a file, so the reload forgot the drain'.format(self._pid, pid))
        elif pid and self._pid and pid != self._pid:
            cause = ('HAProxy was reloaded while it drained (process {0} is now {1}), and the new process did not '
                     'load the drain from {2}: the reload must save "show servers state" to it first'.format(
                         self._pid, pid, self.state_file))
        else:
            cause = 'someone or something else set it to {0} while it drained'.format(now['state'])
        return RollbackError(
            '{0} is {1} again, not draining: {2}. It takes new sessions now. Run the task again to drain it{3}.'.format(
                _sentence(self.describe()), now['state'], cause, '' if self.state_file else (
                    '; to keep runtime changes across reloads, configure "server-state-file" and '
                    '"load-server-state-from-file" and save "show servers state" to the file before each reload')),
            backend=self.name, after=now, server=self.facts, reason='drain_lost')

    def _wait_up(self, state):
        """Wait until HAProxy reports the server up, from a health check made since it was enabled."""
        started = self.clock()
        deadline = started + self.wait_timeout
        while True:
            stat_row = self._observe_through_reloads(deadline)
            if self._is_up(stat_row):
                break
            if self.clock() >= deadline:
                raise RollbackTimeoutError(
                    '{0} is ready but not UP after {1} s: HAProxy reports it {2}{3}. It gets no traffic until its '
                    'health check passes; fix the server, then run again to wait again.'.format(
                        _sentence(self.describe()), self.wait_timeout,
                        self.facts['status'] or self.facts['operational_state'],
                        ', health check {0}'.format(self._check_wording()) if self.facts['check_status'] else ''),
                    backend=self.name, after=self._state_of(self._row), server=self.facts, partial=state)
            self.sleep(POLL_SECONDS)
        self.facts['waited'] = round(self.clock() - started, 1)

    def _is_up(self, stat_row):
        row = self._row
        if _int(row['srv_op_state']) not in SERVING_OP_STATES:
            return False
        if not _int(row['srv_check_state']) & CHECK_CONFIGURED:
            return True
        # Leaving maintenance, HAProxy marks a server up with the lowest healthy count ("rise"), before any
        # check ran: only a count above it proves a check passed since. With fall 1 there is no such count.
        rise, fall = _int(stat_row.get('check_rise')), _int(stat_row.get('check_fall'))
        health = _int(row['srv_check_health'])
        return health > rise or (fall <= 1 and health >= rise)

    def _check_wording(self):
        words = self.facts['check_status']
        return words + (' ({0})'.format(self.facts['check_description']) if self.facts['check_description'] else '')

    def _sessions_wording(self):
        words = '{0} session(s)'.format(self.facts['sessions'])
        return words + (' and {0} queued request(s)'.format(self.facts['queued']) if self.facts['queued'] else '')

    def _stuck_message(self, wanted, now):
        admin = _int(self._row['srv_admin_state'])
        if admin & IMAINT or admin & IDRAIN:
            why = 'it tracks {0}, whose state it inherits: change that server instead'.format(
                self.facts['tracked'] or 'another server')
        elif admin & RMAINT:
            why = 'its address does not resolve (DNS): fix its name resolution'
        else:
            why = 'something else changed it at the same time: run again'
        return 'Set {0} to {1}, but HAProxy reports {2}: {3}.'.format(
            self.describe(), self.render(wanted).strip().replace('\n', ', '),
            self.render(now).strip().replace('\n', ', '), why)

    def render(self, state):
        return 'state: {0}\nweight: {1}\n'.format(state['state'], state['weight'])

    # --- what the user must hear ----------------------------------------------------------------------------
    def warnings(self, result):
        warnings = []
        if self.forced_last and result.get('changed'):
            warnings.append('{0} was the last server of backend {1} serving traffic, and force=true took it out: '
                            'the backend\'s traffic fails until another server is ready.'.format(
                                _sentence(self.describe()), self.pool))
        if result.get('changed') and not self.state_file:
            warnings.append(self.state_file_unknown or (
                'HAProxy does not load server states from a file for backend {0} (no "server-state-file" in its '
                'global section with "load-server-state-from-file" for the backend): a reload of HAProxy forgets '
                'this change and puts {1} back as its configuration says. Configure both, and save "show servers '
                'state" to the file before each reload.'.format(self.pool, self.describe())))
        return warnings

    def _process_id(self):
        try:
            return _int(self.api.info().get('Pid')) or None
        except RollbackError:
            return None

    def _learn_state_file(self):
        """Whether the running HAProxy loads this backend's server states at a reload, from its command line
        (/proc/<Pid of show info>/cmdline) and the configuration files it names: the runtime API does not say."""
        self._pid = self._process_id()
        try:
            files = config_files(self.proc, self._pid)
            self.state_file = server_state_file(read_configs(files), self.pool)
        except ConfigUnknown as err:
            self.state_file_unknown = (
                'Could not tell whether HAProxy keeps runtime changes of backend {0} across a reload ({1}). Unless '
                'its configuration has "server-state-file" and "load-server-state-from-file", and the reload saves '
                '"show servers state" to that file first, a reload forgets this change.'.format(self.pool, err))


# --- the configuration of the running HAProxy: where server states are loaded from ---------------------------------

class ConfigUnknown(Exception):
    pass


def config_files(proc, pid):
    """The configuration files of process ``pid``, from its ``-f`` arguments (a directory: its ``*.cfg``)."""
    if not pid:
        raise ConfigUnknown('"show info" gave no process id')
    base = os.path.join(proc, str(pid))
    try:
        with open(os.path.join(base, 'cmdline'), 'rb') as handle:
            argv = [a.decode('utf-8', 'replace') for a in handle.read().split(b'\0') if a]
    except (IOError, OSError) as err:
        raise ConfigUnknown('process {0} is not visible here: {1}'.format(pid, err.strerror or err))
    if not argv or 'haproxy' not in os.path.basename(argv[0]):
        raise ConfigUnknown('process {0} of "show info" is not HAProxy here (another PID namespace?)'.format(pid))
    paths = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == '-f']
    if '--' in argv:
        paths += argv[argv.index('--') + 1:]
    if not paths:
        raise ConfigUnknown('process {0} was started without -f'.format(pid))
    files = []
    for path in paths:
        if not os.path.isabs(path):
            try:
                path = os.path.join(os.readlink(os.path.join(base, 'cwd')), path)
            except OSError as err:
                raise ConfigUnknown('the working directory of process {0} is not readable: {1}'.format(
                    pid, err.strerror))
        if os.path.isdir(path):
            files += sorted(os.path.join(path, name) for name in os.listdir(path) if name.endswith('.cfg'))
        else:
            files.append(path)
    return files


def read_configs(files):
    texts = []
    for path in files:
        try:
            with open(path) as handle:
                texts.append(handle.read())
        except (IOError, OSError) as err:
            raise ConfigUnknown('its configuration {0} is not readable: {1}'.format(path, err.strerror or err))
    return '\n'.join(texts)


SECTIONS = ('global', 'defaults', 'frontend', 'backend', 'listen', 'peers', 'resolvers', 'userlist', 'mailers',
            'program', 'http-errors', 'ring', 'cache', 'fcgi-app')


def server_state_file(config, pool):
    """The file backend ``pool`` loads its server states from when HAProxy starts, or None."""
    settings = {'global': {}}
    defaults = {}          # by name; '' is the last one seen
    current = None
    for line in config.splitlines():
        words = line.split('#', 1)[0].split()
        if not words:
            continue
        if words[0] in SECTIONS:
            current = {}
            if words[0] == 'global':
                current = settings['global']
            elif words[0] == 'defaults':
                inherited = dict(defaults.get(words[3], {})) if len(words) > 3 and words[2] == 'from' else {}
                current = inherited
                defaults[''] = current
                if len(words) > 1 and words[1] != 'from':
                    defaults[words[1]] = current
            elif words[0] in ('backend', 'listen') and len(words) > 1 and words[1] == pool:
                source = words[words.index('from') + 1] if 'from' in words[:-1] else ''
                current = dict(defaults.get(source, {}))
                settings['pool'] = current
            continue
        if current is not None and words[0] in ('server-state-file', 'server-state-base',
                                                'load-server-state-from-file', 'server-state-file-name'):
            current[words[0]] = words[1] if len(words) > 1 else ''
    mine, world = settings.get('pool', {}), settings['global']
    mode = mine.get('load-server-state-from-file', 'none')
    base = world.get('server-state-base', '')
    if mode == 'global':
        name = world.get('server-state-file')
    elif mode == 'local':
        name = mine.get('server-state-file-name') or pool
        name = pool if name == 'use-backend-name' else name
    else:
        return None
    if not name:
        return None
    return name if os.path.isabs(name) or not base else os.path.join(base, name)


def _sentence(text):
    return text[:1].upper() + text[1:]


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def _check_description(stat_row):
    return stat_row.get('last_chk') or stat_row.get('check_desc') or None
