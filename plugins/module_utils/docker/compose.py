# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Compose project on the Docker host, through the ``docker`` and compose CLIs.

Runs where the engine runs, with python3's standard library only: no docker
SDK, no YAML library. ``ComposeCli`` finds compose (``docker compose``, the v2
plugin, when ``docker compose version`` works, else ``docker-compose`` v1).
``ComposeProject`` reads the services' image fields once (``config
--no-interpolate``, whose YAML is compose's own normalized output and is read
line by line), resolves their variables as compose does (the process
environment over the project's ``.env``), and lays the pin files over them:
the ``.env`` file and the override file ``docker-compose.ops-rollback.yml``
that ops.rollback writes. Containers are found by their labels
(``com.docker.compose.project``, ``com.docker.compose.service``), images
and containers read from ``docker inspect`` JSON.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError

#: Files compose reads when no ``-f`` is given, in its order; the first that exists is the project's file.
DEFAULT_FILES = ('compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml')
#: Read with the default file when present, as compose does without ``-f``.
DEFAULT_OVERRIDES = ('compose.override.yaml', 'compose.override.yml', 'docker-compose.override.yml',
                     'docker-compose.override.yaml')
#: The override file of the pins (pin=override), in the project directory.
OVERRIDE_FILE = 'docker-compose.ops-rollback.yml'
#: Where ops.rollback keeps its own files in the project directory: ledger, pins, lock.
STATE_DIR = '.ops-rollback'
# The image fields of the project's files as compose read them last, by the files' content.
CONFIG_CACHE = 'config-cache.json'
ENV_FILE = '.env'

_VARIABLE = re.compile(r'\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}'
                       r'|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|(?P<escaped>\$))')
_WHOLE = re.compile(r'^\$(?:\{(?P<a>[A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}|(?P<b>[A-Za-z_][A-Za-z0-9_]*))$')
_TAG = re.compile(r'^(?P<repo>[^$@]+):\$(?:\{(?P<a>[A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}|(?P<b>[A-Za-z_][A-Za-z0-9_]*))$')
_ENV_LINE = re.compile(r'^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=(?P<value>.*)$')


def run_process(argv, cwd=None):
    """``(rc, stdout, stderr)`` of ``argv`` run without a shell (what AnsibleModule.run_command returns)."""
    try:
        proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False)
    except OSError as exc:
        return 127, '', str(exc)
    return proc.returncode, proc.stdout.decode('utf-8', 'replace'), proc.stderr.decode('utf-8', 'replace')


def _last_line(text):
    lines = [line for line in (text or '').strip().splitlines() if line.strip()]
    return lines[-1].strip().rstrip('.') if lines else 'no output'


def variable_of(image):
    """Where the image field takes its version from: ``('image', VAR)`` when a variable is the
    whole reference (``${APP_IMAGE}``), ``('tag', VAR)`` when it is the tag (``app:${APP_VERSION}``),
    else None."""
    match = _WHOLE.match(image or '')
    if match:
        return 'image', match.group('a') or match.group('b')
    match = _TAG.match(image or '')
    if match:
        return 'tag', match.group('a') or match.group('b')
    return None


def interpolate(text, variables):
    """``text`` with ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``$$`` resolved as compose does."""
    def one(match):
        if match.group('escaped'):
            return '$'
        name = match.group('braced') or match.group('plain')
        value = variables.get(name)
        op = match.group('op')
        if op == ':-' and not value:
            return match.group('arg')
        if op == '-' and value is None:
            return match.group('arg')
        if op in (':?', '?') and (value is None or (op == ':?' and not value)):
            raise InvalidInputError('Variable {0} is not set: {1}'.format(name, match.group('arg') or 'required'))
        return value or ''
    return _VARIABLE.sub(one, text or '')


def read_env_file(path):
    """``{key: value}`` of a compose ``.env`` file (quotes removed); {} when it does not exist."""
    values = {}
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return values
    for line in lines:
        match = _ENV_LINE.match(line)
        if not match or line.lstrip().startswith('#'):
            continue
        value = match.group('value').strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
            value = value[1:-1]
        values[match.group('key')] = value
    return values


