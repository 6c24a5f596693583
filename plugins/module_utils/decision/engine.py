# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evaluate the rollback decision rules (rules.py) against an incident's signals.

``decide`` takes plain values and returns the result rollback_decision
reports; bad input or a bad rule raises ``InvalidInputError`` before anything
is evaluated. The rules are evaluated in priority order; the first that
matches decides, every one that matches is reported.

Conditions compare *facts*: the inputs as given, and values derived from them:

* ``latency_factor``: ``latency_p95_ms / latency_baseline_ms``;
* ``signals``: how many incident signals were given (every input but
  ``migrations``; V(false) counts, it says something was checked);
* ``migrations.recommendation``, ``migrations.safe_version`` and
  ``migrations.irreversible`` (how many irreversible migrations) from the
  result of migration_check.

A fact that was not given satisfies only ``ne``, ``not_in`` and
``defined: false``: a missing signal is no evidence for anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import numbers
import re

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.decision import rules as rule_set

BOOL, NUMBER, TEXT = 'a boolean', 'a number', 'a text'

# Incident signals: name -> (kind, allowed choices or None). Order is the order they are echoed in.
SIGNALS = (
    ('service_down', BOOL, None),
    ('error_rate', NUMBER, None),
    ('latency_p95_ms', NUMBER, None),
    ('latency_baseline_ms', NUMBER, None),
    ('data_corruption', BOOL, None),
    ('security_vulnerability_active', BOOL, None),
    ('severity', TEXT, rule_set.SEVERITIES),
    ('data_impact', TEXT, rule_set.DATA_IMPACTS),
    ('time_to_fix_minutes', NUMBER, None),
    ('workaround_exists', BOOL, None),
    ('external_cause', BOOL, None),
    ('single_endpoint_failing', BOOL, None),
    ('intermittent_errors', BOOL, None),
)

# What conditions may test: the signals and the derived facts.
FACTS = dict((name, (kind, choices)) for name, kind, choices in SIGNALS)
FACTS.update({
    'latency_factor': (NUMBER, None),
    'signals': (NUMBER, None),
    'migrations.recommendation': (TEXT, rule_set.MIGRATION_RECOMMENDATIONS),
    'migrations.safe_version': (TEXT, None),
    'migrations.irreversible': (NUMBER, None),
})
# What ``because`` may name besides the facts and the thresholds.
WORDS = ('reason', 'signal_names', 'migrations.irreversible_names')

OPERATORS = ('eq', 'ne', 'gt', 'ge', 'lt', 'le', 'in', 'not_in', 'defined')
_ORDERING = ('gt', 'ge', 'lt', 'le')
_COMPARE = {
    'eq': lambda fact, value: fact == value,
    'ne': lambda fact, value: fact != value,
    'gt': lambda fact, value: fact > value,
    'ge': lambda fact, value: fact >= value,
    'lt': lambda fact, value: fact < value,
    'le': lambda fact, value: fact <= value,
    'in': lambda fact, value: fact in value,
    'not_in': lambda fact, value: fact not in value,
}
_TRUE_WHEN_MISSING = ('ne', 'not_in')

RULE_FIELDS = ('name', 'priority', 'when', 'decision', 'because', 'enabled')
_PLACEHOLDER = re.compile(r'\{([A-Za-z0-9_.]+)\}')

FORCE_HINT = 'To roll back anyway, run again with -e force=true -e reason="<why>" (in AWX: Force and a Reason in the survey).'


