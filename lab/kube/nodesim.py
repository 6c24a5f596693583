"""A node simulator for the lab's Kubernetes control plane (the role kwok plays upstream).

No kubelet can run containers on the test machines, so this process stands in
for the nodes: it registers Ready nodes and keeps them Ready, marks every
pod the scheduler binds to one of them Running and Ready with container
statuses for its images, and finishes the deletion of terminating pods as a
kubelet would once the containers stopped.

Some images never become ready, so tests can stall a rollout or strand a
StatefulSet on a broken pod. The image's tag says how it breaks:

    ...:<tag>-crashloop    the container starts and crashes: CrashLoopBackOff
    ...:<tag>-pullfail     the image cannot be pulled: ImagePullBackOff

Run: nodesim.py --kubeconfig FILE [--nodes 2]
"""

import argparse
import datetime
import logging
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

LOG = logging.getLogger('nodesim')
# The client would send a dict body as a JSON patch; these are strategic merge patches.
MERGE = 'application/strategic-merge-patch+json'
RENEW_SECONDS = 10


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def stamp(moment=None):
    return (moment or now()).strftime('%Y-%m-%dT%H:%M:%SZ')


def breakage(image):
    """How an image fails ('CrashLoopBackOff', 'ImagePullBackOff'), or None when it runs."""
    tag = image.rsplit('/', 1)[-1].partition('@')[0].partition(':')[2]
    if tag.endswith('-crashloop'):
        return 'CrashLoopBackOff'
    if tag.endswith('-pullfail'):
        return 'ImagePullBackOff'
    return None


def container_status(container, started_at):
    reason = breakage(container.image)
    status = {
        'name': container.name,
        'image': container.image,
        'imageID': '' if reason == 'ImagePullBackOff' else 'sim://' + container.image,
        'ready': reason is None,
        'started': reason is None,
        'restartCount': 0 if reason != 'CrashLoopBackOff' else 3,
    }
    if reason is None:
        status['state'] = {'running': {'startedAt': started_at}}
    else:
        message = {'CrashLoopBackOff': 'back-off 40s restarting failed container',
                   'ImagePullBackOff': 'Back-off pulling image "{0}"'.format(container.image)}[reason]
        status['state'] = {'waiting': {'reason': reason, 'message': message}}
    return status


