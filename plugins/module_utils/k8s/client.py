# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection to a Kubernetes API server, shared by every Kubernetes module.

``K8S_AUTH_SPEC`` is the auth option group (mirrored by the
``ops.rollback._k8s_auth`` doc fragment); ``KubeClient`` connects with it
and makes every call through ``call``, which returns plain dicts (the
objects' JSON, never SDK models) and turns the SDK's errors into the
collection's, with what to do about them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible.module_utils.basic import env_fallback

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
)

try:
    import urllib3
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as import_error:   # reported by the module with missing_required_lib
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = import_error

# The same option names and environment variables as kubernetes.core.
K8S_AUTH_SPEC = dict(
    kubeconfig=dict(type='path', fallback=(env_fallback, ['K8S_AUTH_KUBECONFIG'])),
    context=dict(type='str', fallback=(env_fallback, ['K8S_AUTH_CONTEXT'])),
    host=dict(type='str', fallback=(env_fallback, ['K8S_AUTH_HOST'])),
    api_key=dict(type='str', no_log=True, fallback=(env_fallback, ['K8S_AUTH_API_KEY'])),
    ca_cert=dict(type='path', aliases=['ssl_ca_cert'], fallback=(env_fallback, ['K8S_AUTH_SSL_CA_CERT'])),
    validate_certs=dict(type='bool', aliases=['verify_ssl'], fallback=(env_fallback, ['K8S_AUTH_VERIFY_SSL'])),
)

# (connect, read) seconds for one API call: an unreachable server fails fast.
REQUEST_TIMEOUT = (10, 60)


class KubeClient:
    """One API server connection; ``call`` is the only way requests are made."""

    def __init__(self, api_client):
        self.api = api_client
        self.host = api_client.configuration.host
        self._apis = {}

    # Each API class is imported on first use: CoreV1Api alone takes most of a second to
    # import, which a rollback of a Deployment that goes well never needs.
    def _get(self, name):
        if name not in self._apis:
            self._apis[name] = getattr(k8s, name)(self.api)
        return self._apis[name]

    @property
    def apps(self):
        return self._get('AppsV1Api')

    @property
    def core(self):
        return self._get('CoreV1Api')

    @property
    def coordination(self):
        return self._get('CoordinationV1Api')

    @property
    def custom(self):
        return self._get('CustomObjectsApi')

    @classmethod
    def connect(cls, kubeconfig=None, context=None, host=None, api_key=None, ca_cert=None, validate_certs=None):
        """Connect as kubernetes.core does: ``host`` (with ``api_key``) alone, else a kubeconfig
        (``kubeconfig``, ``$KUBECONFIG`` or ``~/.kube/config``), else the pod's service account."""
        configuration = k8s.Configuration()
        try:
            default = os.path.expanduser(os.environ.get('KUBECONFIG', '~/.kube/config').split(os.pathsep)[0])
            if kubeconfig or context or (not host and os.path.exists(default)):
                k8s_config.load_kube_config(config_file=kubeconfig, context=context,
                                            client_configuration=configuration, persist_config=False)
            elif not host:
                k8s_config.load_incluster_config(client_configuration=configuration)
        except (ConfigException, OSError, ValueError, TypeError) as err:
            where = kubeconfig or ('$KUBECONFIG' if 'KUBECONFIG' in os.environ else '~/.kube/config')
            raise InvalidInputError(
                'Cannot load the Kubernetes credentials: {0}. Pass kubeconfig= (or host= and api_key=), check the '
                'file {1} and the context {2}, or run inside a pod with a service account. Nothing was '
                'changed.'.format(str(err).rstrip('.'), where, context or '(current)'))
        if host:
            configuration.host = host
        if api_key:
            configuration.api_key = {'authorization': 'Bearer ' + api_key}
        if ca_cert:
            configuration.ssl_ca_cert = ca_cert
        if validate_certs is not None:
            configuration.verify_ssl = validate_certs
        # One quick attempt per call: during an outage an operator wants the error, not minutes of retries.
        configuration.retries = 1
        return cls(k8s.ApiClient(configuration))

    def call(self, action, method, *args, **kwargs):
        """``method(*args, **kwargs)`` of an API class, as a dict; ``action`` says what it was
        for in errors ("read deployment web in namespace prod")."""
        kwargs.setdefault('_request_timeout', REQUEST_TIMEOUT)
        try:
            response = method(*args, _preload_content=False, **kwargs)
            return json.loads(response.data or b'{}')
        except ApiException as err:
            raise api_error(err, action, self.host)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise RollbackError(
                'Failed to {0}: cannot reach the Kubernetes API server at {1} ({2}). Check host= or the '
                'kubeconfig, and that the server is up and reachable from here.'.format(
                    action, self.host, _reason(err)),
                reason='unreachable')


def _reason(err):
    return str(getattr(err, 'reason', None) or err).split(': ', 1)[-1]


def api_error(err, action, host):
    """The collection's error for an ``ApiException`` (401, 403, 404, 409, others)."""
    try:
        message = json.loads(err.body or '{}').get('message') or err.reason
    except (TypeError, ValueError):
        message = err.reason
    if err.status == 401:
        return RollbackError(
            'Failed to {0}: the API server at {1} rejected the credentials (401 Unauthorized). Check api_key= or '
            'the kubeconfig\'s user; a token may have expired.'.format(action, host), status=401, reason='unauthorized')
    if err.status == 403:
        return RollbackError(
            'Failed to {0}: forbidden ({1}). The credentials need RBAC permission for this; ask the cluster\'s '
            'admins, or use credentials that have it.'.format(action, message), status=403, reason='forbidden')
    if err.status == 404:
        return NotFoundError('Failed to {0}: not found ({1}).'.format(action, message), status=404)
    if err.status == 409:
        return RollbackError(
            'Failed to {0}: someone else changed it at the same time ({1}). Nothing of this step was applied; '
            'run again to plan from the new state.'.format(action, message), status=409, reason='conflict')
    return RollbackError('Failed to {0}: {1} {2} ({3}).'.format(action, err.status, err.reason, message),
                         status=err.status)
