# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose as a platform of the rollback core: one driver per service, pinned
back to an image the engine has and recreated alone.

History: the images of the service's repository that the engine has, oldest
built first (``Created``), with the images the service ran before (kept in the
pins) and the one it runs now even when they lost their tags. A version is an
image's tag, else its digest, else its image ID; every spelling names it.

The pin is what makes the next ``up`` run the target, and run exactly it:
the image's repository digest (``RepoDigests``, an image pulled from a
registry), else its image ID (a locally built image has no digest; its ID is
the hash of its configuration, so it names exactly that content on this
engine). A moved tag (a rebuilt ``:v2``, a new ``latest``) then changes
nothing. It is written either in the variable the compose file takes the
image or its tag from (``.env``), or in the override file
``docker-compose.ops-rollback.yml``. The pin it replaces is kept in
``.ops-rollback/pins.json`` (and in the override file's comments), so the
rollback itself can be undone. Ledger and lock are files in ``.ops-rollback/``.

``run_compose`` runs the core once per service under the project's lock,
choosing every service's target and plan before anything changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import fcntl
import getpass
import json
import os
import socket
import time
import uuid

from ansible_collections.ops.rollback.plugins.module_utils._common.driver import Driver, Plan
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    RollbackError,
    RollbackTimeoutError,
)
from ansible_collections.ops.rollback.plugins.module_utils._common.images import parse_image
from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import Ledger
from ansible_collections.ops.rollback.plugins.module_utils._common.lock import FileLockStore, RollbackLock, run_lock
from ansible_collections.ops.rollback.plugins.module_utils._common.lock import describe as describe_lock
from ansible_collections.ops.rollback.plugins.module_utils._common.states import run_state
from ansible_collections.ops.rollback.plugins.module_utils._common.target import merge_histories
from ansible_collections.ops.rollback.plugins.module_utils._common.version import IMAGE, sort_versions, version_key
from ansible_collections.ops.rollback.plugins.module_utils.docker.compose import (
    ENV_FILE,
    OVERRIDE_FILE,
    atomic_write,
    parse_config,
    read_env_file,
    read_text,
    set_env_line,
    variable_of,
)

PINS = ('auto', 'variable', 'override')
LEDGER_FILE = 'ledger.json'
PINS_FILE = 'pins.json'
LOCK_FILE = 'lock'
#: Pins kept per service in pins.json.
KEEP_PINS = 20
POLL_SECONDS = 0.5
HEALTH_LINES = 3
#: The owner of the lock a task takes for itself (without the lock option), followed by a random id.
OWN_LOCK = 'compose_rollback-'


def _short(image_id):
    return (image_id or '')[7:19] if (image_id or '').startswith('sha256:') else (image_id or '')[:12]


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


class _JsonFile:
    """A JSON object in the project's ``.ops-rollback`` directory, changed under a flock and replaced by rename."""

    def __init__(self, path):
        self.path = path

    def read(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise RollbackError('Cannot read {0}: {1}. Restore it, or move it aside to start an empty one.'.format(
                self.path, exc))
        if not isinstance(data, dict) or not isinstance(data.get('services', {}), dict):
            raise RollbackError('Cannot read {0}: it is not a JSON object with "services". Restore it, or move it '
                                'aside to start an empty one.'.format(self.path))
        return data

    def update(self, change):
        """Apply ``change(data)`` to the file's data and write it back, atomically."""
        directory = os.path.dirname(self.path)
        os.makedirs(directory, exist_ok=True)
        with open(self.path + '.lock', 'a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self.read()
            data.setdefault('services', {})
            change(data)
            atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True) + '\n')


