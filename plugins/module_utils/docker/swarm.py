# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Swarm service as the rollback reads and changes it, through the Engine API.

``SwarmService`` reads the service (its spec, ``PreviousSpec``,
``UpdateStatus`` and version index), its tasks and the images of its
repository on the engine, and updates it: with a new spec, or with the
engine's own rollback (``POST /services/{id}/update?rollback=previous``,
which the Python SDK lacks). Every update carries the version index read
before, so one made in between fails ("update out of sequence") instead of
being overwritten.

The ledger and the lock are *not* labels of the service: every update of a
service, a label's included, makes the spec it replaces its ``PreviousSpec``
and clears its ``UpdateStatus``, so writing one would erase what
``docker service update --rollback`` goes back to and what the engine's own
rollback left. They are Swarm configs beside the service, in the swarm's own
store that every manager (and every controller) reads:

* the ledger is the label ``ops.rollback.ledger`` (compact JSON; labels have
  no length limit) of config ``ops-rollback-ledger.<service>``, updated with
  the config's version index, so a concurrent write fails;
* the lock is config ``ops-rollback-lock.<service>``, whose data is the lock:
  the engine creates a config of a name only once, so two runs never both
  take it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import hashlib
import json

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import NotFoundError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.images import parse_image
from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import Ledger
from ansible_collections.ops.rollback.plugins.module_utils._common.lock import parse_lock
from ansible_collections.ops.rollback.plugins.module_utils._common.version import IMAGE
from ansible_collections.ops.rollback.plugins.module_utils.docker.client import engine_error

try:
    import docker.errors
except ImportError:   # the module reports docker missing
    pass

LEDGER_LABEL = 'ops.rollback.ledger'
LEDGER_CONFIG = 'ops-rollback-ledger.'
LOCK_CONFIG = 'ops-rollback-lock.'
# A Swarm object's name holds 64 characters.
MAX_NAME = 64
# The engine's words for an update made with a stale version index.
OUT_OF_SEQUENCE = 'update out of sequence'


def config_name(prefix, service):
    """The name of a config of ``service``; a long service name is shortened with a hash of it."""
    name = prefix + service
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(service.encode('utf-8')).hexdigest()[:12]
    return '{0}{1}-{2}'.format(prefix, service[:MAX_NAME - len(prefix) - 13], digest)


def repository(image):
    """The repository of an image reference: ``registry:5000/app`` of ``registry:5000/app:v1@sha256:...``."""
    return parse_image(image)[0]


def lookup_ref(image):
    """The reference the engine finds a local image by (``repo@digest`` of ``repo:tag@digest``)."""
    name, tag, digest = parse_image(image)
    return '{0}@{1}'.format(name, digest) if digest else image


