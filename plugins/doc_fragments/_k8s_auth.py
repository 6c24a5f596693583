# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private doc fragment: the Kubernetes connection options (module_utils/k8s/client.py K8S_AUTH_SPEC)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file. Without it (and without O(host)), C($KUBECONFIG) or C(~/.kube/config) is used when it
        exists, else the service account of the pod the module runs in.
      - Also read from the environment variable E(K8S_AUTH_KUBECONFIG).
    type: path
  context:
    description:
      - The kubeconfig context to use; default, the kubeconfig's current context.
      - Also read from E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the API server, for example V(https://10.0.0.1:6443). With O(api_key), no kubeconfig is needed.
      - Also read from E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - A bearer token for the API server. It is never logged or shown in results.
      - Also read from E(K8S_AUTH_API_KEY).
    type: str
  ca_cert:
    description:
      - CA certificate file that signed the API server's certificate.
      - Also read from E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  validate_certs:
    description:
      - Whether to verify the API server's certificate. Default, as the kubeconfig says (verified).
      - Also read from E(K8S_AUTH_VERIFY_SSL).
    type: bool
    aliases: [verify_ssl]
requirements:
  - kubernetes (the Python client) on the host the module runs on, usually the controller or an execution environment.
notes:
  - The module talks to the API server from where it runs, as the C(kubernetes.core) modules do. In the rollback
    playbook, a Kubernetes service is an inventory host with C(ansible_connection=local).
"""
