# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options are documented as the code takes them: the doc fragment every AWS or Docker
module extends says exactly the names, aliases, types and defaults of AWS_AUTH_SPEC or DOCKER_CONN_SPEC,
and which of them are secret."""
from __future__ import annotations

import pytest
import yaml

from ansible_collections.ops.rollback.plugins.doc_fragments import _aws_auth, _docker_conn
from ansible_collections.ops.rollback.plugins.module_utils.aws.client import AWS_AUTH_SPEC
from ansible_collections.ops.rollback.plugins.module_utils.docker.client import DOCKER_CONN_SPEC

FRAGMENTS = [
    pytest.param(_aws_auth.ModuleDocFragment, AWS_AUTH_SPEC, ['secret_key', 'session_token'], id='aws'),
    # The Docker client key is a path to a file, not the key itself.
    pytest.param(_docker_conn.ModuleDocFragment, DOCKER_CONN_SPEC, [], id='docker'),
]


@pytest.mark.parametrize('fragment, spec, secrets', FRAGMENTS)
def test_the_fragment_documents_every_option_as_the_spec_takes_it(fragment, spec, secrets):
    documented = yaml.safe_load(fragment.DOCUMENTATION)['options']
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        doc = documented[name]
        assert doc['type'] == option['type'], name
        assert doc.get('aliases', []) == option.get('aliases', []), name
        assert doc.get('default') == option.get('default'), name
        # Every environment variable the option falls back to is named in its description.
        for variable in (option['fallback'][1] if 'fallback' in option else []):
            assert 'E({0})'.format(variable) in ' '.join(doc['description']), (name, variable)
    assert [name for name, option in spec.items() if option.get('no_log')] == secrets
