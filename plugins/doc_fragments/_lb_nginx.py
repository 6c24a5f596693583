# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private doc fragment: the options of lb_switch's backend nginx (module_utils/traffic/nginx.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  upstream_file:
    description:
      - With O(backend=nginx), and required there, the file that holds the upstream block O(upstream), included
        from the C(http) block of O(nginx_config), for example V(/etc/nginx/conf.d/upstream-web.conf).
      - The module owns this file and writes it whole, with a header comment saying so. It holds the one upstream
        block and nothing else. The block's other directives (such as C(keepalive), C(least_conn) or C(zone)) and
        the parameters of a C(server) line other than C(weight), C(down) and C(backup) (such as C(max_fails)) are
        kept as they were read, the latter for the server of the same address.
      - A file with anything else in it (another block, quoted text) is refused, unless O(force=true), which
        replaces it.
      - A file that does not exist yet is created, in a directory that must exist, when the config of nginx is
        valid without it, for example when an include glob loads it.
      - The new file is written under a temporary hidden name in the same directory, so an include glob such as
        C(*.conf) never loads it half-written, then renamed into place, keeping the previous file's owner and
        mode. If C(nginx -t) then refuses the config, the previous file is put back and the task fails with
        nginx's message. When O(upstream_file) is a symbolic link, it stays one and the file it points to is
        replaced.
      - Refused when nginx does not load it from O(nginx_config) (as C(nginx -T) shows).
      - One task at a time writes it, under a lock on a hidden file beside it (C(.<name>.ops-rollback-lock)), which
        another task waits for up to O(wait_timeout). A task fails, changing nothing, when the file changed after it
        read it.
    type: path
  upstream:
    description: With O(backend=nginx), and required there, the name of the upstream block, as C(proxy_pass) names it.
    type: str
  servers:
    description:
      - With O(backend=nginx), and required there, every server of the upstream block, in order. Servers not
        listed are removed from the block.
      - To take a pool out, list its servers with O(servers[].down=true); to shift traffic gradually, change
        their O(servers[].weight) in several tasks.
      - Refused when every server is down or backup, as no server would take the traffic, unless O(force=true).
    type: list
    elements: dict
    suboptions:
      address:
        description:
          - The server's address as nginx's C(server) directive takes it, for example V(10.0.0.5:8080),
            V([2001:db8::5]:8080), V(app.internal:8080) or V(unix:/run/app.sock).
          - One word. Spaces, quotes, semicolons, braces, C(#), C($), C(=) and backslashes are refused, so that an
            address can never add a directive to the config. Each address is listed once.
        type: str
        required: true
      weight:
        description:
          - The server's weight, from V(1). Default V(1).
          - V(0) is refused, since nginx refuses it; use O(servers[].down=true) to take a server out.
        type: int
      down:
        description: Whether the server is marked C(down), so nginx sends it nothing.
        type: bool
        default: false
      backup:
        description:
          - Whether the server is a C(backup) server, used only when the other servers are unavailable.
          - A server cannot be both O(servers[].down) and O(servers[].backup).
        type: bool
        default: false
  nginx_config:
    description:
      - With O(backend=nginx), the main config file of the running nginx, for C(nginx -T -c), C(nginx -t -c) and
        C(nginx -s reload -c).
      - It must set C(worker_shutdown_timeout), otherwise the switch is refused. After a reload the old workers
        finish the requests of their open connections with the old servers; that bounds how long they may.
      - The running master is found through the C(pid) file it names (default, the one nginx was built with).
        A switch is refused when no master runs.
      - Default V(/etc/nginx/nginx.conf).
    type: path
  verify_url:
    description:
      - With O(backend=nginx), a URL through nginx, for example V(http://127.0.0.1/version), polled after the
        reload (and on a run that changes nothing) until it answers with a 2xx status, and matches
        O(verify_regex) when given, 3 times in a row, within O(wait_timeout). Otherwise the task fails, with the
        last answer in its message; the new servers stay set.
      - Each request opens a new connection, which only the new workers accept. Redirects are not followed, and
        a TLS certificate is verified.
      - Not polled with O(wait=false), nor in check mode.
    type: str
  verify_regex:
    description:
      - 'With O(backend=nginx), a Python regular expression searched in the answer of O(verify_url), for example
        V("version": "v2") for a JSON body, or V(X-Version: v2) for a header.'
      - 'It is searched in the answer''s headers, one C(Name: value) per line, then an empty line, then the body.
        Requires O(verify_url).'
    type: str
"""
