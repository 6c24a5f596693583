# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What release_switch does for each state: a rollback through the core
(``switched``), or a look at the tree (``listed``, ``pruned``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import BAD, GOOD
from ansible_collections.ops.rollback.plugins.module_utils._common.lock import run_lock
from ansible_collections.ops.rollback.plugins.module_utils._common.runner import run_rollback
from ansible_collections.ops.rollback.plugins.module_utils.release.driver import RESTART_STEP


def run_release_switch(driver, state, version=None, keep=None, check_mode=False, health=None,
                       rolled_back_from=None, note=None, lock=None, warn=None):
    """``lock`` (``owner``, ``file``, ``ttl``, ``force``, ``holder``): with ``listed``, this
    host's rollback lock is taken first, so the listing is the tree under this run's lock."""
    taken = None
    if state == 'listed' and lock and not check_mode:
        taken = run_lock(driver.lock_store(lock['file']), 'acquired', lock['owner'], holder=lock.get('holder'),
                         ttl=lock['ttl'], force=lock['force'], warn=warn)
    tree = driver.tree
    before = tree.current()
    if state == 'switched':
        try:
            result = run_rollback(driver, version=version, check_mode=check_mode, health=health,
                                  rolled_back_from=rolled_back_from, note=note)
        except RollbackError as err:
            # A failed result says it too: restarted or not (a failed restart said
            # so itself), and where current points; an error raised before the
            # switch left it where it was.
            err.details.setdefault('restarted', driver.restarted)
            err.details.setdefault('from_version', (driver.current() or {}).get('version'))
            err.details.setdefault('to_version', before)
            raise
        # In check mode, whether it would restart; otherwise whether it did.
        result['restarted'] = (any(step.startswith(RESTART_STEP) for step in result['plan']) if check_mode
                               else driver.restarted)
    else:
        result = {'changed': False, 'from_version': before, 'to_version': before}
    if state == 'pruned':
        removed = tree.prune_plan(keep)
        result.update(removed=removed, changed=bool(removed))
        if removed:
            names = [r['version'] for r in tree.releases()]
            result['diff'] = {
                'before': ''.join(v + '\n' for v in names),
                'after': ''.join(v + '\n' for v in names if v not in removed),
            }
            if not check_mode:
                for old in removed:
                    tree.remove(old)

    target = result['to_version']
    verdicts = driver.ledger.verdicts()
    releases = [r for r in tree.releases() if r['version'] not in result.get('removed', ())]
    for release in releases:
        release['current'] = release['version'] == target
        release['verdict'] = verdicts.get(release['version'])
    result['releases'] = releases
    if state == 'listed':
        # The platform role contract's state of this host, as the fleet's target choice reads it.
        # A current link to a missing release is no version: it is reported, and never becomes a ledger verdict.
        missing = driver.missing_current()
        result.update(current=None if missing else before, history=driver.history(), syntax=driver.version_syntax,
                      good=sorted(v for v, state in verdicts.items() if state == GOOD),
                      bad=sorted(v for v, state in verdicts.items() if state == BAD))
        if missing:
            result['current_missing'] = missing
    if taken:
        result.update(changed=taken['changed'], lock=taken['lock'])
        if taken.get('taken_over'):
            result['taken_over'] = taken['taken_over']
    if target:
        result['release'] = tree.release_path(target)
    return result
