# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes backends of ``lb_switch`` (module_utils/traffic/switch.py has the interface).

* ``ServiceSelector``: blue-green, a Service's selector moved to other pods;
  refused when the new selector matches no ready pod, verified by the
  Service's Endpoints.
* ``VirtualServiceWeights``: canary, the weights of an Istio VirtualService's
  HTTP route, at once or in steps.

Writes are JSON merge patches carrying the ``resourceVersion`` that was read:
the API server refuses one (409) when someone changed the object in between,
so nothing read is overwritten blindly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
    RollbackTimeoutError,
)
from ansible_collections.ops.rollback.plugins.module_utils.k8s.workload import label_selector, pod_ready
from ansible_collections.ops.rollback.plugins.module_utils.traffic.switch import (
    TrafficBackend,
    step_weights,
    validate_weights,
)

# The client would send a dict body as a JSON patch (RFC 6902) without this.
MERGE_PATCH = 'application/merge-patch+json'
# Shown in the objects' managedFields: who moved the traffic.
FIELD_MANAGER = 'ops.rollback'
ISTIO_API_VERSIONS = ('networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3')
POLL_SECONDS = 0.5


def _names(items, most=5):
    names = sorted(items)
    return ', '.join(names[:most]) + (' and {0} more'.format(len(names) - most) if len(names) > most else '')


class ServiceSelector(TrafficBackend):
    """Blue-green: the selector of Service ``name``. ``selector`` is merged into the current one
    (a key set to None is removed), so ``{version: green}`` keeps ``app: web``."""

    name = 'kubernetes_service'

    def __init__(self, client, name, namespace, selector, wait=True, wait_timeout=60,
                 clock=time.monotonic, sleep=time.sleep):
        self.client = client
        self.service = name
        self.namespace = namespace
        self.selector = selector
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.clock = clock
        self.sleep = sleep
        self._object = None

    def describe(self):
        return 'Service {0} in namespace {1}'.format(self.service, self.namespace)

    def read(self):
        try:
            self._object = self.client.call('read ' + self.describe(), self.client.core.read_namespaced_service,
                                            self.service, self.namespace)
        except NotFoundError as err:
            raise NotFoundError('{0} Check name= and namespace=. Nothing was changed.'.format(err.msg), status=404)
        if self._object['spec'].get('type') == 'ExternalName':
            raise InvalidInputError('{0} is of type ExternalName: it has no selector to switch. Nothing was '
                                    'changed.'.format(self.describe()))
        return dict(self._object['spec'].get('selector') or {})

    def plan(self, before):
        after = dict(before)
        for key, value in sorted(self.selector.items()):
            if value is None:
                after.pop(key, None)
            elif isinstance(value, bool) or not isinstance(value, (str, int)):
                raise InvalidInputError(
                    'selector.{0} is {1!r}; label values are strings, so quote it (for example "true"). Nothing was '
                    'changed.'.format(key, value))
            else:
                after[key] = str(value)
        if not after:
            # A Service without a selector gets no endpoints from Kubernetes: it would route to nothing.
            raise InvalidInputError(
                'The selector would leave {0} without any selector, so it would route to no pods. Keep at least one '
                'key. Nothing was changed.'.format(self.describe()))
        return after

    def _pods(self, selector):
        return self.client.call('list the pods of selector {0} in namespace {1}'.format(
            label_selector(selector), self.namespace), self.client.core.list_namespaced_pod, self.namespace,
            label_selector=label_selector(selector))['items']

    def preflight(self, before, after, force=False):
        pods = self._pods(after)
        ready = [p for p in pods if pod_ready(p)]
        if before != after and not ready and not force:
            what = ('no pods' if not pods else '{0} pods, none of them ready ({1})'.format(
                len(pods), _names(p['metadata']['name'] for p in pods)))
            raise RollbackError(
                'Refused to switch {0} to the selector {1}: it matches {2}, so the Service would have no endpoints '
                'and its traffic would fail. Deploy the new pods and wait until they are ready, check the selector, '
                'or pass force=true to switch anyway. Nothing was changed.'.format(
                    self.describe(), label_selector(after), what),
                backend=self.name, before=before, after=before, ready_pods=0, reason='no_ready_pods')
        return {'ready_pods': len(ready)}

    def apply(self, state, dry_run=False):
        current = self._object['spec'].get('selector') or {}
        # Merge patch: only the keys that change; None removes one.
        changes = dict((key, state.get(key)) for key in set(current) | set(state) if current.get(key) != state.get(key))
        body = {'metadata': {'resourceVersion': self._object['metadata']['resourceVersion']},
                'spec': {'selector': changes}}
        extra = {'dry_run': 'All'} if dry_run else {}
        written = self.client.call('switch the selector of ' + self.describe(), self.client.core.patch_namespaced_service,
                                   self.service, self.namespace, body, _content_type=MERGE_PATCH,
                                   field_manager=FIELD_MANAGER, **extra)
        if not dry_run:
            self._object = written

    def _endpoints(self):
        try:
            endpoints = self.client.call('read the Endpoints of ' + self.describe(),
                                         self.client.core.read_namespaced_endpoints, self.service, self.namespace)
        except NotFoundError:
            return set()
        return set(address['targetRef']['name'] for subset in endpoints.get('subsets') or []
                   for address in subset.get('addresses') or []
                   if (address.get('targetRef') or {}).get('kind') == 'Pod')

    def verify(self, state):
        """Wait until the Endpoints list the ready pods of ``state`` and no other pods."""
        if not self.wait:
            return
        deadline = self.clock() + self.wait_timeout
        while True:
            serving = self._endpoints()
            ready = set(p['metadata']['name'] for p in self._pods(state) if pod_ready(p))
            stale, missing = serving - ready, ready - serving
            if not stale and not missing:
                return
            if self.clock() >= deadline:
                lag = (['still list pods it does not select ({0})'.format(_names(stale))] if stale else []) + \
                      (['lack ready pods it selects ({0})'.format(_names(missing))] if missing else [])
                raise RollbackTimeoutError(
                    '{0} selects {1}, but after {2} s its Endpoints {3}. The endpoint controller '
                    '(kube-controller-manager) may be slow or down, or the pods lack the Service\'s target port; '
                    'look at kubectl get endpoints {4} -n {5}, then run again to check again.'.format(
                        self.describe(), label_selector(state), self.wait_timeout, ' and '.join(lag),
                        self.service, self.namespace),
                    partial={'endpoints': sorted(serving)})
            self.sleep(POLL_SECONDS)

    def render(self, state):
        return ''.join('{0}: {1}\n'.format(key, value) for key, value in sorted(state.items()))


