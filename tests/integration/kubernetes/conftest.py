# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real Kubernetes control plane for the Kubernetes tests (scripts/kube.sh).

The cluster is built and started once per session (`scripts/kube.sh up`;
`scripts/test.sh` stops it at the end). Every test gets a namespace of its
own, deleted afterwards. Workloads are created and broken with the real
kubectl, as a user's deploy would; what the tests assert is read back from
the cluster: the images the pods actually run and whether they are ready.

What more than one test file uses is here, for the test files to reach
through fixtures (they import no other test file, nor this one):

- ``kube``: the cluster (``Kube``): kubectl, workloads deployed and waited on,
  pods, annotations, ledgers and Leases read back, and ``until``/``eventually``
  to poll for what the controllers have not done yet;
- ``namespace``: the test's namespace;
- ``cluster``: Deployments behind a Service and an Istio VirtualService in that
  namespace (``Cluster``), the blue-green and canary setups;
- ``istio_crd``: Istio's VirtualService CRD, registered once per session;
- ``roll``: the k8s_rollback module run as Ansible runs it;
- ``ansible`` (from tests/integration/conftest.py): ansible-playbook and
  ansible run as a user runs them, on an inventory of the test's.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest

from ansible_collections.ops.rollback.plugins.module_utils.k8s.workload import label_selector, pod_ready
from ansible_collections.ops.rollback.plugins.modules import k8s_rollback

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
KUBE_SH = os.path.join(REPO, 'scripts', 'kube.sh')
LEDGER = 'ops.rollback/ledger'
# Istio's VirtualService CRD, as kubectl names it (the istio_crd fixture registers it).
VS = 'virtualservices.networking.istio.io'
# Tags the lab's node simulator never makes ready (lab/kube/nodesim.py): such a version never rolls out.
BROKEN_TAGS = ('-crashloop', '-pullfail')


def pod_images(pod):
    """The images of the pod's containers, in order."""
    return tuple(c['image'] for c in pod['spec']['containers'])


