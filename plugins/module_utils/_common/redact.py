# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets in URLs: mask them in what we show, and list them for ``no_log_values``.

A health endpoint may carry credentials in its URL: the password of a
``user:password@`` userinfo, or a token in the query string
(``?token=...``). ``mask_url`` keeps what an SRE needs to tell which endpoint
it is (scheme, user name, host, port, path, query keys) and replaces the
password and every query value with Ansible's ``********``::

    http://ops:hunter2@127.0.0.1:8000/health?token=s3cr3t&full=1
    http://ops:********@127.0.0.1:8000/health?token=********&full=********

The fragment is treated like the query (``#access_token=...``). A query part
without ``=`` (``?verbose``) is a key without a value and is kept.

Standard library only: this runs on managed hosts (module_utils) and on the
controller (the timeline callback).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from urllib.parse import unquote, unquote_plus, urlsplit

# Ansible's own placeholder for no_log values, so masked text looks the same everywhere.
MASK = '********'

# The shortest secret registered on its own as a no_log value. AnsibleModule
# masks a no_log value wherever it occurs in the output, so a short one would
# mask unrelated text: a query value such as 1, ok, json, true, prod or v1.2.9
# would blank it in every message and every return value (a version in
# to_version, which later tasks read). A secret of 8 characters or more is
# masked wherever it appears (also when a server echoes it); a shorter one is
# registered only with the text around it in the URL (token=ab, :pw@), which
# masks it in the URL as given without matching anything else.
MIN_SECRET_LENGTH = 8

# An http(s) URL inside any text; quotes and angle brackets end it (repr of a
# dict, HTML), and trailing punctuation of the sentence around it is dropped
# (see _urls_in).
_URL_IN_TEXT = re.compile(r"""https?://[^\s'"<>`]+""", re.IGNORECASE)
_TRAILING = '.,:;!?)]}'
_SCHEME = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*://')
# host[:port] as urlsplit leaves it when the URL is sound: a name or [IPv6], then digits after one colon.
_HOST_PORT = re.compile(r'^(?:\[[^\]]*\]|[^:\[\]]*)(?::[0-9]*)?$')


def mask_url(url):
    """``url`` with its userinfo password and every query (and fragment) value replaced by ``********``."""
    if not isinstance(url, str):
        return url
    pieces = _split(url)
    userinfo = pieces['userinfo']
    shown = pieces['scheme']
    if userinfo is not None:
        user, colon, password = userinfo.partition(':')
        shown += (user + ':' + MASK if colon and password else userinfo) + '@'
    shown += pieces['hostpath']
    if pieces['query']:
        shown += '?' + _mask_pairs(pieces['query'])
    if pieces['fragment']:
        shown += '#' + _mask_pairs(pieces['fragment'])
    return shown


def mask_urls(text):
    """``text`` with every http(s) URL in it shown by ``mask_url``."""
    if not isinstance(text, str) or '://' not in text:
        return text
    return _URL_IN_TEXT.sub(_mask_match, text)


def mask_data(value):
    """A copy of ``value`` (nested dicts, lists, strings) with every URL in every string masked, keys included."""
    if isinstance(value, str):
        return mask_urls(value)
    if isinstance(value, dict):
        return dict((mask_urls(key), mask_data(item)) for key, item in value.items())
    if isinstance(value, (list, tuple, set)):
        return [mask_data(item) for item in value]
    return value


def url_secrets(url):
    """The secrets of ``url``: ``(as_written, decoded, context)`` for its password and each query or fragment value.

    ``decoded`` is the value as the server receives it (percent-decoding, and
    ``+`` as a space in the query); ``context`` is the text around it in the
    URL that identifies it (``:password@``, ``key=value``).
    """
    pieces = _split(url)
    found = []
    if pieces['userinfo'] is not None:
        _user, colon, password = pieces['userinfo'].partition(':')
        if colon and password:
            found.append((password, unquote(password), ':' + password + '@'))
    for text in (pieces['query'], pieces['fragment']):
        for part in text.split('&'):
            _key, equals, value = part.partition('=')
            if equals and value:
                found.append((value, unquote_plus(value), part))
    return found


def secret_values(url):
    """The secrets of ``url`` long enough to be masked wherever they appear (see ``MIN_SECRET_LENGTH``)."""
    values = set()
    for written, decoded, _context in url_secrets(url):
        values.update(value for value in (written, decoded) if len(value) >= MIN_SECRET_LENGTH)
    return values


def url_no_log_values(data):
    """What to add to ``module.no_log_values`` for every URL in every string of ``data`` (a module's params).

    A secret of ``MIN_SECRET_LENGTH`` characters or more is added as written
    and decoded; a shorter one only with its context (``token=ab``), so it is
    masked in the URL without masking unrelated text.
    """
    values = set()
    for url in _urls_in(data):
        for written, decoded, context in url_secrets(url):
            long_enough = [value for value in (written, decoded) if len(value) >= MIN_SECRET_LENGTH]
            values.update(long_enough or [context])
    return values


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _mask_match(match):
    url = match.group(0).rstrip(_TRAILING)
    return mask_url(url) + match.group(0)[len(url):]


def _mask_pairs(text):
    parts = []
    for part in text.split('&'):
        key, equals, value = part.partition('=')
        parts.append(key + '=' + MASK if equals and value else part)
    return '&'.join(parts)


def _urls_in(data):
    if isinstance(data, str):
        for match in _URL_IN_TEXT.finditer(data):
            yield match.group(0).rstrip(_TRAILING)
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _urls_in(key)
            yield from _urls_in(value)
    elif isinstance(data, (list, tuple, set)):
        for item in data:
            yield from _urls_in(item)


def _split(url):
    """The pieces of ``url``: ``scheme`` (with ``://``, or ``''``), ``userinfo`` (``None`` without ``@``),
    ``hostpath`` (host, port and path), ``query`` and ``fragment``.

    A sound URL is split by ``urllib.parse.urlsplit``. A password with an
    unencoded ``/``, ``?`` or ``#`` (``http://ops:p#ss@host``) makes urlsplit
    end the host early, at something that is no port; then, as Ansible's own
    log sanitizer does, everything up to the last ``@`` is the userinfo, so
    the password is still masked whole.
    """
    scheme = _SCHEME.match(url)
    prefix = scheme.group(0) if scheme else ''
    rest = url[len(prefix):]
    try:
        parts = urlsplit('//' + rest)
    except ValueError:  # an unbalanced [ or ] around an IPv6 address
        parts = None
    if parts is not None:
        userinfo, at, hostport = parts.netloc.rpartition('@')
        if _HOST_PORT.match(hostport):
            return dict(scheme=prefix, userinfo=userinfo if at else None, hostpath=hostport + parts.path,
                        query=parts.query, fragment=parts.fragment)
    userinfo, at, after = rest.rpartition('@')
    if at:
        pieces = _split(prefix + after)
        pieces['userinfo'] = userinfo
        return pieces
    before, _hash, fragment = rest.partition('#')
    hostpath, _mark, query = before.partition('?')
    return dict(scheme=prefix, userinfo=None, hostpath=hostpath, query=query, fragment=fragment)