class ComposeLedger(Ledger):
    """The release ledger of one service: its list in ``.ops-rollback/ledger.json``."""

    version_syntax = IMAGE

    def __init__(self, path, service):
        self.file = _JsonFile(path)
        self.service = service

    def entries(self):
        entries = self.file.read().get('services', {}).get(self.service, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get('version') for e in entries):
            raise RollbackError('Cannot read the release ledger {0}: the entries of service {1} are not a list of '
                                'verdicts. Restore it from a backup, or move it aside.'.format(self.file.path,
                                                                                               self.service))
        return entries

    def _append(self, entries):
        self.file.update(lambda data: data['services'].setdefault(self.service, []).extend(entries))


class PinStore:
    """The pins written for each service, newest last, each with the pin it replaced (``previous``)."""

    def __init__(self, path):
        self.file = _JsonFile(path)

    def entries(self, service):
        pins = self.file.read().get('services', {}).get(service, [])
        return [p for p in pins if isinstance(p, dict)] if isinstance(pins, list) else []

    def add(self, service, pin):
        def change(data):
            pins = data['services'].setdefault(service, [])
            pins.append(pin)
            del pins[:-KEEP_PINS]
        self.file.update(change)


class ComposeLockStore(FileLockStore):
    """The project's rollback lock, ``.ops-rollback/lock`` (the directory made when the lock is taken)."""

    def write(self, lock, replace):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        super(ComposeLockStore, self).write(lock, replace)


def holder():
    """Who takes a lock when no action plugin said so: this user, host and process."""
    return {'user': getpass.getuser(), 'controller': socket.gethostname(), 'pid': os.getpid()}


def render_override(version, pins, comments):
    """The override file's text: ``pins`` {service: image}, ``comments`` {service: what ran before}."""
    lines = ['# Written by ops.rollback (compose_rollback): the images services are pinned to.',
             '# Include it in every "up" (-f, or COMPOSE_FILE in .env), or remove it to unpin.']
    lines += ['# {0}: pinned over {1}'.format(s, comments[s]) for s in sorted(pins) if comments.get(s)]
    if version:
        lines.append('version: {0}'.format(json.dumps(version)))
    lines.append('services:')
    for service in sorted(pins):
        lines += ['  {0}:'.format(json.dumps(service)), '    image: {0}'.format(json.dumps(pins[service]))]
    return '\n'.join(lines) + '\n'


def override_comments(text):
    comments = {}
    for line in (text or '').splitlines():
        if line.startswith('# ') and ': pinned over ' in line:
            service, _sep, what = line[2:].partition(': pinned over ')
            comments[service] = what
    return comments


