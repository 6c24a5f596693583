# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A release tree the module tests run against."""
from __future__ import annotations

import os

import pytest


@pytest.fixture
def app(tmp_path):
    """Releases v1.2.9 and v1.3.0, both complete; current -> v1.3.0."""
    for version in ('v1.2.9', 'v1.3.0'):
        (tmp_path / 'releases' / version).mkdir(parents=True)
        (tmp_path / 'releases' / version / 'REVISION').write_text('x')
    os.symlink('releases/v1.3.0', str(tmp_path / 'current'))
    return tmp_path