def pod_status(pod, ordinal):
    """The status a kubelet would report for ``pod`` once its containers started (or failed to)."""
    started_at = stamp()
    statuses = [container_status(c, started_at) for c in pod.spec.containers]
    ready = all(s['ready'] for s in statuses)
    pulled = all(s['state'].get('waiting', {}).get('reason') != 'ImagePullBackOff' for s in statuses)
    ready_condition = 'True' if ready else 'False'
    conditions = [
        {'type': 'Initialized', 'status': 'True', 'lastTransitionTime': started_at},
        {'type': 'Ready', 'status': ready_condition, 'lastTransitionTime': started_at},
        {'type': 'ContainersReady', 'status': ready_condition, 'lastTransitionTime': started_at},
        {'type': 'PodScheduled', 'status': 'True', 'lastTransitionTime': started_at},
    ]
    if not ready:
        for condition in conditions[1:3]:
            condition.update(reason='ContainersNotReady', message='containers with unready status')
    return {
        'phase': 'Running' if pulled else 'Pending',
        'conditions': conditions,
        'hostIP': '127.0.0.1',
        'podIP': '10.244.{0}.{1}'.format(ordinal // 250, ordinal % 250 + 2),
        'startTime': started_at,
        'containerStatuses': statuses,
    }


class NodeSimulator:
    def __init__(self, api, nodes):
        self.core = client.CoreV1Api(api)
        self.names = ['sim-node-{0}'.format(i) for i in range(1, nodes + 1)]
        self.started = set()   # uids of pods whose status was written
        self.ips = 0

    # --- nodes ---------------------------------------------------------
    def node_status(self):
        heartbeat = stamp()
        return {
            'capacity': {'cpu': '32', 'memory': '64Gi', 'pods': '250'},
            'allocatable': {'cpu': '32', 'memory': '64Gi', 'pods': '250'},
            'conditions': [
                {'type': 'Ready', 'status': 'True', 'reason': 'KubeletReady', 'message': 'simulated by nodesim',
                 'lastHeartbeatTime': heartbeat, 'lastTransitionTime': heartbeat},
                {'type': 'MemoryPressure', 'status': 'False', 'reason': 'KubeletHasSufficientMemory',
                 'lastHeartbeatTime': heartbeat, 'lastTransitionTime': heartbeat},
                {'type': 'DiskPressure', 'status': 'False', 'reason': 'KubeletHasNoDiskPressure',
                 'lastHeartbeatTime': heartbeat, 'lastTransitionTime': heartbeat},
                {'type': 'PIDPressure', 'status': 'False', 'reason': 'KubeletHasSufficientPID',
                 'lastHeartbeatTime': heartbeat, 'lastTransitionTime': heartbeat},
            ],
            'addresses': [{'type': 'InternalIP', 'address': '127.0.0.1'}],
            'nodeInfo': {'kubeletVersion': 'v1.20.2-nodesim', 'kubeProxyVersion': 'v1.20.2-nodesim',
                         'containerRuntimeVersion': 'sim://1', 'operatingSystem': 'linux', 'architecture': 'amd64',
                         'osImage': 'nodesim', 'kernelVersion': '', 'machineID': '', 'systemUUID': '', 'bootID': ''},
        }

    def register_nodes(self):
        for name in self.names:
            body = {'metadata': {'name': name, 'labels': {'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux',
                                                          'kubernetes.io/arch': 'amd64', 'type': 'nodesim'}}}
            try:
                self.core.create_node(body)
            except ApiException as err:
                if err.status != 409:
                    raise
            self.core.patch_node_status(name, {'status': self.node_status()}, _content_type=MERGE)
            # Admission taints a new node not-ready; the node lifecycle controller, which
            # lifts it, is not run (it would evict the pods of nodes without a kubelet).
            self.core.patch_node(name, {'spec': {'taints': None}}, _content_type='application/merge-patch+json')

    def renew(self):
        """Keep the nodes' Ready condition fresh, as a kubelet's heartbeat does."""
        while True:
            time.sleep(RENEW_SECONDS)
            for name in self.names:
                try:
                    self.core.patch_node_status(name, {'status': self.node_status()}, _content_type=MERGE)
                except ApiException as err:
                    LOG.warning('renewing %s: %s', name, err.reason)

    # --- pods ----------------------------------------------------------
    def handle(self, pod):
        if pod.spec.node_name not in self.names:
            return
        if pod.metadata.deletion_timestamp is not None:
            # The containers "stopped": finish the graceful deletion as a kubelet does.
            try:
                self.core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0,
                                                body=client.V1DeleteOptions(
                                                    grace_period_seconds=0,
                                                    preconditions=client.V1Preconditions(uid=pod.metadata.uid)))
            except ApiException as err:
                if err.status not in (404, 409):
                    raise
            self.started.discard(pod.metadata.uid)
            return
        if pod.metadata.uid in self.started or pod.status.container_statuses:
            return
        self.ips += 1
        try:
            self.core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace,
                                                  {'status': pod_status(pod, self.ips)}, _content_type=MERGE)
        except ApiException as err:
            if err.status != 404:
                raise
            return
        self.started.add(pod.metadata.uid)
        LOG.info('pod %s/%s on %s: %s', pod.metadata.namespace, pod.metadata.name, pod.spec.node_name,
                 ', '.join(breakage(c.image) or 'ready' for c in pod.spec.containers))

    def run(self):
        self.register_nodes()
        threading.Thread(target=self.renew, daemon=True).start()
        LOG.info('nodes %s registered', ', '.join(self.names))
        while True:
            pods = self.core.list_pod_for_all_namespaces()
            for pod in pods.items:
                self.handle(pod)
            try:
                for event in watch.Watch().stream(self.core.list_pod_for_all_namespaces,
                                                  resource_version=pods.metadata.resource_version,
                                                  timeout_seconds=300):
                    if event['type'] in ('ADDED', 'MODIFIED'):
                        self.handle(event['object'])
            except ApiException as err:
                # 410 Gone: the watch fell too far behind; list again.
                LOG.info('watch ended (%s); listing again', err.status)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--kubeconfig', required=True)
    parser.add_argument('--nodes', type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    api = config.new_client_from_config(config_file=args.kubeconfig)
    NodeSimulator(api, args.nodes).run()


if __name__ == '__main__':
    main()
