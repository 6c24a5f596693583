# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ALB backend of ``lb_switch`` (module_utils/traffic/switch.py has the interface and the algorithm).

``ListenerWeights``: the weights of the forward action of an Application
Load Balancer listener's default actions, or of one of its rules, between
the target groups that action already forwards to (blue-green, canary).
The weights asked for add up to 100, as for Istio; a target group of the
action not named gets 0. Sending more traffic to a target group without a
healthy target is refused unless forced.

ELBv2 has no conditional write: the actions are written back whole, as they
were read, with only the weights changed, and read again to check them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
)
from ansible_collections.ops.rollback.plugins.module_utils.traffic.switch import (
    TrafficBackend,
    step_weights,
    validate_weights,
)

# At most this many targets are named in a refusal.
SHOWN_TARGETS = 5


def _pairs(state):
    return [(item['target_group_arn'], item['weight']) for item in state]


def target_states(health):
    """``describe_target_health`` descriptions as text: ``i-0abc: unhealthy (Target.Timeout)``."""
    if not health:
        return 'no targets registered'
    shown = []
    for item in health[:SHOWN_TARGETS]:
        state = item.get('TargetHealth') or {}
        reason = ' ({0})'.format(state['Reason']) if state.get('Reason') else ''
        shown.append('{0}: {1}{2}'.format(item['Target']['Id'], state.get('State', 'unknown'), reason))
    more = len(health) - SHOWN_TARGETS
    return ', '.join(shown) + (' and {0} more'.format(more) if more > 0 else '')


