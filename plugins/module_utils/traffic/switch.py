# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving traffic between pools: one algorithm over small backends (DESIGN.md, ``lb_switch``).

A backend is one kind of switch (a Kubernetes Service's selector, an Istio
VirtualService's weights; later nginx upstreams, HAProxy, ALB listeners,
Route53 records). It works on plain data and does four things:

* ``read()`` -> the current state (a selector dict, a list of weights...);
* ``plan(before)`` -> the state asked for, validated against ``before``;
  ``preflight(before, after, force)`` -> facts for the result, refusing an
  unsafe switch unless forced;
* ``apply(state, dry_run=False)`` writes a state (``dry_run``: the platform
  checks it without making it, for check mode);
* ``verify(state)`` returns once the platform serves ``state``, or raises.

Backends with weights also have ``stages(before, after, steps)``: the states
a gradual switch goes through. ``run_switch`` is the algorithm: idempotence,
check mode, diff, steps, and a failure that says where traffic was left.
No Ansible here, so it is tested directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError


class TrafficBackend:
    """The interface ``run_switch`` drives; see the module docstring."""

    name = None

    def describe(self):
        """What is switched, for messages and the diff header ("Service web in namespace prod")."""
        raise NotImplementedError

    def read(self):
        raise NotImplementedError

    def plan(self, before):
        raise NotImplementedError

    def preflight(self, before, after, force=False):
        return {}

    def apply(self, state, dry_run=False):
        raise NotImplementedError

    def verify(self, state):
        pass

    def render(self, state):
        """``state`` as diff text, one line per item."""
        raise NotImplementedError


def run_switch(backend, check_mode=False, force=False, steps=None, pause=0, gate=None, sleep=time.sleep):
    """Switch ``backend``'s traffic to what it was configured with; returns the result.

    ``steps``: percentages of the way from the current state to the target (for
    example ``[10, 25, 50]``; 100 is always the last step), for backends with
    ``stages``. ``pause``: seconds to wait between two steps. ``gate``: a
    ``HealthChecker`` run after each step (after its pause); a step it fails
    holds the traffic there and fails the switch.
    """
    if steps and not hasattr(backend, 'stages'):
        raise InvalidInputError('backend={0} switches at once; it takes no steps. Nothing was changed.'.format(
            backend.name))
    if pause < 0:
        raise InvalidInputError('pause is {0}; it is seconds between steps, 0 or more. Nothing was changed.'.format(pause))
    before = backend.read()
    after = backend.plan(before)
    result = dict(changed=before != after, backend=backend.name, before=before, after=after)
    # Refusals come here, before anything is written.
    result.update(backend.preflight(before, after, force=force))
    if not result['changed']:
        if not check_mode:
            # A second run still proves the platform serves the state (an earlier run may have timed out).
            _verify(backend, after, before, after)
        return result
    result['diff'] = dict(before=backend.render(before), after=backend.render(after),
                          before_header=backend.describe(), after_header=backend.describe())
    stages = backend.stages(before, after, steps) if steps else [after]
    if steps:
        result['steps'] = stages
    if check_mode:
        # The platform validates the final state without making it, where it can.
        backend.apply(after, dry_run=True)
        return result
    for number, stage in enumerate(stages):
        if number and pause:
            sleep(pause)
        # A failure says where traffic was left: the last state written.
        served = stages[number - 1] if number else before
        try:
            backend.apply(stage)
        except RollbackError as err:
            _located(err, backend, before, served, stages[:number] if steps else None)
            raise
        _verify(backend, stage, before, stage, stages[:number + 1] if steps else None)
        if gate is not None:
            _gate(gate, backend, before, stage, stages[:number + 1] if steps else None, pause, sleep)
    if gate is not None:
        result['gate'] = 'passed after each of {0} step(s)'.format(len(stages))
    return result