class Kube:
    """The cluster as a user reaches it: kubectl and kubeconfig files."""

    def __init__(self, kubeconfig):
        self.kubeconfig = kubeconfig
        run_dir = os.path.dirname(kubeconfig)
        self.kubeconfig_nobody = os.path.join(run_dir, 'kubeconfig-nobody')
        self.ca_cert = os.path.join(run_dir, 'pki', 'ca.crt')
        env = subprocess.run(['bash', KUBE_SH, 'env'], check=True, capture_output=True, text=True).stdout
        bin_dir = env.split('export PATH="', 1)[1].split(':$PATH', 1)[0]
        self.kubectl_path = os.path.join(bin_dir, 'kubectl')
        with open(os.path.join(run_dir, 'pki', 'tokens.csv')) as handle:
            self.tokens = dict((line.split(',')[1], line.split(',')[0]) for line in handle if line.strip())
        self.host = 'https://127.0.0.1:{0}'.format(os.environ.get('OPS_ROLLBACK_KUBE_PORT', '16443'))

    # --- waiting for the controllers -------------------------------------------------------------------------
    @staticmethod
    def until(read, done=bool, timeout=60):
        """Poll ``read()`` until ``done`` holds of what it returned, or ``timeout`` seconds have passed;
        what it returned last. A deadline, never a timing assertion."""
        deadline = time.monotonic() + timeout
        while True:
            value = read()
            if done(value) or time.monotonic() > deadline:
                return value
            time.sleep(0.2)

    def eventually(self, check, what, timeout=60):
        """Poll ``check`` until it returns something true, and return that; fail the test if it never does."""
        value = self.until(check, timeout=timeout)
        assert value, 'gave up waiting for ' + what
        return value

    # --- kubectl ---------------------------------------------------------------------------------------------
    def kubectl(self, *args, namespace=None, input=None, check=True):
        command = [self.kubectl_path, '--kubeconfig', self.kubeconfig] + (['-n', namespace] if namespace else [])
        proc = subprocess.run(command + list(args), input=input, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError('kubectl {0} failed: {1}{2}'.format(' '.join(args), proc.stdout, proc.stderr))
        return proc.stdout

    def get(self, namespace, *what):
        return json.loads(self.kubectl('get', '-o', 'json', *what, namespace=namespace))

    def apply(self, namespace, manifest):
        self.kubectl('apply', '-f', '-', namespace=namespace, input=json.dumps(manifest))

    def deploy(self, namespace, kind, name, images, labels=None, replicas=2, wait=True, timeout=60, broken_pods=1,
               **spec):
        """``kubectl apply`` a workload whose pods run ``images`` (container name -> image), labelled ``labels``
        (default: app=<name>); ``spec`` adds to its spec. With ``wait``, waits for its rollout; a broken
        version never rolls out, so for ``broken_pods`` of its pods to exist instead (a new workload makes all
        of its pods at once, an update one at a time)."""
        labels = labels or {'app': name}
        containers = [{'name': container, 'image': image} for container, image in images.items()]
        spec = dict({'selector': {'matchLabels': labels},
                     'template': {'metadata': {'labels': labels}, 'spec': {'containers': containers}}}, **spec)
        if kind != 'DaemonSet':
            spec['replicas'] = replicas
        if kind == 'StatefulSet':
            spec['serviceName'] = name
        self.apply(namespace, {'apiVersion': 'apps/v1', 'kind': kind,
                               'metadata': {'name': name, 'labels': labels}, 'spec': spec})
        if not wait:
            return
        if not any(image.endswith(BROKEN_TAGS) for image in images.values()):
            self.kubectl('rollout', 'status', '{0}/{1}'.format(kind.lower(), name), '--timeout={0}s'.format(timeout),
                         namespace=namespace)
            return
        images = tuple(images.values())

        def reported():
            """The pods of this version whose status the node simulator has written (ready or not)."""
            return [pod for pod in self.pods(namespace, label_selector(labels))
                    if pod_images(pod) == images and pod['status'].get('containerStatuses')]
        self.eventually(lambda: len(reported()) >= broken_pods, '{0} pod(s) of {1} {2} running {3}'.format(
            broken_pods, kind, name, ', '.join(images)), timeout=timeout)

    # --- what a user can observe -----------------------------------------------------------------------------
    def pods(self, namespace, selector, terminating=False):
        """The live pods of ``selector``; with ``terminating``, those on their way out too."""
        return [p for p in self.get(namespace, 'pods', '-l', selector)['items']
                if terminating or not p['metadata'].get('deletionTimestamp')]

    def running_images(self, namespace, selector):
        """``{pod name: (images of its containers, ready)}`` of the live, non-terminating pods."""
        return dict((pod['metadata']['name'], (pod_images(pod), pod_ready(pod))) for pod in self.pods(namespace, selector))

    def annotations(self, namespace, kind, name):
        return self.get(namespace, kind.lower(), name)['metadata'].get('annotations') or {}

    def ledger(self, namespace, kind, name):
        """The entries of the object's ledger annotation, oldest first."""
        return json.loads(self.annotations(namespace, kind, name).get(LEDGER) or '[]')

    def leases(self, namespace):
        """``{name: holderIdentity}`` of every Lease in the namespace."""
        return dict((lease['metadata']['name'], lease['spec'].get('holderIdentity'))
                    for lease in self.get(namespace, 'leases')['items'])


class Cluster:
    """Deployments behind a Service, and an Istio VirtualService, in one namespace, and where their traffic goes.

    Blue-green: Deployments web-<color> whose pods are labelled app=web,color=<color>, the Service web
    selecting one color. Canary: Deployments reviews-stable and reviews-canary, the VirtualService reviews
    splitting the traffic between their subsets.
    """

    IMAGE = 'registry.local/web'
    VS = VS

    def __init__(self, kube, namespace):
        self.kube = kube
        self.namespace = namespace

    def deploy(self, name, tag, labels, replicas=2, broken_pods=1):
        """``kubectl apply`` a Deployment of IMAGE:tag; waits for its rollout, or for a broken tag until
        ``broken_pods`` of its pods exist and the node simulator reported them."""
        self.kube.deploy(self.namespace, 'Deployment', name, {'web': '{0}:{1}'.format(self.IMAGE, tag)},
                         labels=labels, replicas=replicas, broken_pods=broken_pods)

    def pods(self, selector):
        return self.kube.pods(self.namespace, selector)

    def all_pods(self, selector):
        """Terminating ones too."""
        return self.kube.pods(self.namespace, selector, terminating=True)

    def ready_ips(self, selector):
        """The IPs of the ready pods of ``selector`` (``app=web`` or ``{app: web}``)."""
        if isinstance(selector, dict):
            selector = label_selector(selector)
        return sorted(p['status']['podIP'] for p in self.pods(selector) if pod_ready(p))

    def obj(self, kind, name):
        return self.kube.get(self.namespace, kind, name)

    def annotations(self, kind, name):
        return self.kube.annotations(self.namespace, kind, name)

    def ledger(self, kind, name):
        """``[(version, state)]`` of the object's ledger annotation."""
        return [(e['version'], e['state']) for e in self.kube.ledger(self.namespace, kind, name)]

    def leases(self):
        return self.kube.leases(self.namespace)

    def resource_version(self, kind='service', name='web'):
        return self.obj(kind, name)['metadata']['resourceVersion']

    # --- the Service web -------------------------------------------------------------------------------------
    def service(self, selector):
        """``kubectl apply`` the Service web selecting ``selector`` (a dict); waits for its endpoints."""
        self.kube.apply(self.namespace, {
            'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'web'},
            'spec': {'selector': selector, 'ports': [{'port': 80, 'targetPort': 8080}]},
        })
        self.wait_for_endpoints(selector)

    def wait_for_endpoints(self, selector):
        """Until the Service's endpoints are exactly the ready pods of ``selector``, and there are some."""
        if isinstance(selector, dict):
            selector = label_selector(selector)
        self.kube.eventually(lambda: self.endpoint_ips() == self.ready_ips(selector) != [], 'the endpoints of ' + selector)

    def selector(self):
        return self.obj('service', 'web')['spec']['selector']

    def endpoint_ips(self):
        endpoints = self.obj('endpoints', 'web')
        return sorted(a['ip'] for s in endpoints.get('subsets') or [] for a in s.get('addresses') or [])

    # --- blue-green ------------------------------------------------------------------------------------------
    def color(self, color, tag, replicas=2):
        self.deploy('web-' + color, tag, {'app': 'web', 'color': color}, replicas=replicas)

    def switch(self, color):
        """The release pipeline's switch, with kubectl."""
        self.kube.kubectl('patch', 'service', 'web', '--type=merge', '-p',
                          json.dumps({'spec': {'selector': {'color': color}}}), namespace=self.namespace)
        self.wait_for_endpoints({'app': 'web', 'color': color})

    def blue_green_setup(self):
        """Blue v1 was live; green v2 was deployed and the Service switched to it."""
        self.color('blue', 'v1')
        self.service({'app': 'web', 'color': 'blue'})
        self.color('green', 'v2')
        self.switch('green')

    # --- canary ----------------------------------------------------------------------------------------------
    def apply_virtual_service(self, *routes):
        """``kubectl apply`` the VirtualService reviews with these http routes."""
        self.kube.apply(self.namespace, {
            'apiVersion': 'networking.istio.io/v1beta1', 'kind': 'VirtualService', 'metadata': {'name': 'reviews'},
            'spec': {'hosts': ['reviews'], 'http': list(routes)},
        })

    def canary_setup(self, canary_tag='v2-crashloop', canary_weight=20, canary_replicas=1):
        """The stable v1 and a canary taking ``canary_weight`` % of route primary; route testers all canary."""
        self.deploy('reviews-stable', 'v1', {'app': 'reviews', 'track': 'stable'})
        self.deploy('reviews-canary', canary_tag, {'app': 'reviews', 'track': 'canary'}, replicas=canary_replicas)
        self.apply_virtual_service(
            {'name': 'primary', 'route': [destination('stable', 100 - canary_weight),
                                          destination('canary', canary_weight)]},
            {'name': 'testers', 'match': [{'headers': {'x-canary': {'exact': 'yes'}}}],
             'route': [destination('canary', 100)]})

    def virtual_service(self):
        return self.obj(VS, 'reviews')

    def weights(self, index=0):
        """``[(subset, weight)]`` of the VirtualService's http route ``index``."""
        return [(d['destination'].get('subset'), d.get('weight'))
                for d in self.virtual_service()['spec']['http'][index]['route']]


def destination(subset, weight):
    return {'destination': {'host': 'reviews', 'subset': subset}, 'weight': weight}


@pytest.fixture(scope='session')
def kube():
    proc = subprocess.run(['bash', KUBE_SH, 'up'], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError('scripts/kube.sh up failed:\n' + proc.stderr[-4000:])
    return Kube(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def namespace(kube):
    name = 't-' + uuid.uuid4().hex[:10]
    kube.kubectl('create', 'namespace', name)
    yield name
    kube.kubectl('delete', 'namespace', name, '--wait=false', check=False)


@pytest.fixture
def cluster(kube, namespace):
    return Cluster(kube, namespace)


@pytest.fixture(scope='session')
def istio_crd(kube):
    """Istio's VirtualService CRD, in the versions real clusters serve, as a cluster with Istio has it.
    Left in place: it is cluster-wide, and applying it again is a no-op."""
    schema = {'openAPIV3Schema': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}}
    kube.apply(None, {
        'apiVersion': 'apiextensions.k8s.io/v1', 'kind': 'CustomResourceDefinition', 'metadata': {'name': VS},
        'spec': {'group': 'networking.istio.io', 'scope': 'Namespaced',
                 'names': {'plural': 'virtualservices', 'singular': 'virtualservice', 'kind': 'VirtualService',
                           'listKind': 'VirtualServiceList', 'shortNames': ['vs']},
                 'versions': [{'name': 'v1beta1', 'served': True, 'storage': True, 'schema': schema},
                              {'name': 'v1alpha3', 'served': True, 'storage': False, 'schema': schema}]},
    })
    kube.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/' + VS)


@pytest.fixture
def roll(kube, namespace, run_module):
    """Run k8s_rollback as Ansible does; returns (exit code, result)."""
    def run(**args):
        args.setdefault('namespace', namespace)
        args.setdefault('kubeconfig', kube.kubeconfig)
        args.setdefault('wait_timeout', 60)
        return run_module(k8s_rollback.main, args)
    return run
