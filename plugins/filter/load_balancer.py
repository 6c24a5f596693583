# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the load balancer steps around each host's rollback; the logic lives in plugin_utils."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops.rollback.plugins.plugin_utils.filter_errors import filter_errors
from ansible_collections.ops.rollback.plugins.plugin_utils import load_balancer


@filter_errors
def rollback_lb_settings(host_vars, targets=None):
    found = load_balancer.settings(host_vars)
    if found is None:
        return {}
    found['moves'] = load_balancer.moves(host_vars, targets)
    return found


@filter_errors
def rollback_lb_plan(hosts_vars, inventory_hosts):
    return load_balancer.plan(list(hosts_vars), list(inventory_hosts))


@filter_errors
def rollback_lb_nginx_writes(hosts_vars, batch, targets, state):
    return load_balancer.nginx_writes(list(hosts_vars), list(batch), targets, state)


class FilterModule:
    def filters(self):
        return {
            'rollback_lb_settings': rollback_lb_settings,
            'rollback_lb_plan': rollback_lb_plan,
            'rollback_lb_nginx_writes': rollback_lb_nginx_writes,
        }
