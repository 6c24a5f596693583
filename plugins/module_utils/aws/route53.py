# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Route53 backend of ``lb_switch`` (module_utils/traffic/switch.py has the interface and the algorithm).

``RecordWeights``: the weights of the weighted record sets of one name and
type in a hosted zone. Route53 weights are relative (0 to 255, traffic in
proportion), not percentages, so they are taken as given; a record set not
named keeps its weight. All changes of one step go in one change batch, which
Route53 applies atomically, as UPSERTs of the record sets as read with only
their weight changed; then the change is waited on until it is INSYNC.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import (
    InvalidInputError,
    NotFoundError,
    RollbackError,
    RollbackTimeoutError,
)
from ansible_collections.ops.rollback.plugins.module_utils.traffic.switch import TrafficBackend, step_weights

try:
    import botocore.exceptions
except ImportError:   # the module reports boto3 missing
    pass

MAX_WEIGHT = 255
POLL_SECONDS = 10


def dns_name(name):
    """``name`` as Route53 lists it: lower case, with the final dot, ``*`` escaped."""
    name = name.strip().lower().replace('*', '\\052')
    return name if name.endswith('.') else name + '.'


def _pairs(state):
    return [(item['set_identifier'], item['weight']) for item in state]


def _state(pairs):
    return [dict(set_identifier=key, weight=weight) for key, weight in pairs]


