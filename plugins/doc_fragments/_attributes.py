# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private doc fragment: the ``attributes`` block every ops.rollback module documents.

How fragments merge (ansible.utils.plugin_docs.merge_fragment): for each attribute,
keys set in the module's own DOCUMENTATION win over the fragment's, and among
several fragments the first one listed wins. Therefore:

* ``ops.rollback._attributes`` (DOCUMENTATION) defines check_mode, diff_mode and
  idempotent with a description and ``support: full``. A module that supports
  less overrides ``support`` (and adds ``details``) in its own ``attributes:``.
* ``ops.rollback._attributes.read_only`` is complete on its own (descriptions
  included) for modules that change nothing. Use it *instead of* the base
  fragment; listed after the base, its ``support`` values would be ignored.
* ``ops.rollback._attributes.action_group_release`` / ``.action_group_verify`` /
  ``.action_group_k8s`` / ``.action_group_docker`` add the ``action_group`` attribute (groups from meta/runtime.yml); list them
  together with either of the above.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Base: descriptions plus a default of full support, overridable per module.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return a changed status prediction without modifying the target.
    support: full
  diff_mode:
    description: Returns details on what has changed (or would change in C(check_mode)) when run in diff mode.
    support: full
  idempotent:
    description:
      - When run twice in a row outside check mode with the same arguments, the second run reports no change.
      - This assumes that the system the module manages or queries has not changed in a relevant way in between.
    support: full
"""

    # Self-contained, for modules that only read (checks, _info modules).
    # Use instead of DOCUMENTATION, not together with it.
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return a changed status prediction without modifying the target.
    support: full
    details:
      - This module changes nothing, so it runs exactly the same in check mode.
  diff_mode:
    description: Returns details on what has changed (or would change in C(check_mode)) when run in diff mode.
    support: none
    details:
      - This module changes nothing, so there is no diff to show.
  idempotent:
    description:
      - When run twice in a row outside check mode with the same arguments, the second run reports no change.
      - This assumes that the system the module manages or queries has not changed in a relevant way in between.
    support: full
    details:
      - This module changes nothing and always reports C(changed=false).
"""

    ACTION_GROUP_RELEASE = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/ops.rollback.release) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - ops.rollback.release
"""

    ACTION_GROUP_VERIFY = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/ops.rollback.verify) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - ops.rollback.verify
"""

    ACTION_GROUP_K8S = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/ops.rollback.k8s) in C(module_defaults) to set defaults (such as the connection) for this module.
    support: full
    membership:
      - ops.rollback.k8s
"""

    ACTION_GROUP_DOCKER = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/ops.rollback.docker) in C(module_defaults) to set defaults (such as the connection) for this module.
    support: full
    membership:
      - ops.rollback.docker
"""

    ACTION_GROUP_DB = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/ops.rollback.db) in C(module_defaults) to set defaults (such as the connection) for this module.
    support: full
    membership:
      - ops.rollback.db
"""

    ACTION_GROUP_AWS = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/ops.rollback.aws) in C(module_defaults) to set defaults (such as the region and credentials) for this module.
    support: full
    membership:
      - ops.rollback.aws
"""

    ACTION_GROUP_INCIDENT = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/ops.rollback.incident) in C(module_defaults) to set defaults (such as the channels) for this module.
    support: full
    membership:
      - ops.rollback.incident
"""