def decide(signals=None, migrations=None, rules=None, thresholds=None, reason=None, force=False, force_reason=None):
    """The decision for ``signals`` (a dict of SIGNALS, ``None`` = not given) and ``migrations`` (migration_check's result).

    ``rules`` and ``thresholds`` override the defaults (see ``effective_rules`` and
    ``effective_thresholds``). ``force`` rolls back whatever the rules advise, and needs
    ``force_reason`` (or ``reason``) to say why.
    """
    given = _check_signals(signals or {})
    considered_migrations = _check_migrations(migrations)
    limits = effective_thresholds(thresholds)
    ordered = effective_rules(rules, limits)
    if force and not (force_reason or reason):
        raise InvalidInputError(
            'force=true needs a reason: set force_reason (or reason) to why the rules are overridden, '
            'for example -e force=true -e reason="checkout down, ticket INC-42". Nothing was decided.',
            option='force_reason')
    facts = _facts(given, considered_migrations)
    words = _words(facts, limits, given, considered_migrations, reason)

    hits = [rule for rule in ordered if _matches(rule['when'], facts, limits)]
    # A rule without conditions (the catch-all) says nothing about these signals unless it decides.
    hits = hits[:1] + [rule for rule in hits[1:] if rule['when']]
    matched = [dict(rule=rule['name'], decision=rule['decision'], because=_fill(rule['because'], words))
               for rule in hits]
    if not matched:
        raise InvalidInputError(
            'No enabled rule matches these signals ({0}): keep the rule no_rule_matched enabled, or add a rule '
            'whose when is empty, so that every case has a decision. Nothing was decided.'.format(words['signal_names']), option='rules')

    advised = matched[0]['decision']
    forced = bool(force) and advised not in rule_set.ROLLBACK_DECISIONS
    decision = rule_set.ROLLBACK_NOW if forced else advised
    reasons = [entry['because'] for entry in matched]
    version = None
    if decision in rule_set.ROLLBACK_DECISIONS and facts['migrations.recommendation'] == 'rollback_to':
        version = facts['migrations.safe_version']
        reasons.append('the target changed to {0}, the newest version that works with the current schema '
                       '(irreversible migrations: {1})'.format(version, words['migrations.irreversible_names']))
    if forced:
        reasons.append('forced by the operator: {0}'.format(force_reason or reason))
    elif force:
        reasons.append('force was given but not needed: the rules already advise a rollback')

    return dict(
        changed=False,
        decision=decision,
        advised=advised,
        proceed=decision in rule_set.ROLLBACK_DECISIONS,
        forced=forced,
        investigate_minutes=limits['investigate_minutes'] if decision == rule_set.INVESTIGATE_THEN_DECIDE else None,
        version=version,
        matched=matched,
        reasons=reasons,
        message=_message(decision, advised, matched[0]['because'], version, forced, force_reason or reason),
        inputs=_echo(given, facts, considered_migrations),
        thresholds=limits,
        rules=[rule['name'] for rule in ordered],
        rules_version=rule_set.RULES_VERSION,
    )


def decide_from_params(params):
    """``decide`` over the options of rollback_decision."""
    return decide(
        signals=dict((name, params.get(name)) for name, _kind, _choices in SIGNALS),
        migrations=params.get('migrations'),
        rules=params.get('rules'),
        thresholds=params.get('thresholds'),
        reason=params.get('reason'),
        force=params.get('force'),
        force_reason=params.get('force_reason'),
    )


# ---------------------------------------------------------------------------
# thresholds and rules
# ---------------------------------------------------------------------------

def effective_thresholds(overrides=None):
    """The default thresholds with ``overrides`` (name -> number) applied, checked."""
    limits = dict(rule_set.DEFAULT_THRESHOLDS)
    for name, value in sorted((overrides or {}).items()):
        if name not in limits:
            raise InvalidInputError(
                'Unknown threshold {0!r} in thresholds (known: {1}): fix its name. Nothing was decided.'.format(
                    name, ', '.join(sorted(limits))), option='thresholds')
        if not _is_number(value) or value < 0:
            raise InvalidInputError(
                'Threshold {0} must be a number of 0 or more, got {1!r}. Nothing was decided.'.format(name, value),
                option='thresholds')
        limits[name] = value
    if limits['error_rate_rollback'] > 100:
        raise InvalidInputError(
            'Threshold error_rate_rollback is a percentage, so at most 100, got {0}. Nothing was decided.'.format(
                limits['error_rate_rollback']), option='thresholds')
    if limits['error_rate_investigate'] > limits['error_rate_rollback']:
        raise InvalidInputError(
            'Threshold error_rate_investigate ({0}) cannot be above error_rate_rollback ({1}): investigation starts '
            'below the rate that rolls back at once. Nothing was decided.'.format(
                limits['error_rate_investigate'], limits['error_rate_rollback']), option='thresholds')
    return limits


