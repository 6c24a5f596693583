# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection to a Docker engine, shared by every Docker module (Swarm, Compose).

``DOCKER_CONN_SPEC`` is the connection option group (mirrored by the
``ops.rollback._docker_conn`` doc fragment), with community.docker's option
names and environment variables. ``connect`` returns a ``docker.DockerClient``
(its low-level ``APIClient`` is ``client.api``) once the engine answered;
``engine_error`` turns what the SDK raises into the collection's errors,
saying what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import env_fallback

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import NotFoundError, RollbackError

try:
    import docker
    import docker.errors
    import docker.tls
    import requests.exceptions
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError as import_error:   # reported by the module with missing_required_lib
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = import_error

DEFAULT_HOST = 'unix:///var/run/docker.sock'

DOCKER_CONN_SPEC = dict(
    docker_host=dict(type='str', default=DEFAULT_HOST, fallback=(env_fallback, ['DOCKER_HOST'])),
    tls=dict(type='bool', default=False, fallback=(env_fallback, ['DOCKER_TLS'])),
    validate_certs=dict(type='bool', default=False, fallback=(env_fallback, ['DOCKER_TLS_VERIFY'])),
    tls_hostname=dict(type='str', fallback=(env_fallback, ['DOCKER_TLS_HOSTNAME'])),
    ca_path=dict(type='path'),
    client_cert=dict(type='path'),
    client_key=dict(type='path', no_log=False),
    timeout=dict(type='int', default=60, fallback=(env_fallback, ['DOCKER_TIMEOUT'])),
)


def docker_params(params):
    """The connection options of a module's ``params``."""
    return dict((name, params.get(name)) for name in DOCKER_CONN_SPEC)


def _tls_config(tls, validate_certs, tls_hostname, ca_path, client_cert, client_key):
    if not (tls or validate_certs):
        return None
    cert = (client_cert, client_key) if client_cert and client_key else None
    kwargs = dict(client_cert=cert, verify=ca_path if validate_certs and ca_path else bool(validate_certs))
    if tls_hostname:
        kwargs['assert_hostname'] = tls_hostname
    try:
        return docker.tls.TLSConfig(**kwargs)
    except docker.errors.TLSParameterError as err:
        raise RollbackError('Cannot use the TLS settings for the Docker engine: {0}. Check ca_path, client_cert and '
                            'client_key. Nothing was changed.'.format(err))


def connect(docker_host=DEFAULT_HOST, tls=False, validate_certs=False, tls_hostname=None, ca_path=None,
            client_cert=None, client_key=None, timeout=60):
    """A ``docker.DockerClient`` to the engine at ``docker_host``, which answered; else a ``RollbackError``."""
    if (client_cert is None) != (client_key is None):
        raise RollbackError('client_cert and client_key go together: pass both or neither. Nothing was changed.')
    base_url = docker_host or DEFAULT_HOST
    if base_url.startswith('tcp://') and (tls or validate_certs):
        base_url = 'https://' + base_url[len('tcp://'):]
    try:
        return docker.DockerClient(base_url=base_url, version='auto', timeout=timeout,
                                   tls=_tls_config(tls, validate_certs, tls_hostname, ca_path, client_cert,
                                                   client_key))
    except docker.errors.DockerException as err:
        raise RollbackError(
            'Cannot reach the Docker engine at {0}: {1}. Check docker_host (or DOCKER_HOST), that dockerd runs there '
            'and that this user may use it. Nothing was changed.'.format(docker_host, _cause(err)),
            docker_host=docker_host)


def _cause(err):
    """The innermost reason of an SDK or requests error, in one line."""
    text = str(getattr(err, 'explanation', None) or err)
    return text.splitlines()[0] if text else type(err).__name__


def engine_error(err, action, subject):
    """The collection's error for an SDK error raised while doing ``action`` (``roll back``) to
    ``subject`` (``swarm service web``): unreachable engine, not a swarm manager, not found."""
    if isinstance(err, RollbackError):
        return err
    if HAS_DOCKER and isinstance(err, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return RollbackError('Failed to {0} {1}: the Docker engine stopped answering ({2}). Check that dockerd runs, '
                             'then run again.'.format(action, subject, _cause(err)))
    explanation = str(getattr(err, 'explanation', '') or err)
    status = getattr(err, 'status_code', None)
    if 'not a swarm manager' in explanation or (status == 503 and 'swarm' in explanation):
        return RollbackError('Failed to {0} {1}: this Docker engine is not a swarm manager ({2}). Point docker_host '
                             'at a manager node of the swarm. Nothing was changed.'.format(action, subject,
                                                                                           explanation))
    if status == 404:
        return NotFoundError('Failed to {0} {1}: {2}.'.format(action, subject, explanation))
    return RollbackError('Failed to {0} {1}: {2}.'.format(action, subject, explanation), status_code=status)