class ComposeDriver(Driver):
    """One service of a ``ComposeProject``; ``pin``: auto, variable or override."""

    version_syntax = IMAGE

    def __init__(self, project, service, pin='auto', clock=time.monotonic, sleep=time.sleep, poll=POLL_SECONDS):
        if pin not in PINS:
            raise InvalidInputError('pin must be one of {0}, got {1!r}. Nothing was changed.'.format(
                ', '.join(PINS), pin), option='pin')
        self.project = project
        self.service = service
        self.pin_choice = pin
        self.ledger = ComposeLedger(os.path.join(project.state_dir, LEDGER_FILE), service)
        self.pins = PinStore(os.path.join(project.state_dir, PINS_FILE))
        self.clock, self.sleep, self.poll = clock, sleep, poll
        self.containers = []
        self._entries = None
        self.warnings = []
        self.written = None

    def describe(self):
        return 'service {0} of {1}'.format(self.service, self.project)

    def lock_store(self):
        return ComposeLockStore(os.path.join(self.project.state_dir, LOCK_FILE))

    def named(self):
        return {'project': {'name': self.project.name, 'src': self.project.src,
                            'files': [os.path.basename(f) for f in self.project.files]}}

    # --- reading -------------------------------------------------------------
    def load(self):
        # Read once per task: the plan of every service is made first (run_compose), under the lock, and the
        # rollback itself then goes on from what that read; only a change of this driver's reads again.
        if self._entries is not None and self.written is None:
            return
        raw = self.project.raw_images()
        if self.service not in raw:
            raise InvalidInputError(
                '{0} has no service {1} (services: {2}). Pass services= with names from the compose file. Nothing '
                'was changed.'.format(self.project, self.service, ', '.join(sorted(raw)) or 'none'),
                services=sorted(raw))
        if not raw[self.service]:
            raise InvalidInputError(
                'Service {0} of {1} has no image: field (it is only built), so there is no image to pin back. '
                'Give it image: name:tag. Nothing was changed.'.format(self.service, self.project))
        self.raw = raw[self.service]
        self.containers = self.project.containers(self.service)
        self.effective = self.project.image_of(self.service)
        pins = self.pins.entries(self.service)
        self.repository = self._repository(pins)
        also = [c.get('Image') for c in self.containers] + [p.get('image_id') for p in pins] + [
            (p.get('previous') or {}).get('image_id') for p in pins]
        images = self.project.images(self.repository, also=[i for i in also if i])
        running = set(c.get('Image') for c in self.containers)
        self._entries = sorted((self._entry(image, running) for image in images),
                               key=lambda e: (e['created'], version_key(e['version'])))

    def _repository(self, pins):
        name = parse_image(self.effective)[0] if self.effective else ''
        if name and not name.startswith('sha256'):
            return name
        for pin in reversed(pins):
            if pin.get('repository'):
                return pin['repository']
        for container in self.containers:
            image = self.project.image(container.get('Image'))
            for tag in (image or {}).get('RepoTags') or []:
                return parse_image(tag)[0]
        return ''

    def _entry(self, image, running):
        tags = [t for t in image.get('RepoTags') or [] if parse_image(t)[0] == self.repository]
        digests = [d for d in image.get('RepoDigests') or [] if parse_image(d)[0] == self.repository]
        tag_names = sort_versions(parse_image(t)[1] for t in tags)
        named = [t for t in tag_names if t != 'latest'] or tag_names
        version = named[-1] if named else (parse_image(digests[0])[2] if digests else image['Id'])
        aliases = set([image['Id']] + tags + digests + tag_names + [parse_image(d)[2] for d in digests])
        aliases.discard(version)
        return {'version': version, 'aliases': sorted(aliases), 'image_id': image['Id'],
                'created': image.get('Created', ''), 'tags': tag_names, 'repo_digests': digests,
                'images': {self.service: self._reference(image['Id'], tags, digests)},
                'current': image['Id'] in running}

    def _reference(self, image_id, tags, digests):
        """How people name the image: ``repo:tag``, else ``repo@digest``, else its ID."""
        named = [t for t in tags if not t.endswith(':latest')] or tags
        return named[-1] if named else (digests[0] if digests else image_id)

    def history(self):
        return self._entries

    def platform_rollback(self):
        """A rollback of compose_rollback whose pin is still in force, its image running: previous stays there
        (a second run changes nothing, never going one more step back). None once anything was deployed since."""
        pins = self.pins.entries(self.service)
        current = self.current()
        if not pins or not current or not self.containers:
            return None
        last = pins[-1]
        if any(c.get('Image') != last.get('image_id') for c in self.containers) or \
                self._resolved() != last.get('image_id') or current['image_id'] != last.get('image_id'):
            return None
        before = last.get('previous') or {}
        return {'message': 'compose_rollback pinned {0} to {1} ({2}) at {3}, over {4} ({5})'.format(
            self.service, last.get('version'), _short(last.get('image_id')), last.get('at'),
            before.get('version') or before.get('image') or 'nothing', _short(before.get('image_id'))),
            'at': last.get('at'), 'restored': current['version'], 'pin': dict(
                (k, last.get(k)) for k in ('mode', 'file', 'variable', 'value'))}

    def current(self):
        return next((e for e in self._entries if e['current']), None)

    # --- the pin -------------------------------------------------------------
    def _variable(self):
        found = variable_of(self.raw)
        if not found:
            return None, None, 'its image field {0!r} takes no variable'.format(self.raw)
        kind, name = found
        if name in os.environ:
            return kind, name, 'variable {0} is set in the environment, which compose reads over .env'.format(name)
        others = sorted(s for s, image in self.project.raw_images().items()
                        if s != self.service and image and (variable_of(image) or (None, None))[1] == name)
        if others:
            return kind, name, 'variable {0} is also the image of {1}'.format(name, ', '.join(others))
        return kind, name, None

    def pin_for(self, target):
        """``{mode, file, variable, value, exact}`` that makes ``up`` run the target's image."""
        content = target['repo_digests'][0] if target['repo_digests'] else target['image_id']
        kind, name, why_not = self._variable()
        value = None
        if kind == 'image':
            value = content
        elif kind == 'tag' and target['tags']:
            tag = target['tags'][-1] if target['version'] not in target['tags'] else target['version']
            value = tag + ('@' + parse_image(content)[2] if target['repo_digests'] else '')
        exact = value is not None and (kind == 'image' or bool(target['repo_digests']))
        if self.pin_choice == 'variable':
            if why_not or value is None:
                raise InvalidInputError(
                    'Cannot pin {0} with a variable: {1}. Use pin=override (or auto). Nothing was changed.'.format(
                        self.describe(), why_not or 'image {0} has no tag of {1} for the variable {2} to name'.format(
                            target['image_id'], self.repository, name)), option='pin')
            if not exact and not self.warnings:
                self.warnings.append(
                    'The pin of {0} is the tag {1} in {2} ({3}={1}): image {4} was built here and has no digest, '
                    'and the tag variable cannot hold an image ID, so a rebuilt or re-tagged {1} would change what '
                    'the next up runs. pin=override pins the image ID.'.format(
                        self.describe(), value, ENV_FILE, name, _short(target['image_id'])))
        elif self.pin_choice == 'auto' and not (value and exact and not why_not):
            value = None
        if value is not None and self.pin_choice != 'override':
            return {'mode': 'variable', 'file': ENV_FILE, 'variable': name, 'value': value}
        return {'mode': 'override', 'file': OVERRIDE_FILE, 'variable': None, 'value': content}

    def pin_now(self, pin):
        """The pin as the files say it now, in ``pin``'s mode."""
        if pin['mode'] == 'variable':
            return read_env_file(self.project.env_path).get(pin['variable'])
        return self.project.override_images().get(self.service)

    def _pin_line(self, pin, value):
        if pin['mode'] == 'variable':
            return '{0}: {1}={2}\n'.format(pin['file'], pin['variable'], value if value is not None else '(unset)')
        return '{0}: services.{1}.image: {2}\n'.format(pin['file'], self.service,
                                                       value if value is not None else '(no pin)')

    def _containers_text(self, image_id, ref):
        names = [c.get('Name', '').lstrip('/') for c in self.containers] or ['(none)']
        return ''.join('container {0}: {1} ({2})\n'.format(n, ref, _short(image_id)) for n in names)

    # --- changing ------------------------------------------------------------
    def _converged(self, target):
        if not self.containers:
            return False
        for container in self.containers:
            state = container.get('State') or {}
            if container.get('Image') != target['image_id'] or not state.get('Running') or state.get('Restarting'):
                return False
        return self._resolved() == target['image_id']

    def _resolved(self):
        """The image ID the next ``up`` runs for the service (None when the engine lacks it)."""
        known = next((e['image_id'] for e in self._entries if self.effective in [e['image_id']] + e['aliases']), None)
        if known is None and self.effective:
            known = (self.project.image(self.effective) or {}).get('Id')
        return known

    def plan(self, target):
        current = self.current() or {}
        pin = self.pin_for(target)
        now = self.pin_now(pin)
        before = self._pin_line(pin, now) + self._containers_text(
            current.get('image_id'), (self.containers[0].get('Config') or {}).get('Image') if self.containers else '')
        if self._converged(target):
            return Plan([], before, before)
        after_names = [c.get('Name', '').lstrip('/') for c in self.containers] or ['(new)']
        after = self._pin_line(pin, pin['value']) + ''.join('container {0}: {1} ({2})\n'.format(
            n, pin['value'], _short(target['image_id'])) for n in after_names)
        steps = []
        if now != pin['value']:
            steps.append('pin {0} to {1} ({2}) in {3}{4}, keeping the pin it replaces ({5}) in {6}'.format(
                self.service, target['version'], pin['value'], pin['file'],
                ' ' + pin['variable'] if pin['variable'] else '', now or 'none', '.ops-rollback/' + PINS_FILE))
        if pin['mode'] == 'variable' and self.service in self.project.override_images():
            steps.append('remove the pin of {0} from {1}, which would override {2}'.format(
                self.service, OVERRIDE_FILE, pin['variable']))
        steps.append('recreate {0} ({1} container(s)) with {2} up -d --no-deps {0}'.format(
            self.service, len(self.containers) or 'no', ' '.join(self.project.cli.compose())))
        return Plan(steps, before, after)

    def apply(self, target, plan):
        pin = self.pin_for(target)
        current = self.current() or {}
        now = self.pin_now(pin)
        previous = {'mode': pin['mode'], 'file': pin['file'], 'variable': pin['variable'], 'value': now,
                    'image_id': current.get('image_id'), 'version': current.get('version'),
                    'image': (self.containers[0].get('Config') or {}).get('Image') if self.containers else None}
        record = dict(pin, at=_now(), image_id=target['image_id'], version=target['version'],
                      repository=self.repository, previous=previous)
        self.pins.add(self.service, record)
        if pin['mode'] == 'variable':
            text = read_text(self.project.env_path) or ''
            atomic_write(self.project.env_path, set_env_line(text, pin['variable'], pin['value']))
            self._write_override(remove=True)
        else:
            self._write_override(value=pin['value'], over='{0} ({1}, {2})'.format(
                now or self.effective, previous['version'], _short(previous['image_id'])))
        self.written = record
        try:
            self.project.up([self.service])
        except RollbackError as err:
            err.details.update(pin=record)
            raise

    def _write_override(self, value=None, over=None, remove=False):
        text = read_text(self.project.override_path)
        pins = parse_config(text)[1] if text else {}
        comments = override_comments(text)
        if remove:
            if self.service not in pins:
                return
            pins.pop(self.service)
            comments.pop(self.service, None)
        else:
            pins[self.service] = value
            comments[self.service] = over
        if not pins:
            os.unlink(self.project.override_path)
            return
        atomic_write(self.project.override_path, render_override(self.project.compose_version(), pins, comments))

    # --- waiting -------------------------------------------------------------
    def wait(self, target, timeout):
        """Until every container of the service runs the target, running, not restarting, and healthy where the
        image has a healthcheck; a container that exited or turned unhealthy fails at once."""
        deadline = self.clock() + timeout
        while True:
            containers = self.project.containers(self.service)
            pending, failed = [], []
            for container in containers:
                verdict = self._judge(container, target)
                if verdict == 'failed':
                    failed.append(container)
                elif verdict != 'ok':
                    pending.append(container)
            if failed:
                raise self._failure(target, failed, containers, 'is not healthy')
            if containers and not pending:
                return {'containers': [c.get('Name', '').lstrip('/') for c in containers],
                        'health': sorted(set(((c.get('State') or {}).get('Health') or {}).get('Status', 'none')
                                             for c in containers))}
            if self.clock() >= deadline:
                raise self._failure(target, pending or containers, containers,
                                    'did not become running and healthy within {0} s'.format(timeout),
                                    timeout=True)
            self.sleep(self.poll)

    @staticmethod
    def _judge(container, target):
        state = container.get('State') or {}
        if container.get('Image') != target['image_id']:
            return 'pending'
        if state.get('Status') in ('exited', 'dead'):
            return 'failed'
        health = (state.get('Health') or {}).get('Status')
        if health == 'unhealthy':
            return 'failed'
        if not state.get('Running') or state.get('Restarting') or health not in (None, 'healthy'):
            return 'pending'
        return 'ok'

    def _failure(self, target, bad, containers, what, timeout=False):
        words = []
        for container in bad:
            state = container.get('State') or {}
            health = state.get('Health') or {}
            running = state.get('Status') not in ('exited', 'dead')
            checks = [(entry.get('Output') or '').strip().replace('\n', ' ') for entry in (health.get('Log') or [])]
            output = [] if running else self.project.logs(container.get('Id'), HEALTH_LINES)
            words.append('{0}: {1}{2}, exit code {3}{4}{5}{6}{7}'.format(
                container.get('Name', '').lstrip('/'), state.get('Status'),
                ' ({0})'.format(health['Status']) if health.get('Status') and running else '', state.get('ExitCode'),
                ', error: ' + state['Error'] if state.get('Error') else '',
                ', restarted {0} times'.format(container.get('RestartCount')) if container.get('RestartCount') else '',
                '; last health checks: ' + ' | '.join(checks[-HEALTH_LINES:]) if checks and running else '',
                '; its last output: ' + ' | '.join(output) if output else ''))
        details = {'containers': [{'name': c.get('Name', '').lstrip('/'), 'image_id': c.get('Image'),
                                   'state': c.get('State')} for c in containers], 'pin': self.written}
        msg = ('{0} was pinned to {1} ({2}) and recreated, but it {3}: {4}. It was left as it is (see docker logs '
               '{5}); roll it back to another version (version=) or fix it forward once the cause is known.').format(
            self.describe(), target['version'], _short(target['image_id']), what, '; '.join(words) or 'no container',
            (bad[0].get('Name', '').lstrip('/') if bad else self.service))
        return RollbackTimeoutError(msg, **details) if timeout else RollbackError(msg, **details)

    def report(self, result, before, warn, check_mode):
        for message in self.warnings:
            warn(message)
        target = next((e for e in self._entries if e['version'] == result['to_version']), {})
        pins = self.pins.entries(self.service)
        report = {'from_image': (self.containers[0].get('Config') or {}).get('Image') if self.containers else None,
                  'from_image_id': before.get('image_id'), 'to_image_id': target.get('image_id'),
                  'to_image': self.effective if not result['changed'] else self.pin_for(target)['value']}
        if self.written or (pins and not check_mode and pins[-1].get('image_id') == target.get('image_id')):
            kept = (self.written or pins[-1])
            report['pin'] = dict((k, kept[k]) for k in ('mode', 'file', 'variable', 'value'))
            report['previous_pin'] = kept['previous']
        return report


