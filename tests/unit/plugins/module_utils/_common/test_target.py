# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Target choice: explicit version, revision, previous over an ordered history; one target per fleet."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, NotFoundError
from ansible_collections.ops.rollback.plugins.module_utils._common.target import choose_target, fleet_targets
from ansible_collections.ops.rollback.plugins.module_utils._common.version import IMAGE

RELEASES = [{'version': v} for v in ('v1.2.7', 'v1.2.8', 'v1.2.9', 'v1.3.0')]


@pytest.mark.parametrize('current, good, bad, expected', [
    # Empty ledger: the entry just before the current one.
    ('v1.3.0', [], [], ('v1.2.9', 'release-before-current')),
    # The ledger knows: the newest verified-good version, skipping unverified ones.
    ('v1.3.0', ['v1.2.7', 'v1.2.8'], [], ('v1.2.8', 'ledger')),
    # Rolled-back-from versions are never candidates.
    ('v1.3.0', ['v1.2.7', 'v1.2.9'], ['v1.2.9'], ('v1.2.7', 'ledger')),
    # Again: after rolling back from v1.3.0 to v1.2.9, previous is v1.2.9 itself.
    ('v1.2.9', ['v1.2.9'], ['v1.3.0'], ('v1.2.9', 'ledger')),
    # A fleet half way: the latest current version is the one rolled back from.
    (['v1.2.9', 'v1.3.0'], [], [], ('v1.2.9', 'release-before-current')),
])
def test_previous_rules(current, good, bad, expected):
    target = choose_target(RELEASES, current, good=good, bad=bad)
    assert (target['version'], target['rule']) == expected


@pytest.mark.parametrize('current, good, rule', [('v1.2.7', [], 'release-before-current'), ('v1.3.0', ['v1.3.0'], 'ledger')])
def test_no_previous_says_pass_version(current, good, rule):
    with pytest.raises(NotFoundError, match='under rule {0} .*Pass version= explicitly'.format(rule)):
        choose_target(RELEASES, current, good=good)


# A Deployment's history in revision order: the image tags do not sort as
# versions (v2.0.0 was rolled out before the hotfix v1.9.9), and revision 5
# re-ran an old image. "What ran just before" is revision order, not version order.
REVISIONS = [
    {'version': 'v1.9.0', 'revision': 2},
    {'version': 'v2.0.0', 'revision': 3},
    {'version': 'v1.9.9', 'revision': 4},
    {'version': 'v2.1.0', 'revision': 6},
]


def test_previous_follows_the_platforms_order_not_version_order():
    target = choose_target(REVISIONS, 'v2.1.0', syntax=IMAGE)
    assert target == {'version': 'v1.9.9', 'revision': 4, 'rule': 'release-before-current'}


def test_previous_again_after_a_rollback_stays_where_it_is():
    # Rolled back from v2.1.0 (bad) to v1.9.9: asking again changes nothing.
    target = choose_target(REVISIONS, 'v1.9.9', good=['v1.9.9'], bad=['v2.1.0'], syntax=IMAGE)
    assert target['version'] == 'v1.9.9'


def test_revision_is_chosen_by_number_and_a_missing_one_lists_the_others():
    assert choose_target(REVISIONS, 'v2.1.0', revision=3)['version'] == 'v2.0.0'
    with pytest.raises(NotFoundError, match=r'revision 5: not in its history \(available: v1.9.0 \(revision 2\)'):
        choose_target(REVISIONS, 'v2.1.0', revision=5, subject='deployment web')


def test_version_and_revision_together_are_refused():
    with pytest.raises(InvalidInputError, match='either version= or revision='):
        choose_target(REVISIONS, 'v2.1.0', version='v1.9.0', revision=2, syntax=IMAGE)


def test_explicit_digest_is_found_where_the_platform_speaks_images():
    digest = 'app@sha256:' + 'b' * 64
    history = REVISIONS + [{'version': digest, 'revision': 7}]
    assert choose_target(history, 'v2.1.0', version=digest, syntax=IMAGE)['revision'] == 7


