# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release ledger of an ECS service, in the service's tags.

A tag value holds at most 256 characters of letters, digits, spaces and
``+ - = . _ : / @``, so JSON does not fit. Each version gets one tag,
``ops.rollback/verdict/<version>`` = ``<verdict> <time> <note>``: the newest
verdict of a version replaces the older one in the same write, and the note
keeps only the characters a tag allows. A resource holds 50 tags, the user's
own included, so the ledger keeps the newest ``MAX_VERDICTS`` versions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import VERDICTS, Ledger
from ansible_collections.ops.rollback.plugins.module_utils._common.version import IMAGE

TAG_PREFIX = 'ops.rollback/verdict/'
MAX_VERDICTS = 20
MAX_KEY = 128
MAX_VALUE = 256
_NOT_IN_TAGS = re.compile(r'[^\w\s+\-=.:/@]', re.UNICODE)


class TagLedger(Ledger):
    """Verdicts as tags of an ``EcsService`` (read with its tags)."""

    version_syntax = IMAGE

    def __init__(self, service):
        self.service = service

    def entries(self):
        entries = []
        for key, value in self.service.tags().items():
            if not key.startswith(TAG_PREFIX):
                continue
            state, _sp, rest = value.partition(' ')
            at, _sp, note = rest.partition(' ')
            if state in VERDICTS:   # a tag someone else edited into nonsense is not a verdict
                entries.append({'version': key[len(TAG_PREFIX):], 'state': state, 'at': at, 'note': note})
        return sorted(entries, key=lambda e: (e['at'], e['version']))

    def _append(self, entries):
        tags = {}
        for entry in entries:
            key = TAG_PREFIX + entry['version']
            if len(key) > MAX_KEY:
                raise InvalidInputError(
                    'Version {0} is too long for the ledger in the tags of {1} (a tag key holds {2} characters). '
                    'Name it by its tag or digest. Nothing was changed.'.format(entry['version'], self.service, MAX_KEY))
            note = _NOT_IN_TAGS.sub(' ', entry['note'] or '')
            tags[key] = '{0} {1} {2}'.format(entry['state'], entry['at'], note).strip()[:MAX_VALUE]
        self.service.set_tags(tags)
        kept = set(e['version'] for e in self.entries()[-MAX_VERDICTS:])
        self.service.remove_tags([TAG_PREFIX + e['version'] for e in self.entries() if e['version'] not in kept])