# --- the module's work: the core once per service, under the project's lock ----


def _joined(values):
    """One value when every service agrees, else ``svc=value, ...``."""
    distinct = set(v for v in values.values())
    if len(distinct) == 1:
        return distinct.pop()
    return ', '.join('{0}={1}'.format(s, values[s]) for s in sorted(values))


def _targets(project, services, version):
    """``{service: version or None}``: the services to roll back, each with its explicit version."""
    raw = project.raw_images()
    if isinstance(version, dict):
        if not version:
            raise InvalidInputError('version is an empty map: name services and their versions. Nothing was changed.',
                                    option='version')
        for name, value in version.items():
            if not isinstance(value, str) or not value:
                raise InvalidInputError('version of service {0} must be a non-empty string, got {1!r}. Nothing was '
                                        'changed.'.format(name, value), option='version')
        names = list(services or sorted(version))
        extra = sorted(set(version) - set(names))
        if extra:
            raise InvalidInputError('version names service(s) {0} that services= leaves out. Nothing was '
                                    'changed.'.format(', '.join(extra)), option='version')
    elif version is not None and not isinstance(version, str):
        raise InvalidInputError('version must be a tag, a digest, an image reference or a map of service to version, '
                                'got {0!r}. Nothing was changed.'.format(version), option='version')
    else:
        names = list(services or sorted(s for s, image in raw.items() if image))
    unknown = sorted(set(names) - set(raw))
    if unknown:
        raise InvalidInputError(
            '{0} has no service {1} (services: {2}). Pass services= with names from the compose file. Nothing was '
            'changed.'.format(project, ', '.join(unknown), ', '.join(sorted(raw)) or 'none'), services=sorted(raw))
    if not names:
        raise InvalidInputError('{0} has no service with an image. Nothing was changed.'.format(project))
    return dict((name, (version.get(name) if isinstance(version, dict) else version) or None) for name in names)