def test_a_version_that_is_not_deployable_says_why():
    history = [{'version': 'v1.2.9', 'deployable': False, 'why': 'it has no REVISION marker'}, {'version': 'v1.3.0'}]
    with pytest.raises(InvalidInputError, match='to v1.2.9: it has no REVISION marker'):
        choose_target(history, 'v1.3.0', version='v1.2.9')


def state(host, current, available=('v1.2.8', 'v1.2.9', 'v1.3.0'), good=(), bad=(), service='demo'):
    return {'host': host, 'service': service, 'current': current, 'syntax': 'release',
            'history': [{'version': v} for v in available], 'good': list(good), 'bad': list(bad)}


def test_one_target_for_a_mixed_fleet():
    # lab2 was already rolled back by an interrupted run; its own idea of
    # "previous" (v1.2.8) must not win: the fleet's target is v1.2.9.
    targets = fleet_targets([state('lab1', 'v1.3.0'), state('lab2', 'v1.2.9'), state('lab3', 'v1.3.0')])
    assert targets['demo']['version'] == 'v1.2.9'
    assert targets['demo']['current'] == ['v1.2.9', 'v1.3.0']
    # What the fleet leaves is the newest version still running, on every host alike.
    assert (targets['demo']['rolled_back_from'], targets['demo']['lead_host']) == ('v1.3.0', 'lab1')


def test_a_fleet_already_at_the_target_leaves_nothing():
    targets = fleet_targets([state('lab2', 'v1.2.9'), state('lab1', 'v1.2.9')], version='v1.2.9')
    assert (targets['demo']['rolled_back_from'], targets['demo']['lead_host']) == (None, 'lab1')


def test_ledger_verdicts_are_merged_across_hosts():
    targets = fleet_targets([
        state('lab1', 'v1.3.0', good=['v1.2.8', 'v1.2.9']),
        state('lab2', 'v1.3.0', good=['v1.2.8'], bad=['v1.2.9']),
    ])
    assert targets['demo'] == {'version': 'v1.2.8', 'revision': None, 'rule': 'ledger', 'current': ['v1.3.0'],
                               'rolled_back_from': 'v1.3.0', 'hosts': ['lab1', 'lab2'], 'lead_host': 'lab1',
                               'notes': []}


def test_only_versions_every_host_has_are_candidates():
    targets = fleet_targets([state('lab1', 'v1.3.0'), state('lab2', 'v1.3.0', available=['v1.2.8', 'v1.3.0'])])
    assert targets['demo']['version'] == 'v1.2.8'


def test_services_get_their_own_targets():
    targets = fleet_targets([state('a', 'v1.3.0'), state('b', 'v1.2.9', service='billing')])
    assert (targets['demo']['version'], targets['billing']['version']) == ('v1.2.9', 'v1.2.8')


def test_explicit_version_missing_on_a_host_names_the_host():
    with pytest.raises(InvalidInputError, match=r'not deployable on 1 of 2 hosts \(lab2\)'):
        fleet_targets([state('lab1', 'v1.3.0'), state('lab2', 'v1.3.0', available=['v1.2.8', 'v1.3.0'])],
                      version='v1.2.9')


def test_explicit_version_unknown_everywhere_lists_what_is_there():
    with pytest.raises(NotFoundError, match=r'service demo to v9.9.9: no such version .*available: v1.2.8, v1.2.9'):
        fleet_targets([state('lab1', 'v1.3.0')], version='v9.9.9')


def test_explicit_version_is_validated_with_the_platforms_syntax():
    with pytest.raises(InvalidInputError, match='Refusing version'):
        fleet_targets([state('lab1', 'v1.3.0')], version='../v1.2.9')


