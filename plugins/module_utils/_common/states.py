# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The states of a platform's rollback module, the same on every platform.

A platform role (README, "Platform roles") calls its module four times:
``listed`` reads the platform role contract's state (current, history,
ledger verdicts), under the run's lock when one is given; ``rolled_back``
runs the rollback core (runner.py); ``recorded`` writes the ledger's verdicts
once a rollback was verified; ``unlocked`` releases the lock. ``run_state``
does each over a ``Driver`` (driver.py): the lock store, the result key that
names the service and what a platform adds to the result are the driver's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import BAD, GOOD
from ansible_collections.ops.rollback.plugins.module_utils._common.lock import run_lock
from ansible_collections.ops.rollback.plugins.module_utils._common.runner import run_rollback
from ansible_collections.ops.rollback.plugins.module_utils._common.version import validate_version

STATES = ('rolled_back', 'listed', 'unlocked', 'recorded')

# Options of a platform module that only mean something in some states; elsewhere they are refused.
STATE_OPTIONS = {
    'version': ['rolled_back', 'recorded'],
    'revision': ['rolled_back'],
    'rolled_back_from': ['rolled_back', 'recorded'],
    'note': ['rolled_back', 'recorded'],
    'lock': ['listed', 'unlocked'],
}

# required_if of a platform module, for its states.
STATE_REQUIRED_IF = [('state', 'unlocked', ['lock']), ('state', 'recorded', ['version'])]


def run_state(driver, state='rolled_back', version=None, revision=None, check_mode=False, wait=True,
              wait_timeout=300, rolled_back_from=None, note=None, lock=None, warn=None):
    """The module's result for ``state``; ``lock`` (``owner``, ``ttl``, ``force``, ``holder``)."""
    warn = warn or (lambda msg: None)
    if state == 'unlocked':
        return dict(run_lock(driver.lock_store(), 'released', lock['owner'], check_mode=check_mode, warn=warn),
                    **driver.named())
    taken = None
    if state == 'listed' and lock and not check_mode:
        # Taken before the state is read, so what the run plans from is what no other run changes.
        taken = run_lock(driver.lock_store(), 'acquired', lock['owner'], holder=lock.get('holder'), ttl=lock['ttl'],
                         force=lock['force'], warn=warn)
    driver.load()
    current = driver.current() or {}
    if state == 'rolled_back':
        result = run_rollback(driver, version=version, revision=revision, check_mode=check_mode, wait=wait,
                              wait_timeout=wait_timeout, rolled_back_from=rolled_back_from, note=note)
        result.update(driver.report(result, current, warn, check_mode))
    elif state == 'recorded':
        result = _record(driver, version, rolled_back_from, note, check_mode)
    else:
        result = {'changed': False, 'from_version': current.get('version'), 'to_version': current.get('version'),
                  'current': current.get('version'), 'history': driver.history(), 'syntax': driver.version_syntax,
                  'good': driver.ledger.versions(GOOD), 'bad': driver.ledger.versions(BAD)}
        if driver.platform_rollback():
            result['platform_rollback'] = driver.platform_rollback()
        if taken:
            result.update(changed=taken['changed'], lock=taken['lock'])
            if taken.get('taken_over'):
                result['taken_over'] = taken['taken_over']
    result.update(driver.named())
    return result


def run_module_state(driver, module):
    """:func:`run_state` with the module's own options: those of STATE_OPTIONS it has, the others defaulted."""
    params = module.params
    return run_state(driver, state=params['state'], version=params['version'], revision=params.get('revision'),
                     check_mode=module.check_mode, wait=params.get('wait', True),
                     wait_timeout=params.get('wait_timeout', 300), rolled_back_from=params['rolled_back_from'],
                     note=params['note'], lock=params['lock'], warn=module.warn)


def _canonical(driver, version):
    """The version as the history names it (``v1.2.9`` for ``registry/app:v1.2.9``)."""
    validate_version(version, driver.version_syntax)
    return next((e['version'] for e in driver.history() if version in e.get('aliases', ())), version)


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