def _gate(gate, backend, before, served, steps, pause, sleep):
    """Hold ``served`` until ``gate`` passes; a failing gate stops the switch where it is."""
    if pause:
        sleep(pause)   # the new split serves a while before it is judged
    outcome = gate.run()
    if not outcome.passed:
        err = RollbackError(
            'The health check failed with {0} serving {1}: {2} Traffic was held there, not moved further; move it '
            'back or on once the cause is known.'.format(backend.describe(), backend.render(served).strip().replace(
                '\n', ', '), outcome.failure_message()), health=outcome.as_dict())
        _located(err, backend, before, served, steps)
        raise err


def _verify(backend, state, before, served, steps=None):
    try:
        backend.verify(state)
    except RollbackError as err:
        _located(err, backend, before, served, steps)
        raise


def _located(err, backend, before, served, steps):
    # A backend that knows where it left traffic says so (haproxy: a drain that timed out stays in drain).
    served = err.details.get('after', served)
    err.details.update(backend=backend.name, before=before, after=served, changed=served != before)
    if steps is not None:
        err.details['steps'] = steps


# --- weights: pure logic shared by every weighted backend ----------------------------------------------------------

def validate_weights(wanted, current, describe=str, total=100):
    """Check the weights asked for against the destinations that exist.

    ``wanted``: ``[(key, weight)]`` as asked; ``current``: ``[(key, weight)]`` in
    the platform's order. Returns the new ``[(key, weight)]`` in that order; a
    destination not named gets weight 0, as the named weights already add up to
    ``total``. ``describe(key)`` names a destination in messages.
    """
    if not wanted:
        raise InvalidInputError('weights is empty: name at least one destination and its weight. Nothing was changed.')
    known = [key for key, _weight in current]
    named = {}
    for key, weight in wanted:
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= total:
            raise InvalidInputError('The weight of {0} is {1!r}; a weight is a whole number from 0 to {2}. Nothing '
                                    'was changed.'.format(describe(key), weight, total))
        if key in named:
            raise InvalidInputError('{0} is named twice in weights; name each destination once. Nothing was '
                                    'changed.'.format(describe(key)))
        if key not in known:
            raise InvalidInputError('{0} is not a destination of this route (it has: {1}). Name the destinations '
                                    'as the route does. Nothing was changed.'.format(
                                        describe(key), ', '.join(describe(k) for k in known) or 'none'))
        named[key] = weight
    if sum(named.values()) != total:
        raise InvalidInputError('The weights add up to {0}, not {1}: {2}. Nothing was changed.'.format(
            sum(named.values()), total, ', '.join('{0}={1}'.format(describe(k), w) for k, w in named.items())))
    return [(key, named.get(key, 0)) for key in known]


def parse_steps(steps):
    """``steps`` as sorted percentages that end with 100, or an error saying what is wrong."""
    steps = list(steps or [])
    if any(isinstance(s, bool) or not isinstance(s, int) or not 0 < s <= 100 for s in steps) or \
            steps != sorted(set(steps)):
        raise InvalidInputError('steps must be increasing percentages from 1 to 100, for example [10, 25, 50, 100]; '
                                'got {0}. Nothing was changed.'.format(steps))
    return steps if steps and steps[-1] == 100 else steps + [100]


def step_weights(before, after, steps):
    """The weights a gradual switch goes through: at each step, that percentage of the way from
    ``before`` to ``after`` (both ``[(key, weight)]`` in the same order), rounded to whole numbers
    without changing their sum; a step that would not move anything is left out."""
    stages = []
    previous = [w for _key, w in before]
    for percent in parse_steps(steps):
        exact = [b + (a - b) * percent / 100.0 for (_k, b), (_k2, a) in zip(before, after)]
        weights = _apportion(exact)
        if weights != previous:
            stages.append([(key, weight) for (key, _w), weight in zip(before, weights)])
            previous = weights
    return stages


def _apportion(exact):
    """Whole numbers near ``exact`` with the same (rounded) sum: largest remainders first, ties in order."""
    floors = [int(x) for x in exact]
    left = int(round(sum(exact))) - sum(floors)
    by_remainder = sorted(range(len(exact)), key=lambda i: (floors[i] - exact[i], i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return floors
