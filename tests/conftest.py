# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.ops.rollback`` importable for every test.

The checkout is exposed as an installed collection through
``<repo>/.collections/ansible_collections/ops/rollback -> ../../..``
(scripts/setup.sh makes it; it is created here too when missing).
"""

from __future__ import annotations

import json
import os
import sys

import pytest

_REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
_COLLECTIONS = os.path.join(_REPO, '.collections')
_LINK = os.path.join(_COLLECTIONS, 'ansible_collections', 'ops', 'rollback')

if not os.path.lexists(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(os.path.join('..', '..', '..'), _LINK)

if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)


@pytest.fixture
def run_module(capsys, monkeypatch):
    """Run a module's main() with these arguments; return (exit code, result)."""
    from ansible.module_utils import _internal
    from ansible.module_utils.common import warnings
    from ansible.module_utils.testing import patch_module_args

    # A module runs apart from the controller. Once any test imported controller code (a filter, an
    # action plugin), ansible-core flags this process as the controller for good, and a module's
    # warnings would go to the controller's display instead of its result.
    monkeypatch.setattr(_internal, 'is_controller', False)

    def run(main, args):
        # Warnings are collected per process: without this, a run would report the last one's too.
        warnings._global_warnings.clear()
        warnings._global_deprecations.clear()
        with patch_module_args(args):
            with pytest.raises(SystemExit) as caught:
                main()
        return caught.value.code, json.loads(capsys.readouterr().out)

    return run