def _aggregate(project, results, check_mode):
    per = dict((s, r) for s, r in results)
    result = {'changed': any(r['changed'] for r in per.values()), 'services': per,
              'from_version': _joined(dict((s, r.get('from_version')) for s, r in per.items())),
              'to_version': _joined(dict((s, r.get('to_version')) for s, r in per.items())),
              'compose': ' '.join(project.cli.compose())}
    if all('rule' in r for r in per.values()):
        result['rule'] = _joined(dict((s, r['rule']) for s, r in per.items()))
        result['plan'] = [step for r in per.values() for step in r['plan']]
        result['images'] = {'before': dict((s, r.get('from_image')) for s, r in per.items()),
                            'after': dict((s, r.get('to_image')) for s, r in per.items())}
    recorded = {}
    for r in per.values():
        recorded.update(r.get('recorded') or {})
    if recorded:
        result['recorded'] = recorded
    diffs = [r['diff'] for r in per.values() if r.get('diff')]
    if diffs:
        result['diff'] = dict((side, ''.join(d[side] for d in diffs)) for side in ('before', 'after'))
    for r in per.values():
        r.pop('diff', None)
        r.pop('project', None)
    return result


def _listing(project, results, taken):
    per = dict(results)
    result = {'changed': False, 'services': per, 'syntax': IMAGE, 'compose': ' '.join(project.cli.compose())}
    currents = dict((s, r.get('current')) for s, r in per.items())
    result['current'] = _joined(currents)
    result['from_version'] = result['to_version'] = result['current']
    if len(per) == 1:
        only = list(per.values())[0]
        result.update(history=only['history'], good=only['good'], bad=only['bad'])
        if only.get('platform_rollback'):
            result['platform_rollback'] = only['platform_rollback']
    elif all(r.get('platform_rollback') for r in per.values()):
        result['platform_rollback'] = {'message': '; '.join(r['platform_rollback']['message'] for r in per.values())}
    else:
        result['history'] = merge_histories(dict((s, r['history']) for s, r in per.items()))
        result['bad'] = sorted(set().union(*(r['bad'] for r in per.values())))
        result['good'] = sorted(set.intersection(*(set(r['good']) for r in per.values())) - set(result['bad']))
    for r in per.values():
        r.pop('project', None)
    if taken:
        result.update(changed=taken['changed'], lock=taken['lock'])
        if taken.get('taken_over'):
            result['taken_over'] = taken['taken_over']
    return result


