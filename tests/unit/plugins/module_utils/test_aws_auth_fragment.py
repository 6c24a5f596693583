# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS connection options are documented as the code takes them: the doc fragment every AWS
module extends says exactly the names, aliases, types and defaults of AWS_AUTH_SPEC."""
from __future__ import annotations

import yaml

from ansible_collections.ops.rollback.plugins.doc_fragments._aws_auth import ModuleDocFragment
from ansible_collections.ops.rollback.plugins.module_utils.aws.client import AWS_AUTH_SPEC


def test_the_fragment_documents_every_option_as_the_spec_takes_it():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    assert sorted(documented) == sorted(AWS_AUTH_SPEC)
    for name, spec in AWS_AUTH_SPEC.items():
        doc = documented[name]
        assert doc['type'] == spec['type'], name
        assert doc.get('aliases', []) == spec.get('aliases', []), name
        assert doc.get('default') == spec.get('default'), name
        # Every environment variable the option falls back to is named in its description.
        for variable in (spec['fallback'][1] if 'fallback' in spec else []):
            assert 'E({0})'.format(variable) in ' '.join(doc['description']), (name, variable)


def test_secrets_are_never_logged():
    assert [name for name, spec in AWS_AUTH_SPEC.items() if spec.get('no_log')] == ['secret_key', 'session_token']
