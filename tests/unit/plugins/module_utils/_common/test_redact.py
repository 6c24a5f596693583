# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets in URLs: what is masked, what stays readable, and what goes into no_log_values."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.redact import (
    MIN_SECRET_LENGTH,
    mask_data,
    mask_url,
    mask_urls,
    secret_values,
    url_no_log_values,
)

SECRETS = ('hunter2', 's3cr3t', 'Zq7', 'p#ss', 'pa/ss', 'xyz-token-0123456789')


@pytest.mark.parametrize('url, shown', [
    pytest.param('http://ops:hunter2@127.0.0.1:8000/health?token=s3cr3t&x=Zq7',
                 'http://ops:********@127.0.0.1:8000/health?token=********&x=********', id='userinfo-and-query'),
    pytest.param('http://127.0.0.1:8000/health?token=s3cr3t', 'http://127.0.0.1:8000/health?token=********',
                 id='query-only'),
    pytest.param('https://ops:hunter2@[::1]:8443/ready', 'https://ops:********@[::1]:8443/ready', id='ipv6-port'),
    pytest.param('HTTPS://Ops:hunter2@Shop.Example:8443/Ready', 'HTTPS://Ops:********@Shop.Example:8443/Ready',
                 id='case-kept'),
    pytest.param('http://ops@127.0.0.1/health', 'http://ops@127.0.0.1/health', id='user-without-password'),
    pytest.param('http://ops:@127.0.0.1/health', 'http://ops:@127.0.0.1/health', id='empty-password'),
    pytest.param('http://h/health?verbose&token=&full=1', 'http://h/health?verbose&token=&full=********',
                 id='key-without-value-kept'),
    pytest.param('http://h/health?q=a%20b+c&token=xyz-token-0123456789', 'http://h/health?q=********&token=********',
                 id='encoded-values'),
    pytest.param('http://h/health?email=ops@example.com', 'http://h/health?email=********', id='at-in-query'),
    pytest.param('http://h/health#access_token=xyz-token-0123456789', 'http://h/health#access_token=********',
                 id='fragment-values'),
    pytest.param('http://h/docs#section', 'http://h/docs#section', id='plain-fragment'),
    # A password with an unencoded # or / would end the host early for urlsplit; it is masked whole anyway.
    pytest.param('http://ops:p#ss@127.0.0.1:8000/health?token=s3cr3t',
                 'http://ops:********@127.0.0.1:8000/health?token=********', id='hash-in-password'),
    pytest.param('http://ops:pa/ss@127.0.0.1:8000/health', 'http://ops:********@127.0.0.1:8000/health',
                 id='slash-in-password'),
    pytest.param('http://[::1/health?token=s3cr3t', 'http://[::1/health?token=********', id='unbalanced-ipv6'),
    pytest.param('127.0.0.1:8000/health?token=s3cr3t', '127.0.0.1:8000/health?token=********', id='no-scheme'),
    pytest.param('http://127.0.0.1:8000/health', 'http://127.0.0.1:8000/health', id='nothing-to-mask'),
])
def test_mask_url_keeps_what_tells_endpoints_apart(url, shown):
    assert mask_url(url) == shown
    assert mask_url(shown) == shown
    for secret in SECRETS:
        assert secret not in shown


def test_mask_urls_in_text_keeps_the_sentence():
    text = ('Health check failed for 2 of 2 endpoints: http://ops:hunter2@127.0.0.1:8000/health?token=s3cr3t: '
            "status 500; (see 'https://h/ready?key=xyz-token-0123456789'). Done at http://h/plain.")
    assert mask_urls(text) == (
        'Health check failed for 2 of 2 endpoints: http://ops:********@127.0.0.1:8000/health?token=********: '
        "status 500; (see 'https://h/ready?key=********'). Done at http://h/plain.")


def test_mask_data_masks_every_string_in_nested_data():
    data = {'args': {'endpoints': [{'url': 'http://ops:hunter2@h/health', 'status': [200]}]},
            'http://h/?token=s3cr3t': ('http://h/?key=xyz-token-0123456789', 3, None, True)}
    assert mask_data(data) == {'args': {'endpoints': [{'url': 'http://ops:********@h/health', 'status': [200]}]},
                               'http://h/?token=********': ['http://h/?key=********', 3, None, True]}


def test_no_log_values_short_secrets_only_in_their_context():
    """A secret of MIN_SECRET_LENGTH characters or more is registered alone, written and decoded; a shorter
    one only with the text around it, so a no_log value never blanks a word such as 1, json or v1.2.9."""
    params = {'endpoints': [{'url': 'http://ops:hunter2@h/health?full=1&format=json&key=xyz%2Dtoken%2D0123456789'},
                            {'url': 'http://h/ready?version=v1.2.9&long=abcdefgh'}],
              'note': 'see https://ops:longpassword@h/ for details', 'retries': 3}
    assert MIN_SECRET_LENGTH == 8
    assert url_no_log_values(params) == {
        ':hunter2@', 'full=1', 'format=json', 'version=v1.2.9',
        'xyz%2Dtoken%2D0123456789', 'xyz-token-0123456789', 'abcdefgh', 'longpassword'}


def test_secret_values_are_the_long_ones():
    assert secret_values('http://ops:hunter2@h/health?a=abcdefgh&b=1') == {'abcdefgh'}
    assert secret_values('http://ops:longpassword@h/health') == {'longpassword'}
