# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which driver of the rollback core ``k8s_rollback`` runs, by its option ``strategy``.

* ``rolling``: one Deployment, StatefulSet or DaemonSet rolled back to an
  earlier pod template (k8s/driver.py, ``WorkloadDriver``);
* ``blue_green``: a Service's selector moved back to another color's
  Deployment (k8s/blue_green.py, ``BlueGreenDriver``);
* ``canary``: an Istio canary aborted, its traffic back on the stable
  Deployment and the canary scaled to 0 (k8s/canary.py, ``CanaryDriver``).

Each strategy has options of its own; one set for another strategy is
refused rather than ignored, before anything is read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.module import refuse_options_not_for
from ansible_collections.ops.rollback.plugins.module_utils.k8s.blue_green import BlueGreenDriver, check_deployments
from ansible_collections.ops.rollback.plugins.module_utils.k8s.canary import CanaryDriver, check_halves
from ansible_collections.ops.rollback.plugins.module_utils.k8s.driver import WorkloadDriver
from ansible_collections.ops.rollback.plugins.module_utils.k8s.workload import Workload

ROLLING = 'rolling'
BLUE_GREEN = 'blue_green'
CANARY = 'canary'
STRATEGIES = (ROLLING, BLUE_GREEN, CANARY)

# Option -> the strategies it belongs to. The others (namespace, version, container, wait,
# the state's and the connection's options) belong to every strategy.
STRATEGY_OPTIONS = {
    'kind': [ROLLING],
    'name': [ROLLING],
    'revision': [ROLLING],
    'recreate_stuck_pods': [ROLLING],
    'service': [BLUE_GREEN],
    'selector_label': [BLUE_GREEN],
    'deployments': [BLUE_GREEN],
    'virtual_service': [CANARY],
    'route': [CANARY],
    'stable': [CANARY],
    'canary': [CANARY],
}


def refuse_options_not_for_strategy(params):
    """An option of another strategy is an error: the user meant something by it. Checked before
    anything is read, as are the colors of a blue-green service and the halves of a canary (which
    releasing the Lease does not need)."""
    strategy = params.get('strategy') or ROLLING
    refuse_options_not_for(dict(params, strategy=strategy), 'strategy', STRATEGY_OPTIONS)
    if params.get('state') != 'unlocked':
        if strategy == BLUE_GREEN:
            check_deployments(params.get('deployments'))
        elif strategy == CANARY:
            check_halves(params.get('stable'), params.get('canary'))


def build_driver(client, params, dry_run=False):
    """The driver for ``params`` (k8s_rollback's options), connected through ``client``.
    ``dry_run``: plans are checked by the API server (check mode)."""
    refuse_options_not_for_strategy(params)
    strategy = params.get('strategy') or ROLLING
    if strategy == BLUE_GREEN:
        return BlueGreenDriver(client, params['service'], params['namespace'], params['deployments'],
                               selector_label=params.get('selector_label'), container=params.get('container'),
                               dry_run=dry_run)
    if strategy == CANARY:
        return CanaryDriver(client, params['virtual_service'], params['namespace'], params['stable'],
                            params['canary'], route=params.get('route'), container=params.get('container'),
                            dry_run=dry_run)
    workload = Workload(client, params.get('kind') or 'Deployment', params['name'], params['namespace'])
    return WorkloadDriver(workload, container=params.get('container'),
                          recreate_stuck_pods=bool(params.get('recreate_stuck_pods')), dry_run=dry_run)
