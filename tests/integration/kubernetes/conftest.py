# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real Kubernetes control plane for the Kubernetes tests (scripts/kube.sh).

The cluster is built and started once per session (`scripts/kube.sh up`;
`scripts/test.sh` stops it at the end). Every test gets a namespace of its
own, deleted afterwards. Workloads are created and broken with the real
kubectl, as a user's deploy would; what the tests assert is read back from
the cluster: the images the pods actually run and whether they are ready.
"""
from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
KUBE_SH = os.path.join(REPO, 'scripts', 'kube.sh')


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

    def running_images(self, namespace, selector):
        """``{pod name: (images of its containers, ready)}`` of the live, non-terminating pods."""
        pods = self.get(namespace, 'pods', '-l', selector)['items']
        out = {}
        for pod in pods:
            if pod['metadata'].get('deletionTimestamp'):
                continue
            ready = any(c['type'] == 'Ready' and c['status'] == 'True' for c in pod['status'].get('conditions', []))
            out[pod['metadata']['name']] = (tuple(c['image'] for c in pod['spec']['containers']), ready)
        return out


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