# --- Istio -------------------------------------------------------------------------------------------------------

def describe_destination(key):
    host, subset = key
    return host if subset is None else '{0} (subset {1})'.format(host, subset)


def route_weights(destinations):
    """``[{host, subset, weight}]`` of an HTTP route's destinations, in order. A missing weight is
    100 for a route's only destination, else 0, as Istio reads it."""
    default = 100 if len(destinations) == 1 else 0
    return [dict(host=d.get('destination', {}).get('host'), subset=d.get('destination', {}).get('subset'),
                 weight=d.get('weight', default)) for d in destinations]


def _pairs(state):
    return [((item['host'], item['subset']), item['weight']) for item in state]


def _state(pairs):
    return [dict(host=host, subset=subset, weight=weight) for (host, subset), weight in pairs]


def find_route(http, route, what):
    """Index in ``http`` of the route named or numbered ``route`` (default the first)."""
    routes = ', '.join('{0} ({1})'.format(i, r.get('name') or 'unnamed') for i, r in enumerate(http))
    index = None
    if route is None:
        index = 0
    elif isinstance(route, int) and not isinstance(route, bool):
        index = route
    elif isinstance(route, str):
        names = [r.get('name') for r in http]
        index = names.index(route) if route in names else (int(route) if route.isdigit() else None)
    if not http or index is None or not 0 <= index < len(http):
        raise InvalidInputError('{0} has no http route {1!r} (it has: {2}). Pass route= as one of these names or '
                                'indexes. Nothing was changed.'.format(what, route, routes or 'none'))
    if not http[index].get('route'):
        raise InvalidInputError('http route {0} of {1} sends traffic to no destinations (a redirect or a direct '
                                'response?): it has no weights to set. Choose another route=. Nothing was '
                                'changed.'.format(index, what))
    keys = [(d['host'], d['subset']) for d in route_weights(http[index]['route'])]
    if len(set(keys)) != len(keys):
        raise InvalidInputError('http route {0} of {1} lists a destination more than once, so a weight for it would '
                                'be ambiguous. Nothing was changed.'.format(index, what))
    return index


