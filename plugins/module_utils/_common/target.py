# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The target of a rollback (DESIGN.md, Words: target, previous).

A platform describes what a service can run as its *history*: a list of
entries, oldest first, in the platform's own order (release versions for
symlinked releases, revision numbers for Kubernetes or ECS). An entry is a
dict with ``version``, and optionally ``revision`` (the platform's number),
``revisions`` (every number it had, where a platform renumbers a revision it
goes back to), ``aliases`` (other spellings of its version: the full image
reference, the digest), ``current`` (true for the entry running now, where
several entries share a version), ``deployable`` (default true) and ``why``
(why it is not deployable).

``choose_target`` picks the target of one service from one history;
``fleet_targets`` picks one target per service from many hosts' histories.
Both are pure functions, used on managed hosts and on the controller alike.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, NotFoundError
from ansible_collections.ops.rollback.plugins.module_utils._common.version import (
    RELEASE,
    sort_versions,
    validate_version,
)

RULE_EXPLICIT = 'explicit'
RULE_REVISION = 'revision'
RULE_LEDGER = 'ledger'
RULE_BEFORE_CURRENT = 'release-before-current'
# The service runs what a rollback left, the platform's own or an earlier run's (runner.py): previous stays there.
RULE_PLATFORM = 'already-rolled-back'


def _deployable(entry):
    return entry.get('deployable', True)


def _shown(entry):
    """An entry as a user recognises it: version, revision, and the images where a platform has them."""
    details = ['revision {0}'.format(entry['revision'])] if entry.get('revision') is not None else []
    details += ['{0}={1}'.format(name, image) for name, image in sorted((entry.get('images') or {}).items())]
    return '{0} ({1})'.format(entry['version'], ', '.join(details)) if details else entry['version']


def _listing(history):
    return ', '.join(_shown(e) for e in history if _deployable(e)) or 'none'


def _currents(current):
    """What runs now, as a list: one version, or a fleet's versions."""
    return [current] if isinstance(current, str) else [c for c in (current or []) if c]


def previous_in_history(history, current, good=(), bad=()):
    """``previous``: the newest deployable entry earlier than the reference point.

    ``current``: what runs now; a list for a fleet half way through a rollback.
    The reference point is the latest (in history order) of ``current`` and of
    every ``bad`` version, so once a rollback has happened, asking again names
    the version already running instead of going one step further back.
    While the ledger knows a good version, only good ones qualify (rule
    ``ledger``); otherwise any entry not rolled back from (rule
    ``release-before-current``). Returns ``(entry or None, rule, skipped)``:
    ``skipped``, the newer entries that would have qualified but are not
    deployable, newest first.
    """
    currents = _currents(current)
    good, bad = set(good or ()), set(bad or ())
    rule = RULE_LEDGER if good else RULE_BEFORE_CURRENT
    position = {}
    for index, entry in enumerate(history):
        position[entry['version']] = index   # the newest entry of a version counts
    marks = [position[v] for v in currents + sorted(bad) if v in position]
    if not currents or not marks:
        return None, rule, []
    reference = max(marks)
    if not good and len(currents) == 1 and currents[0] not in bad and position.get(currents[0], reference) < reference:
        # What runs was rolled back to from a newer bad version: previous stays there, also when
        # revisions between them were registered but never ran (an ECS family, a build pipeline).
        entry = next((e for e in history if e.get('current')), history[position[currents[0]]])
        if _deployable(entry):
            return entry, rule, []
    skipped = []
    for entry in reversed(history[:reference]):
        if entry['version'] in bad or (good and entry['version'] not in good):
            continue
        if _deployable(entry):
            return entry, rule, skipped
        skipped.append(entry)
    return None, rule, skipped


def choose_target(history, current, version=None, revision=None, good=(), bad=(), syntax=RELEASE,
                  subject='the service'):
    """The target of one service: ``{'version', 'revision', 'rule'}``, or raise saying why there is none.

    ``version`` (what people say) or ``revision`` (the platform's number), or
    neither for ``previous``. ``subject`` names the service in messages.
    """
    notes = []
    if version and revision is not None:
        raise InvalidInputError(
            'Pass either version= or revision= for {0}, not both (got {1} and revision {2}).'.format(
                subject, version, revision))
    if revision is not None:
        matches = [e for e in history if revision in (e.get('revisions') or [e.get('revision')])]
        if not matches:
            raise NotFoundError(
                'Cannot roll back {0} to revision {1}: not in its history (available: {2}). Pass one of the '
                'available revisions, or version= instead.'.format(subject, revision, _listing(history)),
                available=[e.get('revision') for e in history if _deployable(e)])
        entry, rule = _newest_or_current(matches), RULE_REVISION
    elif version:
        validate_version(version, syntax)
        matches = [e for e in history if version == e['version'] or version in e.get('aliases', ())]
        if not matches:
            raise NotFoundError(
                'Cannot roll back {0} to {1}: no such version in its history (available: {2}). Pass one of the '
                'available versions, or deploy {1} first.'.format(subject, version, _listing(history)),
                available=[e['version'] for e in history if _deployable(e)])
        entry, rule = _newest_or_current(matches), RULE_EXPLICIT
    else:
        entry, rule, skipped = previous_in_history(history, current, good=good, bad=bad)
        # Said in the plan: an operator expects one step back, and this went further.
        notes = ['skipped {0}: {1}'.format(e['version'], e.get('why') or 'it is not deployable') for e in skipped]
        if entry is None:
            raise NotFoundError(
                'Cannot choose a previous version for {0}: nothing earlier than {1} qualifies under rule {2} '
                '(history: {3}{4}). Pass version= explicitly (-e version=... with the rollback playbook).'.format(
                    subject, _newest(history, current) or 'the current version', rule, _listing(history),
                    ''.join('; ' + note for note in notes)),
                rule=rule)
    if not _deployable(entry):
        raise InvalidInputError(
            'Cannot roll back {0} to {1}: {2}. Choose another version or re-deploy this one.'.format(
                subject, entry['version'], entry.get('why') or 'it is not deployable'),
            version=entry['version'])
    # The entry's own keys come along: a driver finds its revision by them (a ReplicaSet's name).
    target = dict((k, v) for k, v in entry.items() if k not in ('deployable', 'why', 'current'))
    target.update(revision=entry.get('revision'), rule=rule)
    if notes:
        target['notes'] = notes
    return target


def _newest_or_current(matches):
    """The entry running now if it is one of ``matches`` (already there: nothing to do), else the newest."""
    return next((e for e in matches if e.get('current')), matches[-1])


def _newest(history, current):
    currents = _currents(current)
    order = [e['version'] for e in history]
    known = [c for c in currents if c in order]
    return max(known, key=order.index) if known else (currents[-1] if currents else None)


def merge_histories(histories):
    """One history of a fleet: each host's order kept, an entry deployable only
    when it is deployable on every host (``why`` names the hosts where it is not)."""
    merged = []
    for history in histories.values():
        after = -1
        for entry in history:
            names = [e['version'] for e in merged]
            if entry['version'] in names:
                after = names.index(entry['version'])
            else:
                after += 1
                merged.insert(after, dict((key, entry[key]) for key in ('version', 'revision', 'images') if key in entry))
    for entry in merged:
        missing, whys = [], []
        for host, history in sorted(histories.items()):
            found = [e for e in history if e['version'] == entry['version']]
            if not (found and _deployable(found[-1])):
                missing.append(host)
                whys.append(found[-1].get('why') if found else None)
        entry['deployable'] = not missing
        if missing:
            why = next((w for w in whys if w), 'it does not exist there')
            entry['why'] = 'it is not deployable on {0} of {1} hosts ({2}): on {3}, {4}'.format(
                len(missing), len(histories), ', '.join(missing), missing[0], why)
    return merged


def fleet_targets(states, version=None, allow_bad=False):
    """One target per service, for the whole fleet, before anything changes.

    ``states``: one dict per host, as each platform's ``state`` entry point
    reports it: ``host``, ``service``, ``current``, ``history``, ``good`` and
    ``bad`` (ledger verdicts), ``syntax``. Ledger verdicts are merged (a
    version rolled back from on any host is bad). Returns
    ``{service: {version, revision, rule, current, rolled_back_from, hosts, lead_host}}``:
    ``rolled_back_from`` is the newest version running now that is newer than
    the target in the history's order (None when there is none: every host
    runs the target, or the run goes forward); ``lead_host`` the host that acts for
    the service as a whole (its lock, its verdict); ``notes``, what the plan
    must say (releases ``previous`` skipped, hosts whose ``current`` points at
    a missing release, a bad version rolled back to because ``allow_bad``).

    An explicit ``version`` the ledger records as bad is refused unless ``allow_bad``.
    A host's ``current_missing``: where its ``current`` points when that release
    does not exist; such a version is never a current one. When every host
    reports ``platform_rollback`` (the platform rolled back by itself) and no
    ``version`` is given, the target is what runs (rule ``already-rolled-back``),
    and the version the platform left, when known, is ``rolled_back_from``.
    """
    by_service = {}
    for state in states:
        by_service.setdefault(state['service'], []).append(state)
    targets = {}
    for service, hosts in sorted(by_service.items()):
        currents = sort_versions(set(h['current'] for h in hosts if h['current']))
        bad = set().union(*(h.get('bad') or () for h in hosts))
        good = set().union(*(h.get('good') or () for h in hosts)) - bad
        history = merge_histories(dict((h['host'], h['history']) for h in hosts))
        # Every host runs what a rollback left (ECS's circuit breaker, an earlier run): previous stays there.
        by_platform = [h['platform_rollback'] for h in hosts if h.get('platform_rollback')]
        stay = not version and len(currents) == 1 and len(by_platform) == len(hosts)
        target = choose_target(history, currents, version=currents[0] if stay else (version or None), good=good,
                               bad=bad, syntax=hosts[0].get('syntax', RELEASE), subject='service {0}'.format(service))
        notes = target.pop('notes', [])
        if stay:
            target['rule'] = RULE_PLATFORM
            notes.append('{0} already runs {1}, where a rollback left it ({2}), and nothing was deployed since: it '
                         'stays there'.format(service, currents[0], by_platform[0].get('message', 'no message')))
        if version and target['version'] in bad:
            if not allow_bad:
                raise InvalidInputError(
                    'Refusing to roll service {0} back to {1}: the release ledger records it as bad (a rollback '
                    'left it on {2}). If you know it is good now, run again with '
                    '-e rollback_allow_bad_version=true.'.format(
                        service, version, ', '.join(sorted(h['host'] for h in hosts if version in (h.get('bad') or ())))))
            notes.append('{0} is recorded as bad; rolling back to it anyway because rollback_allow_bad_version is '
                         'set'.format(version))
            target['forced'] = True
        notes.extend('{0}: current points at {1}, a release that does not exist'.format(h['host'], h['current_missing'])
                     for h in sorted(hosts, key=lambda h: h['host']) if h.get('current_missing'))
        names = sorted(h['host'] for h in hosts)
        # Rolled back from: a running version newer than the target. Going
        # forward (an older version running) says nothing bad of what it leaves.
        order = [e['version'] for e in history]
        leaving = [v for v in currents if v != target['version'] and (
            v not in order or order.index(v) > order.index(target['version']))]
        if stay and by_platform[0].get('failed_version') in order:
            leaving = [by_platform[0]['failed_version']]   # what the platform rolled back from is bad
        target.update(current=currents, rolled_back_from=leaving[-1] if leaving else None, hosts=names,
                      lead_host=names[0], notes=notes)
        targets[service] = target
    return targets