class RecordWeights(TrafficBackend):
    """The weighted record sets named ``record_name`` of type ``record_type`` in the hosted zone
    ``hosted_zone_id`` (or named ``zone``). ``weights``: ``[{set_identifier, weight}]``."""

    name = 'route53'

    def __init__(self, aws, record_name, weights, hosted_zone_id=None, zone=None, record_type='A', wait=True,
                 wait_timeout=60):
        self.aws = aws
        self.record_name = dns_name(record_name)
        self.record_type = record_type
        self.weights = weights
        self.hosted_zone_id = hosted_zone_id.split('/')[-1] if hosted_zone_id else None
        self.zone = dns_name(zone) if zone else None
        self.wait = wait
        self.wait_timeout = wait_timeout
        self._records = None
        self._change_id = None

    def describe(self):
        return 'the weighted {0} records {1} in hosted zone {2}'.format(
            self.record_type, self.record_name, self.hosted_zone_id or self.zone)

    def _find_zone(self):
        if self.hosted_zone_id:
            try:
                zone = self.aws.call('read hosted zone ' + self.hosted_zone_id, 'route53', 'get_hosted_zone',
                                     Id=self.hosted_zone_id)['HostedZone']
            except NotFoundError as err:
                raise NotFoundError('{0} Check hosted_zone_id= (aws route53 list-hosted-zones). Nothing was '
                                    'changed.'.format(err.msg), code=err.details.get('code'))
            self.zone = zone['Name'].lower()
            return
        zones = self.aws.call('find hosted zone ' + self.zone, 'route53', 'list_hosted_zones_by_name',
                              DNSName=self.zone, MaxItems='10')['HostedZones']
        found = [z for z in zones if z['Name'].lower() == self.zone]
        if not found:
            raise NotFoundError('There is no hosted zone {0}. Check zone=, or pass hosted_zone_id=. Nothing was '
                                'changed.'.format(self.zone))
        if len(found) > 1:
            raise InvalidInputError('{0} hosted zones are named {1} ({2}): pass hosted_zone_id= to say which. Nothing '
                                    'was changed.'.format(len(found), self.zone, ', '.join(
                                        '{0} ({1})'.format(z['Id'].split('/')[-1], 'private' if (
                                            z.get('Config') or {}).get('PrivateZone') else 'public') for z in found)))
        self.hosted_zone_id = found[0]['Id'].split('/')[-1]

    def _read_records(self):
        """The weighted record sets of the name and type, in Route53's order."""
        records = []
        start = dict(StartRecordName=self.record_name, StartRecordType=self.record_type)
        while True:
            page = self.aws.call('list the records {0} of {1}'.format(self.record_name, self.hosted_zone_id),
                                 'route53', 'list_resource_record_sets', HostedZoneId=self.hosted_zone_id,
                                 MaxItems='100', **start)
            mine = [r for r in page['ResourceRecordSets']
                    if r['Name'].lower() == self.record_name and r['Type'] == self.record_type]
            records.extend(r for r in mine if 'Weight' in r and 'SetIdentifier' in r)
            # Listed in name and type order: the first other record ends the ones of this name and type.
            if len(mine) < len(page['ResourceRecordSets']) or not page.get('IsTruncated'):
                return records
            start = dict(StartRecordName=page['NextRecordName'], StartRecordType=page['NextRecordType'])
            if page.get('NextRecordIdentifier'):
                start['StartRecordIdentifier'] = page['NextRecordIdentifier']

    def read(self):
        self._find_zone()
        if not self.record_name == self.zone and not self.record_name.endswith('.' + self.zone):
            raise InvalidInputError('record_name {0} is not in hosted zone {1} ({2}). Give the full name, for '
                                    'example www.{2}. Nothing was changed.'.format(
                                        self.record_name, self.hosted_zone_id, self.zone))
        self._records = self._read_records()
        if not self._records:
            raise NotFoundError('Hosted zone {0} ({1}) has no weighted {2} records named {3}. Check record_name= '
                                'and record_type=. Nothing was changed.'.format(
                                    self.hosted_zone_id, self.zone, self.record_type, self.record_name))
        return _state((r['SetIdentifier'], r['Weight']) for r in self._records)

    def plan(self, before):
        if not self.weights:
            raise InvalidInputError('weights is empty: name at least one set_identifier and its weight. Nothing was '
                                    'changed.')
        known = [key for key, _weight in _pairs(before)]
        named = {}
        for item in self.weights:
            key, weight = item.get('set_identifier'), item.get('weight')
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
                raise InvalidInputError('The weight of {0} is {1!r}; a Route53 weight is a whole number from 0 to {2}. '
                                        'Nothing was changed.'.format(key, weight, MAX_WEIGHT))
            if key in named:
                raise InvalidInputError('{0} is named twice in weights; name each set_identifier once. Nothing was '
                                        'changed.'.format(key))
            if key not in known:
                raise InvalidInputError('{0} is not a set_identifier of {1} (it has: {2}). Nothing was changed.'.format(
                    key, self.describe(), ', '.join(known)))
            named[key] = weight
        # Record sets not named keep their weight.
        return _state((key, named.get(key, weight)) for key, weight in _pairs(before))

    def stages(self, before, after, steps):
        return [_state(s) for s in step_weights(_pairs(before), _pairs(after), steps)]

    def apply(self, state, dry_run=False):
        if dry_run:
            # Route53 has no dry run: check mode stops at the plan, which read() and plan() validated.
            return
        changes = []
        records = copy.deepcopy(self._records)
        for record, (key, weight) in zip(records, _pairs(state)):
            if record['Weight'] != weight:
                record['Weight'] = weight
                changes.append({'Action': 'UPSERT', 'ResourceRecordSet': record})
        if not changes:
            return
        change = self.aws.call('set the weights of ' + self.describe(), 'route53', 'change_resource_record_sets',
                               HostedZoneId=self.hosted_zone_id, ChangeBatch={
                                   'Comment': 'ops.rollback lb_switch', 'Changes': changes})['ChangeInfo']
        self._records = records
        self._change_id = change['Id']

    def verify(self, state):
        if self.wait and self._change_id:
            self._wait(self._change_id)
        # Read back: another writer could have changed these records meanwhile.
        stored = _state((r['SetIdentifier'], r['Weight']) for r in self._read_records())
        if stored != state:
            raise RollbackError('Set the weights of {0}, but they are now {1} instead of {2}. Something else writes '
                                'these records; find it before running again.'.format(
                                    self.describe(), self.render(stored).strip().replace('\n', ', '),
                                    self.render(state).strip().replace('\n', ', ')))

    def _wait(self, change_id):
        waiter = self.aws.client('route53').get_waiter('resource_record_sets_changed')
        try:
            waiter.wait(Id=change_id, WaiterConfig={'Delay': POLL_SECONDS,
                                                    'MaxAttempts': max(1, self.wait_timeout // POLL_SECONDS)})
        except botocore.exceptions.WaiterError as err:
            status = ((err.last_response or {}).get('ChangeInfo') or {}).get('Status')
            if status is None:
                raise RollbackError('Failed to wait for Route53 change {0} of {1}: {2}.'.format(
                    change_id, self.describe(), err), change_id=change_id)
            raise RollbackTimeoutError(
                'Route53 change {0} of {1} is still {2} after {3} s: some name servers may answer with the old '
                'weights until it is INSYNC. Watch it with aws route53 get-change --id {0}, or wait longer with '
                'wait_timeout=.'.format(change_id, self.describe(), status, self.wait_timeout), change_id=change_id)

    def render(self, state):
        return ''.join('{0}: {1}\n'.format(key, weight) for key, weight in _pairs(state))