class SwarmService:
    """Swarm service ``name``, through the low-level ``APIClient`` ``api``."""

    def __init__(self, api, name):
        self.api = api
        self.name = name
        self.data = None

    def __str__(self):
        return 'swarm service {0}'.format(self.name)

    def _call(self, action, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Exception as err:   # the SDK raises requests' and its own errors alike
            if isinstance(err, RollbackError):
                raise
            raise engine_error(err, action, self)

    # --- reading -----------------------------------------------------------
    def read(self):
        try:
            self.data = self.api.inspect_service(self.name)
        except docker.errors.NotFound:
            names = sorted(s['Spec']['Name'] for s in self._call('list the services of', self.api.services))
            raise NotFoundError(
                'Cannot roll back {0}: no such service on this swarm (services: {1}). Check name= and docker_host. '
                'Nothing was changed.'.format(self, ', '.join(names) or 'none'), services=names)
        except Exception as err:
            raise engine_error(err, 'read', self)
        return self.data

    @property
    def id(self):
        return self.data['ID']

    @property
    def version(self):
        return self.data['Version']['Index']

    @property
    def spec(self):
        return self.data['Spec']

    @property
    def previous_spec(self):
        return self.data.get('PreviousSpec')

    @property
    def update_status(self):
        return self.data.get('UpdateStatus') or {}

    @staticmethod
    def image_of(spec):
        return ((spec or {}).get('TaskTemplate') or {}).get('ContainerSpec', {}).get('Image')

    @property
    def image(self):
        return self.image_of(self.spec)

    @property
    def previous_image(self):
        return self.image_of(self.previous_spec)

    def replicas(self):
        """The replicas the service wants, or None for a global service."""
        return ((self.spec.get('Mode') or {}).get('Replicated') or {}).get('Replicas')

    def tasks(self):
        """The service's tasks, plain: id, slot, image, desired and actual state, error, message, container."""
        tasks = self._call('list the tasks of', self.api.tasks, filters={'service': self.id})
        return [{
            'id': t['ID'], 'slot': t.get('Slot'), 'node': t.get('NodeID'),
            'image': self.image_of(t.get('Spec') and {'TaskTemplate': t['Spec']}),
            'desired_state': t.get('DesiredState'), 'state': (t.get('Status') or {}).get('State'),
            'message': (t.get('Status') or {}).get('Message'), 'error': (t.get('Status') or {}).get('Err'),
            'container': ((t.get('Status') or {}).get('ContainerStatus') or {}).get('ContainerID'),
            'exit_code': ((t.get('Status') or {}).get('ContainerStatus') or {}).get('ExitCode'),
            'created': t.get('CreatedAt'),
        } for t in tasks]

    def local_image(self, reference):
        """The engine's image ``reference`` names: ``{'id', 'created', 'tags', 'digests'}``, or None."""
        try:
            image = self.api.inspect_image(lookup_ref(reference))
        except docker.errors.ImageNotFound:
            return None
        except Exception as err:
            raise engine_error(err, 'inspect image {0} for'.format(reference), self)
        return {'id': image['Id'], 'created': image.get('Created') or '', 'tags': image.get('RepoTags') or [],
                'digests': image.get('RepoDigests') or []}

    def repository_images(self, repo):
        """The engine's images of repository ``repo``, each as ``local_image`` gives it."""
        listed = self._call('list the images of {0} for'.format(repo), self.api.images, name=repo)
        images = []
        for entry in listed:
            image = self.local_image(entry['Id'])
            if image:
                images.append(image)
        return images

    # --- changing ----------------------------------------------------------
    def _post_update(self, spec, rollback=False):
        params = {'version': self.version}
        if rollback:
            params['rollback'] = 'previous'
        try:
            response = self.api._post_json(self.api._url('/services/{0}/update', self.id), data=spec, params=params)
            self.api._raise_for_status(response)
        except Exception as err:
            if OUT_OF_SEQUENCE in str(getattr(err, 'explanation', '') or err):
                raise RollbackError(
                    'Failed to update {0}: it changed since it was read (the engine refused version {1}: update '
                    'out of sequence); someone else updated it meanwhile. Look at `docker service inspect {2}`, '
                    'then run again.'.format(self, self.version, self.name))
            raise engine_error(err, 'update', self)
        warnings = (response.json() or {}).get('Warnings') if response.content else None
        return warnings or []

    def update_image(self, image, rollback_config=None):
        """Run ``image`` with the same spec otherwise (ForceUpdate untouched); ``rollback_config`` (the
        Engine API's keys) also rules this update's rollout: it becomes UpdateConfig and RollbackConfig."""
        spec = copy.deepcopy(self.spec)
        spec['TaskTemplate']['ContainerSpec']['Image'] = image
        if rollback_config:
            spec['RollbackConfig'] = dict(spec.get('RollbackConfig') or {}, **rollback_config)
            spec['UpdateConfig'] = dict(spec.get('UpdateConfig') or {}, **spec['RollbackConfig'])
        return self._post_update(spec)

    def rollback(self):
        """The engine's rollback to PreviousSpec, as ``docker service update --rollback`` makes it."""
        return self._post_update(self.spec, rollback=True)


class ConfigLedger(Ledger):
    """The release ledger of a Swarm service: the label ``ops.rollback.ledger`` of config
    ``ops-rollback-ledger.<service>``, written with the config's version index."""

    version_syntax = IMAGE

    def __init__(self, api, service):
        self.api = api
        self.service = service
        self.name = config_name(LEDGER_CONFIG, service)

    def __str__(self):
        return 'config {0}'.format(self.name)

    def _read(self):
        try:
            return self.api.inspect_config(self.name)
        except docker.errors.NotFound:
            return None
        except Exception as err:
            raise engine_error(err, 'read the ledger {0} of'.format(self), 'swarm service ' + self.service)

    def entries(self):
        config = self._read()
        text = ((config or {}).get('Spec', {}).get('Labels') or {}).get(LEDGER_LABEL)
        if not text:
            return []
        try:
            entries = json.loads(text)
        except ValueError:
            raise RollbackError('The release ledger of swarm service {0} (label {1} of {2}) is not JSON. Fix or '
                                'remove that label. Nothing was changed.'.format(self.service, LEDGER_LABEL, self))
        return [e for e in entries if isinstance(e, dict) and 'version' in e and 'state' in e]

    def _append(self, entries):
        config = self._read()
        labels = dict(((config or {}).get('Spec', {}).get('Labels') or {}))
        labels[LEDGER_LABEL] = json.dumps(self.entries() + entries, separators=(',', ':'), sort_keys=True)
        try:
            if config is None:
                self.api.create_config(self.name, 'ops.rollback release ledger of swarm service {0}\n'.format(
                    self.service).encode('utf-8'), labels=labels)
                return
            spec = dict(config['Spec'], Labels=labels)
            response = self.api._post_json(self.api._url('/configs/{0}/update', config['ID']), data=spec,
                                           params={'version': config['Version']['Index']})
            self.api._raise_for_status(response)
        except Exception as err:
            text = str(getattr(err, 'explanation', '') or err)
            if OUT_OF_SEQUENCE in text or getattr(err, 'status_code', None) == 409:
                raise RollbackError(
                    'Failed to write the release ledger of swarm service {0} ({1}): another run wrote it at the same '
                    'time. Run again.'.format(self.service, self))
            raise engine_error(err, 'write the ledger {0} of'.format(self), 'swarm service ' + self.service)


class ConfigLockStore:
    """The rollback lock of a Swarm service: config ``ops-rollback-lock.<service>``, whose data is the lock."""

    def __init__(self, api, service):
        self.api = api
        self.service = service
        self.name = config_name(LOCK_CONFIG, service)

    def __str__(self):
        return 'config {0}'.format(self.name)

    def _inspect(self):
        try:
            return self.api.inspect_config(self.name)
        except docker.errors.NotFound:
            return None
        except Exception as err:
            raise engine_error(err, 'read the rollback lock {0} of'.format(self), 'swarm service ' + self.service)

    def read(self):
        config = self._inspect()
        if config is None:
            return None
        text = base64.b64decode(config['Spec'].get('Data') or '').decode('utf-8', 'replace')
        return parse_lock(text, '(unreadable lock config)')

    def write(self, lock, replace):
        if replace:
            self.delete()
        data = json.dumps(lock, sort_keys=True).encode('utf-8')
        try:
            self.api.create_config(self.name, data, labels={'ops.rollback.lock': self.service})
        except docker.errors.APIError as err:
            if err.status_code == 409:
                raise FileExistsError(self.name)
            raise engine_error(err, 'take the rollback lock {0} of'.format(self), 'swarm service ' + self.service)
        except Exception as err:
            raise engine_error(err, 'take the rollback lock {0} of'.format(self), 'swarm service ' + self.service)

    def delete(self):
        try:
            self.api.remove_config(self.name)
        except docker.errors.NotFound:
            pass
        except Exception as err:
            raise engine_error(err, 'release the rollback lock {0} of'.format(self), 'swarm service ' + self.service)
