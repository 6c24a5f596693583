# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What release_switch does for each state: read, plan, then apply unless in check mode."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import NotFoundError
from ansible_collections.ops.rollback.plugins.module_utils._common.version import RULE_EXPLICIT
from ansible_collections.ops.rollback.plugins.module_utils.release.ledger import BAD, GOOD


def _link_text(tree, version):
    return '{0} -> {1}\n'.format(tree.current_path, tree.release_path(version) if version else '(missing)')


def run_release_switch(tree, state, version=None, keep=None, ledger=None, check_mode=False):
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
        result.update(rule=rule, to_version=version)
        if version != before:
            result['changed'] = True
            result['diff'] = {'before': _link_text(tree, before), 'after': _link_text(tree, version)}
            if not check_mode:
                tree.switch(version)

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