def effective_rules(overrides=None, thresholds=None):
    """The enabled rules in evaluation order: the defaults with ``overrides`` applied, every one checked.

    An override whose name is a default rule's replaces the fields it gives
    (``enabled: false`` disables the rule); a new name adds a rule, which then
    needs ``when``, ``decision``, ``because`` and ``priority``. Equal
    priorities keep the default rules first, then the order given.
    """
    limits = thresholds if thresholds is not None else effective_thresholds()
    by_name = dict((rule['name'], dict(rule, enabled=True)) for rule in rule_set.DEFAULT_RULES)
    order = [rule['name'] for rule in rule_set.DEFAULT_RULES]
    seen = set()
    for override in overrides or []:
        name = _check_override(override, seen)
        if name in by_name:
            by_name[name].update(override)
        else:
            missing = [field for field in ('when', 'decision', 'because', 'priority') if field not in override]
            if missing:
                raise InvalidInputError(
                    'Rule {0!r} in rules is new, so it needs {1} (the default rules are {2}; to change one, use its '
                    'name). Nothing was decided.'.format(name, ', '.join(missing), ', '.join(order)), option='rules')
            by_name[name] = dict(override, enabled=override.get('enabled', True))
            order.append(name)
    for name in order:
        _check_rule(by_name[name], limits)
    position = dict((name, index) for index, name in enumerate(order))
    enabled = [by_name[name] for name in order if by_name[name]['enabled']]
    return sorted(enabled, key=lambda rule: (rule['priority'], position[rule['name']]))


def _check_override(override, seen):
    if not isinstance(override, dict) or not isinstance(override.get('name'), str) or not override.get('name'):
        raise InvalidInputError(
            'Every item of rules needs a name, got {0!r}: name a default rule to change it, or a new one to add it. '
            'Nothing was decided.'.format(override), option='rules')
    name = override['name']
    if name in seen:
        raise InvalidInputError('Rule {0!r} is given twice in rules: merge the two. Nothing was decided.'.format(name),
                                option='rules')
    seen.add(name)
    unknown = sorted(set(override) - set(RULE_FIELDS))
    if unknown:
        raise InvalidInputError(
            'Rule {0!r} in rules has unknown fields {1} (known: {2}). Nothing was decided.'.format(
                name, ', '.join(unknown), ', '.join(RULE_FIELDS)), option='rules')
    return name


def _check_rule(rule, limits):
    name = rule['name']

    def refuse(what):
        raise InvalidInputError('Rule {0!r}: {1}. Nothing was decided.'.format(name, what), option='rules')

    if rule['decision'] not in rule_set.DECISIONS:
        refuse('unknown decision {0!r} (choose one of {1})'.format(rule['decision'], ', '.join(rule_set.DECISIONS)))
    if not _is_number(rule['priority']):
        refuse('priority must be a number, got {0!r}'.format(rule['priority']))
    if not isinstance(rule['enabled'], bool):
        refuse('enabled must be true or false, got {0!r}'.format(rule['enabled']))
    if not isinstance(rule['because'], str) or not rule['because'].strip():
        refuse('because must be words that say why')
    known_words = set(FACTS) | set(limits) | set(WORDS)
    for placeholder in _PLACEHOLDER.findall(rule['because']):
        if placeholder not in known_words:
            refuse('because names an unknown placeholder {{{0}}} (known: {1})'.format(
                placeholder, ', '.join(sorted(known_words))))
    if not isinstance(rule['when'], dict):
        refuse('when must be a mapping of inputs to conditions, such as {error_rate: {gt: 5}}')
    for fact, conditions in sorted(rule['when'].items()):
        if fact not in FACTS:
            refuse('when tests an unknown input {0!r} (known: {1})'.format(fact, ', '.join(sorted(FACTS))))
        if not isinstance(conditions, dict) or not conditions:
            refuse('the condition on {0} must be a mapping of operators to values, such as {{gt: 5}}'.format(fact))
        for operator, value in sorted(conditions.items()):
            _check_condition(refuse, fact, operator, value, limits)


