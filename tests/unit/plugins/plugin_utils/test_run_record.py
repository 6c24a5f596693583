# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run did per service, as the report phase reads it; and which services use a setting."""
from __future__ import annotations

from ansible_collections.ops.rollback.plugins.plugin_utils.plan import service_settings
from ansible_collections.ops.rollback.plugins.plugin_utils.run_record import backup_records, service_records

SERVICES = {'demo': {'platform': 'symlink', 'hosts': ['lab1', 'lab2']},
            'shop': {'platform': 'symlink', 'hosts': ['shop1']}}
DB = {'engine': 'postgresql', 'db': 'orders', 'dest': '/b'}


def test_settings_come_from_each_service_lead_host_and_only_for_services_that_move():
    hostvars = {'lab1': {'rollback_databases': [DB]}, 'lab2': {}, 'shop1': {'rollback_databases': []}}
    assert service_settings(SERVICES, hostvars, 'rollback_databases') == {'demo': [DB]}
    moving = {'demo': {'version': 'v1', 'current': ['v2', 'v1']}}
    still = {'demo': {'version': 'v1', 'current': ['v1']}}
    assert service_settings(SERVICES, hostvars, 'rollback_databases', moving) == {'demo': [DB]}
    assert service_settings(SERVICES, hostvars, 'rollback_databases', still) == {}
    assert service_settings(SERVICES, hostvars, 'rollback_databases', {}) == {}


def test_backups_pair_each_dump_with_its_verification():
    dumps = [
        {'item': [{'key': 'demo'}, DB], 'path': '/b/orders-1.dump', 'size': 10, 'sha256': 'ab'},
        {'item': [{'key': 'demo'}, dict(DB, db='users')], 'failed': True, 'msg': 'database users does not exist'},
        {'item': [{'key': 'shop'}, DB], 'path': '/b/orders-2.dump', 'size': 12, 'sha256': 'cd'},
    ]
    verifications = [{'item': dumps[0]}, {'item': dumps[2], 'failed': True, 'msg': 'checksum differs'}]
    records = backup_records(dumps, verifications)
    assert [(b['db'], b['verified'], b['error']) for b in records['demo']] == [
        ('orders', True, None), ('users', False, 'database users does not exist')]
    assert records['demo'][1]['path'] == ''
    assert records['shop'][0]['verified'] is False and records['shop'][0]['error'] == 'checksum differs'
    # Check mode: dumped (planned), not verified.
    assert backup_records(dumps[:1], [])['demo'][0]['verified'] is None


def test_service_records_leave_a_phase_that_did_not_run_empty():
    hosts = [{'inventory_hostname': 'lab1', 'verify_health': {'endpoints': [
        {'url': 'http://127.0.0.1:8000/health', 'ok': True, 'status': 200, 'latency_ms': 4}]}},
        {'inventory_hostname': 'lab2'}, {'inventory_hostname': 'shop1'}]
    targets = {'demo': {'version': 'v1.2.9', 'current': ['v1.3.0'], 'rolled_back_from': 'v1.3.0'}}
    decisions = {'demo': {'decision': 'rollback_now', 'proceed': True, 'message': 'm', 'reasons': ['r'],
                          'forced': False, 'invocation': {}}}
    records = service_records(SERVICES, hosts, targets, decisions=decisions)
    demo, shop = records['demo'], records['shop']
    assert (demo['from_version'], demo['to_version']) == ('v1.3.0', 'v1.2.9')
    assert demo['decision'] == {'decision': 'rollback_now', 'proceed': True, 'message': 'm', 'reasons': ['r'],
                                'forced': False}
    assert demo['checks'] == [{'name': 'lab1 http://127.0.0.1:8000/health',
                               'after': {'status': 200, 'latency_ms': 4}, 'passed': True}]
    assert shop == {'from_version': None, 'to_version': None, 'decision': {}, 'migrations': {}, 'backups': [],
                    'checks': [], 'notifications': [], 'deployment_record_updated': False}
    verdicts = {'demo': {'state': 'done'}, 'shop': {'state': 'failed'}}
    records = service_records(SERVICES, hosts, targets, verdicts=verdicts)
    assert records['demo']['deployment_record_updated'] and not records['shop']['deployment_record_updated']


def test_metric_gates_show_the_values_before_the_rollback_beside_the_gate_values():
    def gate(values, status='Successful'):
        return {'results': [{'item': {'key': 'demo'}, 'status': status, 'report_checks': [
            {'name': 'error_ratio', 'before': values[0], 'after': values[1], 'threshold': 'max 0.05',
             'passed': status == 'Successful'}]}]}
    hosts = [{'inventory_hostname': 'lab1', 'prepare_traffic_metrics_before': gate((0.33, 0.33), 'Failed'),
              'verify_metrics': gate((0.0, 0.01))}, {'inventory_hostname': 'lab2'}]
    services = {'demo': {'platform': 'symlink', 'hosts': ['lab1', 'lab2']}}
    [check] = service_records(services, hosts, {'demo': {'version': 'v1'}})['demo']['checks']
    assert check == {'name': 'metrics error_ratio', 'before': 0.33, 'after': 0.01, 'threshold': 'max 0.05',
                     'passed': True}
    # A run that stopped before verify still shows the values before.
    del hosts[0]['verify_metrics']
    [check] = service_records(services, hosts, {'demo': {'version': 'v1'}})['demo']['checks']
    assert (check['before'], check['after'], check['passed']) == (0.33, None, None)