def set_env_line(text, key, value):
    """``text`` of an env file with ``key`` set to ``value`` (the line replaced in place, else appended)."""
    lines = text.splitlines()
    line = '{0}={1}'.format(key, value)
    for index, old in enumerate(lines):
        match = _ENV_LINE.match(old)
        if match and match.group('key') == key and not old.lstrip().startswith('#'):
            lines[index] = line
            break
    else:
        lines.append(line)
    return '\n'.join(lines) + '\n'


def _scalar(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return json.loads(text)
    return text


def parse_config(text):
    """``(version, {service: image or None})`` of the YAML compose's ``config`` prints (block style, as compose
    normalizes it, whatever its indent), or of an override file ops.rollback wrote."""
    version, services, section, service = None, {}, None, None
    service_indent = image_indent = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        indent = len(line) - len(line.lstrip(' '))
        key, _colon, rest = line.strip().partition(':')
        if indent == 0:
            section, service = key, None
            if key == 'version':
                version = _scalar(rest)
            continue
        if section != 'services' or line.strip().startswith('-'):
            continue
        service_indent = indent if service_indent is None else service_indent
        if indent == service_indent:
            service, image_indent = _scalar(key), None
            services[service] = None
        elif service is not None and indent > service_indent:
            image_indent = indent if image_indent is None else image_indent
            if indent == image_indent and key == 'image':
                services[service] = _scalar(rest)
    return version, services


def parse_config_json(text):
    """``(version, {service: image or None})`` of ``config --format json`` (compose v2)."""
    data = json.loads(text)
    services = data.get('services') or {}
    return data.get('version'), dict((name, (spec or {}).get('image')) for name, spec in services.items())


def atomic_write(path, text, mode=0o644):
    """Write ``text`` to ``path`` through a temporary file in the same directory renamed over it."""
    directory = os.path.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(prefix='.ops-rollback-', dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            pass
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


class ComposeCli:
    """The ``docker`` CLI and compose beside it. ``run(argv, cwd=None) -> (rc, out, err)``."""

    def __init__(self, run=run_process, docker='docker'):
        self.run = run
        self.docker = docker
        self._compose = None

    def docker_json(self, *args):
        """The JSON ``docker <args>`` prints; raises naming the command when it fails."""
        rc, out, err = self.run([self.docker] + list(args))
        if rc != 0:
            raise self.engine_error(' '.join(args[:2]), err or out)
        return json.loads(out) if out.strip() else []

    def docker_lines(self, *args):
        rc, out, err = self.run([self.docker] + list(args))
        if rc != 0:
            raise self.engine_error(' '.join(args[:2]), err or out)
        return [line.strip() for line in out.splitlines() if line.strip()]

    def engine_error(self, what, err):
        host = os.environ.get('DOCKER_HOST')
        return RollbackError(
            'Failed to run docker {0}{1}: {2}. Check that dockerd runs and that this user may use it{3}. '
            'Nothing was changed by this call.'.format(
                what, ' (DOCKER_HOST={0})'.format(host) if host else '', _last_line(err),
                ', and that DOCKER_HOST is right' if host else ''))

    def check_engine(self):
        """The engine's version; raises a readable error when the engine cannot be reached."""
        if not shutil.which(self.docker):
            raise RollbackError(
                'The docker CLI ({0}) is not installed on this host, so compose_rollback cannot read or change the '
                'project. Install it (Debian: apt-get install docker.io). Nothing was changed.'.format(self.docker))
        rc, out, err = self.run([self.docker, 'version', '--format', '{{.Server.Version}}'])
        if rc != 0 or not out.strip():
            host = os.environ.get('DOCKER_HOST') or 'unix:///var/run/docker.sock'
            raise RollbackError(
                'Cannot reach the Docker engine at {0}: {1}. Start dockerd, or fix DOCKER_HOST, or give this user '
                'access to the socket. Nothing was changed.'.format(host, _last_line(err or out)),
                docker_host=host)
        return out.strip()

    def compose(self):
        """The compose command: ``['docker', 'compose']`` (v2 plugin) or ``['docker-compose']`` (v1)."""
        if self._compose is None:
            rc, _out, _err = self.run([self.docker, 'compose', 'version'])
            if rc == 0:
                self._compose = [self.docker, 'compose']
            elif shutil.which('docker-compose'):
                self._compose = ['docker-compose']
            else:
                raise RollbackError(
                    'Neither "docker compose" (the Compose v2 plugin) nor docker-compose (v1) is installed on this '
                    'host. Install one (Debian: apt-get install docker-compose). Nothing was changed.')
        return self._compose

    @property
    def v2(self):
        return self.compose() == [self.docker, 'compose']


def normalize_project_name(name):
    """The project name compose derives from a directory name."""
    return re.sub(r'[^-_a-z0-9]', '', name.lower()).lstrip('-_')


class ComposeProject:
    """One compose project: its directory, files and name, its services' image fields and pins.
    ``write_cache``: keep what ``config`` read for the next run (not in check mode, which writes nothing)."""

    def __init__(self, cli, project_src, files=None, project_name=None, write_cache=True):
        self.cli = cli
        self.write_cache = write_cache
        if not project_src or not os.path.isdir(project_src):
            raise InvalidInputError(
                'project_src {0!r} is not a directory on this host: pass the directory of the compose project (where '
                'its docker-compose.yml is). Nothing was changed.'.format(project_src), option='project_src')
        self.src = os.path.abspath(project_src)
        self.files = self._files(files)
        self.state_dir = os.path.join(self.src, STATE_DIR)
        self.env_path = os.path.join(self.src, ENV_FILE)
        self.override_path = os.path.join(self.src, OVERRIDE_FILE)
        self.name = project_name or self._name()
        if not normalize_project_name(self.name) == self.name:
            raise InvalidInputError(
                'project_name {0!r} is not a compose project name: lower-case letters, digits, "-" and "_" only. '
                'Nothing was changed.'.format(self.name), option='project_name')
        self._raw = None
        self._version = None

    def __str__(self):
        return 'compose project {0} ({1})'.format(self.name, self.src)

    def _files(self, files):
        if files:
            paths = [os.path.join(self.src, f) for f in files]
            missing = [f for f, p in zip(files, paths) if not os.path.isfile(p)]
            if missing:
                raise InvalidInputError(
                    'Compose file(s) {0} not found in {1}. Pass files= relative to project_src. Nothing was '
                    'changed.'.format(', '.join(missing), self.src), option='files')
            return paths
        found = [os.path.join(self.src, f) for f in DEFAULT_FILES if os.path.isfile(os.path.join(self.src, f))]
        if not found:
            raise InvalidInputError(
                'No compose file in {0} (looked for {1}). Pass files=, or the project directory as project_src. '
                'Nothing was changed.'.format(self.src, ', '.join(DEFAULT_FILES)), option='project_src')
        overrides = [os.path.join(self.src, f) for f in DEFAULT_OVERRIDES if os.path.isfile(os.path.join(self.src, f))]
        return found[:1] + overrides[:1]

    def variables(self):
        """What compose interpolates with: the project's ``.env``, under the process environment."""
        values = read_env_file(self.env_path)
        values.update(os.environ)
        return values

    def _name(self):
        return self.variables().get('COMPOSE_PROJECT_NAME') or normalize_project_name(os.path.basename(self.src))

    # --- the compose files -------------------------------------------------
    def command(self, *args):
        """The compose command line with this project's name and files (and the pins' override file when it exists)."""
        files = list(self.files)
        if os.path.isfile(self.override_path):
            files.append(self.override_path)
        argv = list(self.cli.compose()) + ['-p', self.name, '--project-directory', self.src]
        for path in files:
            argv += ['-f', path]
        return argv + list(args)

    def raw_images(self):
        """``{service: image field as written}`` of the project's own files (the pins' override file left out)."""
        if self._raw is None:
            self._version, self._raw = self._cached_config() or self._config()
        return self._raw

    def _config_key(self):
        """What ``config --no-interpolate`` depends on: the compose files given and every YAML file beside them
        (an ``extends`` names one), by content, and which compose reads them."""
        digest = hashlib.sha256(('v2' if self.cli.v2 else 'v1').encode())
        top = [os.path.join(self.src, n) for n in sorted(os.listdir(self.src))
               if n.endswith(('.yml', '.yaml')) and n != OVERRIDE_FILE]   # the pins are laid over config's output
        for path in self.files + top:
            digest.update(path.encode() + b'\0' + (read_text(path) or '').encode() + b'\0')
        return digest.hexdigest()

    def _cached_config(self):
        """The image fields read by an earlier run from the same files: compose v1 takes half a second to start."""
        try:
            cached = json.loads(read_text(os.path.join(self.state_dir, CONFIG_CACHE)) or '{}')
        except ValueError:
            return None
        if cached.get('key') != self._config_key() or not isinstance(cached.get('images'), dict):
            return None
        return cached.get('version'), cached['images']

    def _config(self):
        argv = list(self.cli.compose()) + ['-p', self.name, '--project-directory', self.src]
        for path in self.files:
            argv += ['-f', path]
        argv += ['config', '--no-interpolate'] + (['--format', 'json'] if self.cli.v2 else [])
        rc, out, err = self.cli.run(argv, cwd=self.src)
        if rc != 0:
            raise RollbackError(
                'Compose cannot read the files of {0} ({1}): {2}. Fix the compose file; nothing was '
                'changed.'.format(self, ', '.join(os.path.basename(f) for f in self.files), _last_line(err or out)))
        version, images = (parse_config_json if self.cli.v2 else parse_config)(out)
        if self.write_cache and os.path.isdir(self.state_dir):
            atomic_write(os.path.join(self.state_dir, CONFIG_CACHE),
                         json.dumps({'key': self._config_key(), 'version': version, 'images': images}))
        return version, images

    def compose_version(self):
        """The ``version`` key of the project's files (the override file repeats it: compose v1 requires the same)."""
        self.raw_images()
        return self._version

    def override_images(self):
        """``{service: image}`` pinned in the override file."""
        text = read_text(self.override_path)
        return parse_config(text)[1] if text else {}

    def image_of(self, service):
        """The image the service runs on the next ``up``: its field resolved, or its pin in the override file."""
        pinned = self.override_images().get(service)
        return pinned or interpolate(self.raw_images().get(service), self.variables())

    # --- the engine --------------------------------------------------------
    def containers(self, service):
        """``docker inspect`` of the service's containers (one-off ``run`` containers left out)."""
        ids = self.cli.docker_lines(
            'ps', '-a', '-q', '--no-trunc', '--filter', 'label=com.docker.compose.project={0}'.format(self.name),
            '--filter', 'label=com.docker.compose.service={0}'.format(service))
        if not ids:
            return []
        containers = self.cli.docker_json('inspect', '--type', 'container', *ids)
        return sorted((c for c in containers if (c.get('Config', {}).get('Labels') or {}).get(
            'com.docker.compose.oneoff', 'False') != 'True'), key=lambda c: c.get('Name', ''))

    def images(self, repository, also=()):
        """``docker image inspect`` of every image of ``repository`` the engine has, and of the image IDs in
        ``also`` that it still has (an image that lost its tags)."""
        ids = set(self.cli.docker_lines('image', 'ls', '-q', '--no-trunc', repository)) if repository else set()
        ids.update(i for i in also if i)
        if not ids:
            return []
        # One call: it prints the images it has and fails for the others (an image removed since), which are left out.
        rc, out, err = self.cli.run([self.cli.docker, 'image', 'inspect'] + sorted(ids))
        found = json.loads(out) if out.strip() else []
        if rc != 0 and not found and 'No such image' not in (err or ''):
            raise self.cli.engine_error('image inspect', err or out)
        return found

    def image(self, reference):
        """``docker image inspect`` of one reference, or None when the engine does not have it."""
        rc, out, _err = self.cli.run([self.cli.docker, 'image', 'inspect', reference])
        if rc != 0:
            return None
        found = json.loads(out)
        return found[0] if found else None

    def logs(self, container, lines=3):
        """The last ``lines`` lines a container wrote (stdout and stderr)."""
        rc, out, err = self.cli.run([self.cli.docker, 'logs', '--tail', str(lines), container])
        return [line.strip() for line in (out + err).splitlines() if line.strip()][-lines:] if rc == 0 else []

    def up(self, services):
        """``up -d --no-deps <services>``: recreates those services' containers whose configuration changed."""
        argv = self.command('up', '-d', '--no-deps', *services)
        rc, out, err = self.cli.run(argv, cwd=self.src)
        if rc != 0:
            raise RollbackError(
                'Compose failed to recreate {0} of {1}: {2}. The pin was written; run again once the cause is '
                'fixed, the same command converges.'.format(', '.join(services), self, _last_line(err or out)),
                command=argv, stderr=(err or '')[-2000:])
        return argv
