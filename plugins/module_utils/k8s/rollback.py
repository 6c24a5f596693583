# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What k8s_rollback does in each of its states, over the driver of its strategy (k8s/strategy.py).

``rolled_back`` runs the rollback core; ``listed`` is the platform role
contract's state (current, history, ledger verdicts), read under the run's
Lease when a lock is given; ``unlocked`` releases that Lease; ``recorded``
writes the ledger's verdicts once a rollback was verified.

A ``WorkloadDriver`` (strategy rolling) is locked and named by its
workload. A driver that rolls back through another object (the Service of a
blue-green pair, the VirtualService of a canary) says so itself:
``lock_store()``, ``named()`` (its result key and value) and
``report(result)`` (what its result adds to the core's).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import BAD, GOOD
from ansible_collections.ops.rollback.plugins.module_utils._common.lock import run_lock
from ansible_collections.ops.rollback.plugins.module_utils._common.runner import run_rollback
from ansible_collections.ops.rollback.plugins.module_utils._common.version import validate_version
from ansible_collections.ops.rollback.plugins.module_utils.k8s.store import LeaseLockStore, lease_name


def lock_store(driver):
    """The Lease that locks the driver's service: the driver's own, else its workload's."""
    if hasattr(driver, 'lock_store'):
        return driver.lock_store()
    workload = driver.workload
    return LeaseLockStore(workload.client, workload.namespace, lease_name(workload.kind, workload.name))


def run_k8s_rollback(driver, state='rolled_back', version=None, revision=None, check_mode=False, wait=True,
                     wait_timeout=300, rolled_back_from=None, note=None, lock=None, warn=None):
    """The module's result for ``state``; ``lock`` (``owner``, ``ttl``, ``force``, ``holder``)."""
    warn = warn or (lambda msg: None)
    if state == 'unlocked':
        return dict(run_lock(lock_store(driver), 'released', lock['owner'], check_mode=check_mode, warn=warn),
                    **_named(driver))
    taken = None
    if state == 'listed' and lock and not check_mode:
        taken = run_lock(lock_store(driver), 'acquired', lock['owner'], holder=lock.get('holder'), ttl=lock['ttl'],
                         force=lock['force'], warn=warn)
    driver.load()
    current = driver.current() or {}
    if state == 'rolled_back':
        result = run_rollback(driver, version=version, revision=revision, check_mode=check_mode, wait=wait,
                              wait_timeout=wait_timeout, rolled_back_from=rolled_back_from, note=note)
        if hasattr(driver, 'report'):
            result.update(driver.report(result))
        else:
            _report_workload(driver, current, result, warn, check_mode)
    elif state == 'recorded':
        result = _record(driver, version, rolled_back_from, note, check_mode)
    else:
        result = {'changed': False, 'from_version': current.get('version'), 'to_version': current.get('version'),
                  'current': current.get('version'), 'history': driver.history(), 'syntax': driver.version_syntax,
                  'good': driver.ledger.versions(GOOD), 'bad': driver.ledger.versions(BAD)}
        if taken:
            result.update(changed=taken['changed'], lock=taken['lock'])
            if taken.get('taken_over'):
                result['taken_over'] = taken['taken_over']
    result.update(_named(driver))
    return result


def _named(driver):
    """The result's key naming what was rolled back: ``workload``, or the driver's own."""
    if hasattr(driver, 'named'):
        return driver.named()
    workload = driver.workload
    return {'workload': {'kind': workload.kind, 'name': workload.name, 'namespace': workload.namespace}}


def _report_workload(driver, current, result, warn, check_mode):
    target = next(e for e in driver.history() if e['version'] == result['to_version'] and
                  (result.get('to_revision') is None or result['to_revision'] in e['revisions']))
    result['images'] = {'before': current.get('images', {}), 'after': target['images']}
    if driver.deleted_pods:
        result['deleted_pods'] = driver.deleted_pods
    _warn_of_drift(driver, current, target, result, warn, check_mode)


def _canonical(driver, version):
    """The version as the history names it (``v1.2.9`` for ``registry/app:v1.2.9``)."""
    validate_version(version, driver.version_syntax)
    return next((e['version'] for e in driver.history() if version in e['aliases']), version)


def _record(driver, version, rolled_back_from, note, check_mode):
    if not version:
        raise RollbackError('state=recorded needs version= (the version verified good). Nothing was changed.')
    verdicts = [(_canonical(driver, version), GOOD)]
    if rolled_back_from and _canonical(driver, rolled_back_from) != verdicts[0][0]:
        verdicts.append((_canonical(driver, rolled_back_from), BAD))
    result = driver.ledger.record_all(verdicts, note=note, check_mode=check_mode)
    current = (driver.current() or {}).get('version')
    result.update(from_version=current, to_version=current)
    return result


def _warn_of_drift(driver, current, target, result, warn, check_mode):
    """A rollback that the next ``kubectl apply`` or GitOps sync would undo says so."""
    left = current.get('images', {}).get(driver.container)
    applied = driver.workload.applied_images().get(driver.container)
    if not result['changed'] or check_mode or not left or applied != left or left == target['images'].get(driver.container):
        return
    result['drift'] = applied
    warn('The last-applied-configuration of {0} still names {1}: the next kubectl apply or GitOps sync will roll it '
         'forward to {2} again. Fix the source it is applied from (the manifest in git, the Helm values) to {3}.'.format(
             driver.workload, applied, current.get('version'), target['images'].get(driver.container)))
