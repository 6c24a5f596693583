# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cdn_invalidate against moto's CloudFront over HTTP: the invalidation CloudFront holds
afterwards, made once per caller reference, nothing made in check mode or on bad input.
moto reports invalidations COMPLETED at once (AWS says Completed, after a while): the
module compares the status in any case, which these tests prove through moto's spelling."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.modules import cdn_invalidate


@pytest.fixture
def distribution(moto):
    cloudfront = moto.client('cloudfront')
    config = {
        'CallerReference': 'shop-web', 'Comment': 'shop', 'Enabled': True,
        'Origins': {'Quantity': 1, 'Items': [{'Id': 'web', 'DomainName': 'web.example.com',
                                              'CustomOriginConfig': {'HTTPPort': 80, 'HTTPSPort': 443,
                                                                     'OriginProtocolPolicy': 'http-only'}}]},
        'DefaultCacheBehavior': {'TargetOriginId': 'web', 'ViewerProtocolPolicy': 'allow-all',
                                 'MinTTL': 0, 'ForwardedValues': {'QueryString': False,
                                                                  'Cookies': {'Forward': 'none'}}},
    }
    return cloudfront.create_distribution(DistributionConfig=config)['Distribution']['Id']


def invalidations(moto, distribution):
    cloudfront = moto.client('cloudfront')
    items = cloudfront.list_invalidations(DistributionId=distribution)['InvalidationList'].get('Items') or []
    return [cloudfront.get_invalidation(DistributionId=distribution, Id=i['Id'])['Invalidation'] for i in items]


def args(moto, distribution, **extra):
    return dict(moto.params(), distribution_id=distribution, **extra)


def test_invalidates_the_paths_and_waits_until_completed(run_module, moto, distribution):
    paths = ['/static/*', '/index.html', '/index.html']
    rc, result = run_module(cdn_invalidate.main, args(moto, distribution, paths=paths))
    assert rc == 0 and result['changed'], result
    made = invalidations(moto, distribution)
    assert len(made) == 1 and made[0]['Id'] == result['id']
    assert sorted(made[0]['InvalidationBatch']['Paths']['Items']) == ['/index.html', '/static/*']
    assert result['status'].lower() == 'completed'


def test_a_caller_reference_makes_it_once(run_module, moto, distribution):
    first = run_module(cdn_invalidate.main, args(moto, distribution, paths=['/*'], caller_reference='INC-42'))[1]
    rc, second = run_module(cdn_invalidate.main, args(moto, distribution, paths=['/*'], caller_reference='INC-42'))
    assert rc == 0 and first['changed'] and not second['changed']
    assert second['id'] == first['id']
    assert len(invalidations(moto, distribution)) == 1
    # Another incident's reference is another invalidation.
    assert run_module(cdn_invalidate.main, args(moto, distribution, paths=['/*'], caller_reference='INC-43'))[1]['changed']
    assert len(invalidations(moto, distribution)) == 2


def test_check_mode_shows_the_plan_and_invalidates_nothing(run_module, moto, distribution):
    rc, result = run_module(cdn_invalidate.main, args(moto, distribution, paths=['/index.html'],
                                                      _ansible_check_mode=True, _ansible_diff=True))
    assert rc == 0 and result['changed']
    assert result['diff']['after'] == 'invalidate /index.html\n'
    assert invalidations(moto, distribution) == []


@pytest.mark.parametrize('paths, words', [
    (['index.html'], 'start with /'),
    ([], 'non-empty list'),
])
def test_bad_paths_are_refused_before_anything_is_invalidated(run_module, moto, distribution, paths, words):
    rc, result = run_module(cdn_invalidate.main, args(moto, distribution, paths=paths))
    assert rc == 1 and words in result['msg']
    assert invalidations(moto, distribution) == []


def test_an_unknown_distribution_is_named(run_module, moto):
    rc, result = run_module(cdn_invalidate.main, args(moto, 'E000NOSUCH', paths=['/*']))
    assert rc == 1
    assert 'There is no CloudFront distribution E000NOSUCH: check distribution_id=' in result['msg']


def test_the_secret_key_never_appears_in_the_result(run_module, moto, distribution):
    _rc, result = run_module(cdn_invalidate.main, args(moto, distribution, paths=['/*']))
    assert 'testing-secret' not in str(result)


def _in_progress_then(monkeypatch, moto, statuses):
    # moto completes at once; AWS's documented InProgress answers come from botocore's Stubber.
    from botocore.stub import Stubber

    from ansible_collections.ops.rollback.plugins.module_utils.aws import cloudfront
    from ansible_collections.ops.rollback.plugins.module_utils.aws.client import AwsClient
    monkeypatch.setattr(cloudfront, 'POLL_SECONDS', 1)
    invalidation = cloudfront.Invalidation(AwsClient.connect(**moto.params()), 'E2QWRUHAPOMQZL', ['/*'])
    stub = Stubber(invalidation.aws.client('cloudfront'))
    for status in statuses:
        stub.add_response('get_invalidation', {'Invalidation': {
            'Id': 'I1', 'Status': status, 'CreateTime': '2026-11-30T22:00:00Z',
            'InvalidationBatch': {'Paths': {'Quantity': 1, 'Items': ['/*']}, 'CallerReference': 'INC-1'}}})
    return invalidation, stub


def test_waits_while_in_progress_until_completed_as_aws_spells_it(monkeypatch, moto):
    invalidation, stub = _in_progress_then(monkeypatch, moto, ['InProgress', 'InProgress', 'Completed', 'Completed'])
    with stub:
        assert invalidation.wait('I1', timeout=10)['Status'] == 'Completed'
    stub.assert_no_pending_responses()


def test_an_invalidation_still_in_progress_at_the_timeout_fails_saying_so(monkeypatch, moto):
    from ansible_collections.ops.rollback.plugins.module_utils._common.errors import RollbackTimeoutError
    invalidation, stub = _in_progress_then(monkeypatch, moto, ['InProgress'] * 2)
    with stub, pytest.raises(RollbackTimeoutError, match='is still InProgress after 2 s') as caught:
        invalidation.wait('I1', timeout=2)
    assert caught.value.details == {'id': 'I1', 'status': 'InProgress'}