def run_compose(project, services=None, version=None, pin='auto', state='rolled_back', check_mode=False, wait=True,
                wait_timeout=300, rolled_back_from=None, note=None, lock=None, warn=None, driver_class=ComposeDriver):
    """compose_rollback's result for ``state``, over every service in ``services`` (default: all with an image)."""
    warn = warn or (lambda msg: None)
    project.cli.check_engine()
    store = ComposeLockStore(os.path.join(project.state_dir, LOCK_FILE))
    named = {'project': {'name': project.name, 'src': project.src, 'files': [os.path.basename(f) for f in project.files]}}
    if state == 'unlocked':
        return dict(run_lock(store, 'released', lock['owner'], check_mode=check_mode, warn=warn), **named)
    targets = _targets(project, services, version)
    drivers = [(s, driver_class(project, s, pin=pin)) for s in sorted(targets)]
    if state == 'listed':
        taken = None
        if lock and not check_mode:
            taken = run_lock(store, 'acquired', lock['owner'], holder=lock.get('holder') or holder(), ttl=lock['ttl'],
                             force=lock['force'], warn=warn)
        results = [(s, run_state(d, state='listed', warn=warn)) for s, d in drivers]
        return dict(_listing(project, results, taken), **named)
    if state == 'recorded':
        results = [(s, run_state(d, state='recorded', version=targets[s], rolled_back_from=rolled_back_from,
                                 note=note, check_mode=check_mode, warn=warn)) for s, d in drivers]
        result = {'changed': any(r['changed'] for _s, r in results), 'services': dict(results)}
        result.update(from_version=_joined(dict((s, r['from_version']) for s, r in results)),
                      to_version=_joined(dict((s, r['to_version']) for s, r in results)))
        if len(results) == 1:
            result.update((k, results[0][1][k]) for k in ('entries', 'good', 'bad'))
        diffs = [r.pop('diff') for _s, r in results if r.get('diff')]
        if diffs:
            result['diff'] = dict((side, ''.join(d[side] for d in diffs)) for side in ('before', 'after'))
        return dict(result, **named)
    return dict(_roll_back(project, store, drivers, targets, check_mode, wait, wait_timeout, rolled_back_from, note,
                           lock, warn), **named)


