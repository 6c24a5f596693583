# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What release_switch does for each state: read, plan, then apply unless in check mode."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import NotFoundError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.version import RULE_EXPLICIT
from ansible_collections.ops.rollback.plugins.module_utils.release.ledger import BAD, GOOD


def _link_text(tree, version):
    return '{0} -> {1}\n'.format(tree.current_path, tree.release_path(version) if version else '(missing)')


def _switch_and_restart(tree, version, running, restart):
    """Switch, then restart; if the restart fails, point current back at the
    release that is still running, so the link never lies."""
    if restart:
        tree.mark_restart_pending(running)
    if tree.current() != version:
        tree.switch(version)
    if not restart:
        return
    rc, out, err = restart()
    if rc != 0:
        if running and running != version:
            tree.switch(running)
        tree.clear_restart_pending()
        raise RollbackError(
            'Restart after switching {0} to {1} failed (rc={2}): {3}. current points back at {4}, which is still '
            'running. Fix the restart command or the release, then run again.'.format(
                tree.current_path, version, rc, (err or out or '').strip()[-500:] or 'no output',
                running or '(nothing)'),
            rc=rc, stdout=out, stderr=err, from_version=running, to_version=running)
    tree.clear_restart_pending()


def _gate_on_health(health, result):
    """Probe the release now current; an unhealthy one is left in place, loudly.

    Pointing back is not safe here: the old release was already stopped, and
    DESIGN.md's 'done' rule is to stop guessing once the target is unhealthy.
    """
    outcome = health.run()
    result['health'] = outcome.as_dict()
    if not outcome.passed:
        details = dict(result)
        details.pop('diff', None)
        raise RollbackError(
            '{0} is current{1} but not healthy: {2} It was left as it is; roll it forward or back once '
            'the cause is known.'.format(
                result['to_version'], ' and was restarted' if result.get('restarted') else '',
                outcome.failure_message()),
            **details)


def run_release_switch(tree, state, version=None, keep=None, ledger=None, check_mode=False, restart=None,
                       health=None):
    """``restart``: a callable returning ``(rc, stdout, stderr)``, run after a switch.
    ``health``: a ``HealthChecker`` run after the switch and restart (never in check mode)."""
    before = tree.current()
    result = {'changed': False, 'from_version': before, 'to_version': before}

    if state == 'switched':
        if version:
            rule = RULE_EXPLICIT
        else:
            version, rule = tree.choose_previous(good=ledger.versions(GOOD), bad=ledger.versions(BAD))
            if version is None:
                raise NotFoundError(
                    'Cannot choose a previous version in {0}: no complete release older than {1} '
                    'qualifies (rule: {2}). Pass version= explicitly.'.format(tree.releases_path, before, rule),
                    rule=rule)
        # Validates the name and completeness even when already current, so a
        # typo never passes silently.
        tree.check_deployable(version)
        # An earlier run switched but never finished its restart: the old
        # process may still run, so restart it now.
        interrupted = tree.restart_pending() if restart else None
        result.update(rule=rule, to_version=version, restarted=False)
        if version != before or interrupted:
            result.update(changed=True, restarted=bool(restart))
            result['diff'] = {'before': _link_text(tree, before), 'after': _link_text(tree, version)}
            if not check_mode:
                _switch_and_restart(tree, version, interrupted or before, restart)
        # Also when nothing changed: a second run still proves the target healthy.
        if health and not check_mode:
            _gate_on_health(health, result)

    elif state == 'pruned':
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

    releases = tree.releases()
    target = result['to_version']
    verdicts = ledger.verdicts()
    for release in releases:
        release['current'] = release['version'] == target
        release['verdict'] = verdicts.get(release['version'])
    if state == 'pruned' and check_mode:
        releases = [r for r in releases if r['version'] not in result['removed']]
    result['releases'] = releases
    if target:
        result['release'] = tree.release_path(target)
    return result