def _check_condition(refuse, fact, operator, value, limits):
    kind, choices = FACTS[fact]
    if operator not in OPERATORS:
        refuse('unknown operator {0!r} on {1} (known: {2})'.format(operator, fact, ', '.join(OPERATORS)))
    if operator == 'defined':
        if not isinstance(value, bool):
            refuse('defined on {0} takes true or false, got {1!r}'.format(fact, value))
        return
    if operator in _ORDERING and kind != NUMBER:
        refuse('{0} on {1} compares numbers, but {1} is {2}'.format(operator, fact, kind))
    if isinstance(value, dict):
        if set(value) != {'threshold'} or value['threshold'] not in limits:
            refuse('{0} on {1} refers to {2!r}; a reference is {{threshold: <name>}} with a name among {3}'.format(
                operator, fact, value, ', '.join(sorted(limits))))
        if kind != NUMBER:
            refuse('{0} on {1} refers to a threshold, which is a number, but {1} is {2}'.format(operator, fact, kind))
        return
    values = value if operator in ('in', 'not_in') else [value]
    if operator in ('in', 'not_in') and not isinstance(value, list):
        refuse('{0} on {1} takes a list, got {2!r}'.format(operator, fact, value))
    for item in values:
        if not _is_kind(item, kind) or (choices and item not in choices):
            refuse('{0} on {1} compares with {2!r}, but {1} is {3}'.format(
                operator, fact, item, 'one of ' + ', '.join(choices) if choices else kind))


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------

def _check_signals(signals):
    known = [name for name, _kind, _choices in SIGNALS]
    unknown = sorted(set(signals) - set(known))
    if unknown:
        raise InvalidInputError('Unknown signals {0} (known: {1}). Nothing was decided.'.format(
            ', '.join(unknown), ', '.join(known)), option=unknown[0])
    given = {}
    for name, kind, choices in SIGNALS:
        value = signals.get(name)
        if value is None:
            continue
        if not _is_kind(value, kind) or (choices and value not in choices):
            raise InvalidInputError('{0} must be {1}, got {2!r}. Nothing was decided.'.format(
                name, 'one of ' + ', '.join(choices) if choices else kind, value), option=name)
        if kind == NUMBER and value < 0:
            raise InvalidInputError('{0} cannot be negative, got {1}. Nothing was decided.'.format(name, value),
                                    option=name)
        given[name] = value
    if given.get('error_rate', 0) > 100:
        raise InvalidInputError('error_rate is a percentage, so at most 100, got {0}. Nothing was decided.'.format(
            given['error_rate']), option='error_rate')
    if ('latency_p95_ms' in given) != ('latency_baseline_ms' in given):
        raise InvalidInputError(
            'latency_p95_ms and latency_baseline_ms go together: a spike is the p95 latency against the baseline. '
            'Give both, or neither. Nothing was decided.', option='latency_baseline_ms')
    if given.get('latency_baseline_ms') == 0:
        raise InvalidInputError('latency_baseline_ms must be more than 0. Nothing was decided.',
                                option='latency_baseline_ms')
    return given


