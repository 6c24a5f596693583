# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of rollback drills; the logic lives in module_utils/drill/scorecard.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.module_utils.drill.scorecard import drill_scorecard as _scorecard
from ansible_collections.ops.rollback.plugins.plugin_utils.filter_errors import filter_errors


@filter_errors
def drill_scorecard(times, load=None, name=None, not_measured=None):
    return _scorecard(times, load=load, name=name, not_measured=not_measured)


class FilterModule:
    def filters(self):
        return {'drill_scorecard': drill_scorecard}