class ListenerWeights(TrafficBackend):
    """The forward weights of listener ``listener_arn`` (its default actions) or of its rule
    ``rule_arn``. ``weights``: ``[{target_group, weight}]``, a target group by ARN or name."""

    name = 'alb'

    def __init__(self, aws, listener_arn, weights, rule_arn=None):
        self.aws = aws
        self.listener_arn = listener_arn
        self.rule_arn = rule_arn
        self.weights = weights
        self._actions = None
        self._names = {}

    def describe(self):
        if self.rule_arn:
            return 'rule {0} of ALB listener {1}'.format(self.rule_arn, self.listener_arn)
        return 'ALB listener {0}'.format(self.listener_arn)

    def _describe_tg(self, arn):
        return self._names.get(arn, arn)

    def _read_actions(self):
        try:
            listener = self.aws.call('read ' + self.describe(), 'elbv2', 'describe_listeners',
                                     ListenerArns=[self.listener_arn])['Listeners'][0]
        except NotFoundError as err:
            raise NotFoundError('{0} Check listener_arn= (aws elbv2 describe-listeners --load-balancer-arn ...). '
                                'Nothing was changed.'.format(err.msg), code=err.details.get('code'))
        except RollbackError as err:
            # A malformed ARN is a ValidationError, not a not-found: the same advice applies.
            if err.details.get('code') != 'ValidationError':
                raise
            raise InvalidInputError('{0} Check listener_arn=. Nothing was changed.'.format(err.msg))
        if listener.get('Protocol') not in ('HTTP', 'HTTPS'):
            raise InvalidInputError('{0} is a {1} listener: only the HTTP and HTTPS listeners of an Application '
                                    'Load Balancer weigh target groups. Nothing was changed.'.format(
                                        self.describe(), listener.get('Protocol')))
        if not self.rule_arn:
            return listener['DefaultActions']
        try:
            rule = self.aws.call('read ' + self.describe(), 'elbv2', 'describe_rules',
                                 RuleArns=[self.rule_arn])['Rules'][0]
        except RollbackError as err:
            # Unknown (RuleNotFound) or malformed (ValidationError): the same advice.
            if not isinstance(err, NotFoundError) and err.details.get('code') != 'ValidationError':
                raise
            raise NotFoundError('{0} Check rule_arn= (aws elbv2 describe-rules --listener-arn {1}). Nothing was '
                                'changed.'.format(err.msg, self.listener_arn), code=err.details.get('code'))
        # A rule ARN contains its listener's id: a rule of another listener is a mistake in the inputs.
        if not self.rule_arn.replace(':listener-rule/', ':listener/').startswith(self.listener_arn + '/'):
            raise InvalidInputError('Rule {0} is not a rule of ALB listener {1}. Check rule_arn= and listener_arn=. '
                                    'Nothing was changed.'.format(self.rule_arn, self.listener_arn))
        return rule['Actions']

    def _forward(self, actions):
        forwards = [a for a in actions if a.get('Type') == 'forward']
        if not forwards:
            raise InvalidInputError('{0} does not forward to target groups (its actions: {1}), so it has no weights '
                                    'to set. Nothing was changed.'.format(
                                        self.describe(), ', '.join(a.get('Type', '?') for a in actions) or 'none'))
        return forwards[0]

    def _current(self, actions):
        forward = self._forward(actions)
        groups = (forward.get('ForwardConfig') or {}).get('TargetGroups')
        if groups:
            # AWS stores 1 for a target group given without a weight.
            return [(g['TargetGroupArn'], g.get('Weight', 1)) for g in groups]
        # A plain forward to one target group sends it all the traffic.
        return [(forward['TargetGroupArn'], 100)]

    def _state(self, pairs):
        return [dict(target_group=self._describe_tg(arn), target_group_arn=arn, weight=weight) for arn, weight in pairs]

    def read(self):
        self._actions = self._read_actions()
        current = self._current(self._actions)
        groups = self.aws.call('read the target groups of ' + self.describe(), 'elbv2', 'describe_target_groups',
                               TargetGroupArns=[arn for arn, _weight in current])['TargetGroups']
        self._names = dict((g['TargetGroupArn'], g['TargetGroupName']) for g in groups)
        return self._state(current)

    def _resolve(self, target_group, before):
        """The ARN of a target group of the forward action named by ARN or name."""
        for item in before:
            if target_group in (item['target_group_arn'], item['target_group']):
                return item['target_group_arn']
        raise InvalidInputError(
            'Target group {0} is not one that {1} forwards to (it forwards to: {2}). Name them by name or ARN; a '
            'target group is added to the forward action outside this module. Nothing was changed.'.format(
                target_group, self.describe(), ', '.join(item['target_group'] for item in before)))

    def plan(self, before):
        wanted = [(self._resolve(w.get('target_group'), before), w.get('weight')) for w in self.weights]
        return self._state(validate_weights(wanted, _pairs(before), describe=self._describe_tg))

    def stages(self, before, after, steps):
        return [self._state(s) for s in step_weights(_pairs(before), _pairs(after), steps)]

    def health(self, arn):
        return self.aws.call('read the health of the targets of target group ' + self._describe_tg(arn), 'elbv2',
                             'describe_target_health', TargetGroupArn=arn)['TargetHealthDescriptions']

    def preflight(self, before, after, force=False):
        """Refuse more traffic for a target group that has no healthy target; returns the healthy counts
        of the target groups that get more traffic."""
        healthy = {}
        old = dict(_pairs(before))
        for arn, weight in _pairs(after):
            if weight <= old[arn]:
                continue
            health = self.health(arn)
            healthy[self._describe_tg(arn)] = count = sum(
                1 for h in health if (h.get('TargetHealth') or {}).get('State') == 'healthy')
            if not count and not force:
                raise RollbackError(
                    'Refused to send more traffic to target group {0} through {1}: it has no healthy target ({2}), so '
                    'that traffic would fail. Register healthy targets and wait for the health checks to pass, or '
                    'pass force=true to switch anyway. Nothing was changed.'.format(
                        self._describe_tg(arn), self.describe(), target_states(health)),
                    backend=self.name, before=before, after=before, healthy_targets=healthy,
                    reason='no_healthy_targets')
        return {'healthy_targets': healthy}

    def _actions_for(self, state):
        actions = copy.deepcopy(self._actions)
        forward = self._forward(actions)
        stickiness = (forward.get('ForwardConfig') or {}).get('TargetGroupStickinessConfig')
        # With a ForwardConfig, TargetGroupArn may only be given for a single target group: leave it out.
        forward.pop('TargetGroupArn', None)
        forward['ForwardConfig'] = {'TargetGroups': [{'TargetGroupArn': arn, 'Weight': weight}
                                                     for arn, weight in _pairs(state)]}
        if stickiness:
            forward['ForwardConfig']['TargetGroupStickinessConfig'] = stickiness
        for action in actions:
            # AWS never returns an OIDC client secret; without this flag the write would need it again.
            oidc = action.get('AuthenticateOidcConfig')
            if oidc is not None and 'ClientSecret' not in oidc:
                oidc['UseExistingClientSecret'] = True
        return actions

    def apply(self, state, dry_run=False):
        if dry_run:
            # ELBv2 has no dry run: check mode stops at the plan, which read() and plan() validated.
            return
        what = 'set the weights of ' + self.describe()
        if self.rule_arn:
            self.aws.call(what, 'elbv2', 'modify_rule', RuleArn=self.rule_arn, Actions=self._actions_for(state))
        else:
            self.aws.call(what, 'elbv2', 'modify_listener', ListenerArn=self.listener_arn,
                          DefaultActions=self._actions_for(state))

    def verify(self, state):
        # Read back: another writer (a deployment tool, a colleague) could have set other weights meanwhile.
        self._actions = self._read_actions()
        stored = self._state(self._current(self._actions))
        if _pairs(stored) != _pairs(state):
            raise RollbackError('Set the weights of {0}, but it now has {1} instead of {2}. Something else writes this '
                                'listener; find it before running again.'.format(
                                    self.describe(), self.render(stored).strip().replace('\n', ', '),
                                    self.render(state).strip().replace('\n', ', ')))

    def render(self, state):
        return ''.join('{0}: {1}\n'.format(item['target_group'], item['weight']) for item in state)