class VirtualServiceWeights(TrafficBackend):
    """Canary: the weights of one HTTP route of VirtualService ``name``. ``weights``:
    ``[{host, subset, weight}]``; destinations not named get 0 (the named ones add up to 100)."""

    name = 'istio'

    def __init__(self, client, name, namespace, weights, route=None, api_version=ISTIO_API_VERSIONS[0]):
        self.client = client
        self.virtual_service = name
        self.namespace = namespace
        self.weights = weights
        self.route = route
        self.group, self.version = api_version.split('/')
        self.api_version = api_version
        self._object = None
        self._index = None

    def _what(self):
        return 'VirtualService {0} in namespace {1}'.format(self.virtual_service, self.namespace)

    def describe(self):
        if self._index is None:
            return self._what()
        name = self._object['spec']['http'][self._index].get('name')
        return '{0}, http route {1}{2}'.format(self._what(), self._index, ' ({0})'.format(name) if name else '')

    def _args(self):
        return self.group, self.version, self.namespace, 'virtualservices', self.virtual_service

    def read(self):
        try:
            self._object = self.client.call('read ' + self._what(), self.client.custom.get_namespaced_custom_object,
                                            *self._args())
        except NotFoundError as err:
            raise NotFoundError(
                '{0} Check name= and namespace=, and that the cluster serves {1} (Istio\'s CRDs installed; '
                'api_version= chooses another version). Nothing was changed.'.format(err.msg, self.api_version),
                status=404)
        http = (self._object.get('spec') or {}).get('http') or []
        self._index = find_route(http, self.route, self._what())
        return route_weights(http[self._index]['route'])

    def plan(self, before):
        wanted = [((w['host'], w.get('subset')), w['weight']) for w in self.weights]
        return _state(validate_weights(wanted, _pairs(before), describe=describe_destination))

    def stages(self, before, after, steps):
        return [_state(s) for s in step_weights(_pairs(before), _pairs(after), steps)]

    def apply(self, state, dry_run=False):
        # The whole http list: a merge patch replaces lists, and the other routes go back as they were read.
        http = copy.deepcopy(self._object['spec']['http'])
        for destination, item in zip(http[self._index]['route'], state):
            destination['weight'] = item['weight']
        body = {'metadata': {'resourceVersion': self._object['metadata']['resourceVersion']}, 'spec': {'http': http}}
        extra = {'dry_run': 'All'} if dry_run else {}
        written = self.client.call('set the weights of ' + self.describe(),
                                   self.client.custom.patch_namespaced_custom_object, *self._args(), body=body,
                                   _content_type=MERGE_PATCH, field_manager=FIELD_MANAGER, **extra)
        if not dry_run:
            self._object = written

    def verify(self, state):
        # What the API server stored, as it answered the write: a webhook could have changed it.
        stored = route_weights(self._object['spec']['http'][self._index]['route'])
        if stored != state:
            raise RollbackError('Set the weights of {0}, but the API server stored {1} instead of {2}. A webhook or '
                                'another writer changes this VirtualService; find it before running again.'.format(
                                    self.describe(), self.render(stored).strip().replace('\n', ', '),
                                    self.render(state).strip().replace('\n', ', ')))

    def render(self, state):
        return ''.join('{0}: {1}\n'.format(describe_destination(k), w) for k, w in _pairs(state))
