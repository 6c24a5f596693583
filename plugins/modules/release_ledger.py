#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: release_ledger
short_description: Record which releases were verified good and which were rolled back from
version_added: "0.1.0"
description:
  - The release ledger is the record that gives C(previous) its meaning. The previous version of a service is the
    newest earlier version recorded as verified good, not merely the second-newest release.
  - Deploy pipelines call this module with O(state=good) once a release has passed verification. The
    C(ops.rollback.symlink) role records the rollback target as V(good) and the version it left as V(bad).
  - For symlinked releases the ledger is a JSON file beside the releases, so every controller and AWX job sees the
    same record. Writes are atomic (a new file renamed over the old one) and serialised with a lock file.
  - The newest verdict for a version wins; recording the verdict a version already has changes nothing.
author: ops.rollback maintainers (!UNKNOWN)
options:
  path:
    description: Application root that holds the releases and the ledger file.
    type: path
    required: true
  version:
    description: Version to record a verdict for, as named in the releases directory. Required unless O(state=query).
    type: str
  state:
    description:
      - V(good) records the version as verified good, V(bad) as rolled back from.
      - V(query) only reads the ledger.
    type: str
    choices: [good, bad, query]
    default: query
  rolled_back_from:
    description:
      - With O(state=good), the version a rollback left. It is recorded as V(bad) in the same write, so the ledger
        never holds half of a rollback.
    type: str
  note:
    description: Free text stored with the verdict, such as the pipeline run or the incident id.
    type: str
  ledger_file:
    description: Name of the ledger file under O(path).
    type: str
    default: rollback-ledger.json
extends_documentation_fragment:
  - ops.rollback._attributes
  - ops.rollback._attributes.action_group_release
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: ops.rollback.release_switch
"""

EXAMPLES = r"""
- name: Mark the release that just passed verification as good
  ops.rollback.release_ledger:
    path: /srv/demo
    version: v1.2.9
    state: good
    note: "pipeline run 4711"

- name: Record a verified rollback from v1.3.0 to v1.2.9
  ops.rollback.release_ledger:
    path: /srv/demo
    version: v1.2.9
    state: good
    rolled_back_from: v1.3.0
    note: "INC-2041: error rate 8%"

- name: Read the ledger
  ops.rollback.release_ledger:
    path: /srv/demo
  register: ledger
"""

RETURN = r"""
good:
  description: Versions whose newest verdict is V(good), after the task.
  returned: always
  type: list
  elements: str
  sample: [v1.2.8, v1.2.9]
bad:
  description: Versions whose newest verdict is V(bad), after the task.
  returned: always
  type: list
  elements: str
  sample: [v1.3.0]
entries:
  description: The whole history, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    version:
      description: Version the verdict is about.
      type: str
      sample: v1.2.9
    state:
      description: V(good) or V(bad).
      type: str
      sample: good
    at:
      description: When it was recorded (UTC, ISO 8601).
      type: str
      sample: "2026-11-23T03:12:45Z"
    note:
      description: The note given with it.
      type: str
      sample: pipeline run 4711
"""

from ansible_collections.ops.rollback.plugins.module_utils._common.ledger import BAD, GOOD
from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils.release.ledger import DEFAULT_LEDGER_FILE, FileLedger


def argument_spec():
    return dict(
        path=dict(type='path', required=True),
        version=dict(type='str'),
        state=dict(type='str', default='query', choices=[GOOD, BAD, 'query']),
        rolled_back_from=dict(type='str'),
        note=dict(type='str'),
        ledger_file=dict(type='str', default=DEFAULT_LEDGER_FILE),
    )


STATE_OPTIONS = {
    'version': [GOOD, BAD],
    'rolled_back_from': [GOOD],
    'note': [GOOD, BAD],
}


def record(module):
    params = module.params
    ledger = FileLedger.beside(params['path'], params['ledger_file'])
    wanted = []
    if params['state'] != 'query':
        wanted.append((params['version'], params['state']))
        if params['rolled_back_from'] and params['rolled_back_from'] != params['version']:
            wanted.append((params['rolled_back_from'], BAD))
    return ledger.record_all(wanted, note=params['note'], check_mode=module.check_mode)


def main():
    run_module(argument_spec(), record, state_options=STATE_OPTIONS,
               required_if=[('state', GOOD, ['version']), ('state', BAD, ['version'])])


if __name__ == '__main__':
    main()