def _check_migrations(migrations):
    """What the decision needs of migration_check's result: recommendation, safe_version, irreversible names."""
    if migrations is None:
        return None
    recommendation = migrations.get('recommendation') if isinstance(migrations, dict) else None
    if recommendation not in rule_set.MIGRATION_RECOMMENDATIONS:
        raise InvalidInputError(
            'migrations must be the result of ops.rollback.migration_check, with recommendation one of {0}; got '
            '{1!r}. Nothing was decided.'.format(', '.join(rule_set.MIGRATION_RECOMMENDATIONS), recommendation),
            option='migrations')
    safe_version = migrations.get('safe_version')
    if recommendation == 'rollback_to' and not safe_version:
        raise InvalidInputError(
            'migrations recommends rollback_to but gives no safe_version: pass the whole result of '
            'ops.rollback.migration_check. Nothing was decided.', option='migrations')
    listed = migrations.get('migrations') or []
    if not isinstance(listed, list) or not all(isinstance(item, dict) for item in listed):
        raise InvalidInputError(
            'migrations.migrations must be a list of mappings (each with reversible and reasons), got {0!r}. '
            'Nothing was decided.'.format(listed), option='migrations')
    irreversible = []
    for item in listed:
        # migration_check lists the migrations in between; one the database never applied costs nothing.
        if item.get('reversible') is False and item.get('applied') is not False:
            label = str(next((item[key] for key in ('name', 'id', 'version') if item.get(key)), 'unnamed'))
            reasons = item.get('reasons') or []
            irreversible.append(label + (': ' + ', '.join(str(why) for why in reasons) if reasons else ''))
    return dict(recommendation=recommendation, safe_version=safe_version, irreversible=irreversible)


def _facts(given, migrations):
    facts = dict((name, given.get(name)) for name, _kind, _choices in SIGNALS)
    facts['latency_factor'] = (given['latency_p95_ms'] / given['latency_baseline_ms']
                               if 'latency_p95_ms' in given else None)
    facts['signals'] = len(given)
    migrations = migrations or {}
    facts['migrations.recommendation'] = migrations.get('recommendation')
    facts['migrations.safe_version'] = migrations.get('safe_version')
    facts['migrations.irreversible'] = len(migrations['irreversible']) if migrations else None
    return facts


def _words(facts, limits, given, migrations, reason):
    """Everything a ``because`` may name, as text."""
    words = dict((name, _text(value)) for name, value in facts.items())
    words.update((name, _text(value)) for name, value in limits.items())
    words['reason'] = reason or 'no reason given'
    words['signal_names'] = ', '.join(sorted(given)) or 'none'
    words['migrations.irreversible_names'] = '; '.join((migrations or {}).get('irreversible') or []) or 'none listed'
    return words


def _echo(given, facts, migrations):
    echo = dict(given)
    echo['signals'] = facts['signals']
    if facts['latency_factor'] is not None:
        echo['latency_factor'] = round(facts['latency_factor'], 2)
    if migrations:
        echo['migrations'] = migrations
    return echo


# ---------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------

def _matches(when, facts, limits):
    for fact, conditions in when.items():
        value = facts[fact]
        for operator, expected in conditions.items():
            if operator == 'defined':
                holds = (value is not None) == expected
            elif value is None:
                holds = operator in _TRUE_WHEN_MISSING
            else:
                if isinstance(expected, dict):
                    expected = limits[expected['threshold']]
                holds = _COMPARE[operator](value, expected)
            if not holds:
                return False
    return True


def _fill(because, words):
    return _PLACEHOLDER.sub(lambda match: words[match.group(1)], because)


def _message(decision, advised, because, version, forced, why):
    target = ' The target changed to {0}, the newest version that works with the current schema.'.format(
        version) if version else ''
    if forced:
        return 'Rolling back, forced by the operator ({0}); the rules advised {1}: {2}.{3}'.format(
            why, advised, because, target)
    if decision == rule_set.ROLLBACK_AND_FREEZE_WRITES:
        return 'Rolling back now, with writes frozen: {0}.{1}'.format(because, target)
    if decision == rule_set.ROLLBACK_NOW:
        return 'Rolling back now: {0}.{1}'.format(because, target)
    return 'Not rolling back ({0}): {1}. {2}'.format(decision, because, FORCE_HINT)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_kind(value, kind):
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == NUMBER:
        return _is_number(value)
    return isinstance(value, str)


def _text(value):
    """A value as a sentence shows it: 8 not 8.0, 2.35 not 2.3456, 'not given' for None."""
    if value is None:
        return 'not given'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, float):
        return ('{0:.2f}'.format(value)).rstrip('0').rstrip('.')
    return str(value)
