# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.ops.rollback`` importable for the unit tests.

The checkout is exposed as an installed collection through
``<repo>/.collections/ansible_collections/ops/rollback -> ../../..``
(scripts/setup.sh makes it; it is created here too when missing).
"""

from __future__ import annotations

import os
import sys

_REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
_COLLECTIONS = os.path.join(_REPO, '.collections')
_LINK = os.path.join(_COLLECTIONS, 'ansible_collections', 'ops', 'rollback')

if not os.path.lexists(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(os.path.join('..', '..', '..'), _LINK)

if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