def test_previous_says_which_releases_it_skipped_and_where():
    # v1.2.9 never finished deploying on lab2, so previous goes two steps back, and says so.
    targets = fleet_targets([state('lab1', 'v1.3.0'), state('lab2', 'v1.3.0', available=['v1.2.8', 'v1.3.0'])])
    assert targets['demo']['version'] == 'v1.2.8'
    assert targets['demo']['notes'] == [
        'skipped v1.2.9: it is not deployable on 1 of 2 hosts (lab2): on lab2, it does not exist there']


def test_an_explicit_version_recorded_bad_is_refused_unless_allowed():
    hosts = [state('lab1', 'v1.2.9', bad=['v1.3.0']), state('lab2', 'v1.2.9')]
    with pytest.raises(InvalidInputError) as caught:
        fleet_targets(hosts, version='v1.3.0')
    assert caught.value.msg.startswith('Refusing to roll service demo back to v1.3.0: the release ledger records '
                                       'it as bad (a rollback left it on lab1)')
    assert '-e rollback_allow_bad_version=true' in caught.value.msg
    forced = fleet_targets(hosts, version='v1.3.0', allow_bad=True)['demo']
    assert (forced['version'], forced['forced']) == ('v1.3.0', True)
    assert 'v1.3.0 is recorded as bad; rolling back to it anyway' in forced['notes'][0]


def test_a_current_link_to_a_missing_release_is_no_current_version():
    dangling = dict(state('lab2', None), current_missing='v1.3.5')
    targets = fleet_targets([state('lab1', 'v1.3.0'), dangling])
    # Not a version the fleet runs, so not one it rolls back from: v1.3.5 never reaches the ledger.
    assert (targets['demo']['current'], targets['demo']['rolled_back_from']) == (['v1.3.0'], 'v1.3.0')
    assert targets['demo']['version'] == 'v1.2.9'
    assert targets['demo']['notes'] == ['lab2: current points at v1.3.5, a release that does not exist']


def test_going_forward_rolls_back_from_nothing():
    # An operator moves the fleet forward, from v1.2.8 to v1.2.9: v1.2.8 is left, but not as a bad version.
    targets = fleet_targets([state('lab1', 'v1.2.8'), state('lab2', 'v1.3.0')], version='v1.2.9')
    assert (targets['demo']['current'], targets['demo']['rolled_back_from']) == (['v1.2.8', 'v1.3.0'], 'v1.3.0')
    forward = fleet_targets([state('lab1', 'v1.2.8'), state('lab2', 'v1.2.8')], version='v1.2.9')
    assert forward['demo']['rolled_back_from'] is None


def test_a_fleet_the_platform_already_rolled_back_stays_and_names_what_it_left():
    rolled = {'message': 'rolling back to deployment ecs-svc/1', 'failed_version': 'v1.3.0'}
    hosts = [dict(state('lab1', 'v1.2.9'), platform_rollback=rolled)]
    targets = fleet_targets(hosts)
    assert (targets['demo']['version'], targets['demo']['rule'], targets['demo']['rolled_back_from']) == (
        'v1.2.9', 'already-rolled-back', 'v1.3.0')
    assert 'demo already runs v1.2.9, where a rollback left it' in targets['demo']['notes'][0]
    # An explicit version, or a host the platform did not roll back, decides as always.
    assert fleet_targets(hosts, version='v1.2.8')['demo']['version'] == 'v1.2.8'
    assert fleet_targets(hosts + [state('lab2', 'v1.2.9')])['demo']['version'] == 'v1.2.8'


def test_previous_stays_on_what_a_rollback_from_a_newer_bad_version_left():
    # v1.3.0 was rolled back to v1.2.8; v1.2.9 between them never ran. Asking again changes nothing.
    history = [{'version': v} for v in ('v1.2.8', 'v1.2.9', 'v1.3.0')]
    assert choose_target(history, 'v1.2.8', bad=['v1.3.0'])['version'] == 'v1.2.8'
    # Without the bad verdict, previous is one step back as always.
    assert choose_target(history, 'v1.3.0')['version'] == 'v1.2.9'