def _abandoned(held):
    """Whether ``held`` is the own lock of a compose_rollback task of this host that no longer runs (killed)."""
    if not held or not str(held.get('owner', '')).startswith(OWN_LOCK):
        return False
    who = held.get('holder') or {}
    if who.get('controller') != socket.gethostname() or not isinstance(who.get('pid'), int):
        return False
    try:
        os.kill(who['pid'], 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _roll_back(project, store, drivers, targets, check_mode, wait, wait_timeout, rolled_back_from, note, lock, warn):
    lock = lock or {}
    owner = lock.get('owner') or '{0}{1}'.format(OWN_LOCK, uuid.uuid4().hex[:12])
    rollback_lock = RollbackLock(store)
    force = lock.get('force', False) or _abandoned(store.read())
    # A task's own lock lasts as long as the task may: every service's wait, and time to spare.
    ttl = lock.get('ttl') or wait_timeout * len(drivers) + 600
    taken = False
    if check_mode:
        try:
            rollback_lock.plan_acquire(owner, force=force)
        except RollbackError as err:
            warn(err.msg)
    else:
        taken, _held, taken_over = rollback_lock.acquire(owner, lock.get('holder') or holder(), ttl, force=force)
        if taken_over:
            warn('Took over the lock {0} from {1}: {2}.'.format(store, describe_lock(taken_over), (
                'its task, on this host, no longer runs' if _abandoned(taken_over) else 'it had expired, or force')))
    try:
        # Every service's target and plan first, in check mode: a bad version or service changes nothing.
        planned = [(s, run_state(d, state='rolled_back', version=targets[s], check_mode=True, wait=wait,
                                 wait_timeout=wait_timeout, rolled_back_from=rolled_back_from, note=note,
                                 warn=warn if check_mode else None)) for s, d in drivers]
        if check_mode:
            return _aggregate(project, planned, check_mode)
        done = []
        for service, _plan in planned:
            driver = dict(drivers)[service]
            driver.warnings = []
            try:
                done.append((service, run_state(driver, state='rolled_back', version=targets[service],
                                                wait=wait, wait_timeout=wait_timeout,
                                                rolled_back_from=rolled_back_from, note=note, warn=warn)))
            except RollbackError as err:
                err.details.setdefault('service', service)
                if done:
                    err.details['services'] = dict(done)
                    err.msg += ' Already rolled back in this run: {0}.'.format(', '.join(
                        '{0} to {1}'.format(s, r['to_version']) for s, r in done))
                    err.details['changed'] = any(r['changed'] for _s, r in done) or err.details.get('changed')
                raise
        return _aggregate(project, done, check_mode)
    finally:
        if taken:
            rollback_lock.release(owner)
