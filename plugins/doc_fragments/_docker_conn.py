# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private doc fragment: the Docker engine connection (module_utils/docker/client.py, DOCKER_CONN_SPEC)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker engine's API, as V(unix:///path/to/docker.sock) or V(tcp://host:2376).
      - Unset, from E(DOCKER_HOST), else V(unix:///var/run/docker.sock).
    type: str
    default: unix:///var/run/docker.sock
  tls:
    description:
      - Talk TLS to the engine without checking its certificate. Unset, from E(DOCKER_TLS).
    type: bool
    default: false
  validate_certs:
    description:
      - Talk TLS to the engine and check its certificate against O(ca_path). Unset, from E(DOCKER_TLS_VERIFY).
    type: bool
    default: false
  tls_hostname:
    description:
      - The host name the engine's certificate must be for, when it is not the one in O(docker_host).
        Unset, from E(DOCKER_TLS_HOSTNAME).
    type: str
  ca_path:
    description: The CA certificate that signed the engine's certificate, with O(validate_certs).
    type: path
  client_cert:
    description: The client certificate the engine asks for, with O(client_key).
    type: path
  client_key:
    description: The client certificate's private key file (a path, which is not secret itself), with O(client_cert).
    type: path
  timeout:
    description:
      - Seconds one API call may take. Unset, from E(DOCKER_TIMEOUT).
    type: int
    default: 60
requirements:
  - docker (the Docker SDK for Python) on the host the module runs on
"""
