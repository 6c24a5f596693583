# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private doc fragment: the options of lb_switch's backend haproxy (module_utils/traffic/haproxy.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  socket:
    description:
      - With O(backend=haproxy), and required there, the path of HAProxy's runtime API socket, as the C(stats socket)
        line of its configuration names it, for example V(/run/haproxy/admin.sock).
      - The module talks to the socket itself, one command per connection, so neither C(socat) nor C(nc) is needed.
      - Changing a server needs a socket with C(level admin). The task's user must be allowed to open it, which is
        often root only (use C(become)).
    type: path
  pool:
    description:
      - With O(backend=haproxy), and required there, the HAProxy backend (a C(backend) or C(listen) section) that holds
        O(server).
      - An unknown backend is refused with the list of the backends HAProxy has. So is a name with characters
        HAProxy does not allow in names (only letters, digits, C(-), C(_), C(.) and C(:)), since names are sent in
        runtime API commands.
    type: str
  server:
    description:
      - With O(backend=haproxy), and required there, the name of the server of O(pool) to change, as its C(server)
        line names it.
      - An unknown server is refused with the list of the servers of O(pool), and a name is checked as for O(pool).
    type: str
  state:
    description:
      - With O(backend=haproxy), the administrative state O(server) must be in. O(state) or O(weight) is required there.
      - V(ready) enables the server (C(set server ... state ready)). With O(wait), the module then waits until
        HAProxy reports it up from a health check that passed after it was enabled, because HAProxy marks a server
        up the moment it leaves maintenance, before any check ran. If the check keeps failing, the task fails after
        O(wait_timeout) and names the check's status, for example C(L4CON).
      - V(drain) takes the server out of load balancing, so it gets no new sessions. With O(wait), the module then
        waits until its current sessions (and requests queued for it) have ended, and puts it in maintenance, so
        the state in RV(after) is V(maint). What happens when sessions remain after O(wait_timeout) is O(on_timeout). A
        server that is already down goes straight to maintenance, and one in maintenance is left there. With
        O(wait=false), the server is left in drain.
      - V(maint) puts the server in maintenance at once. Its open sessions go on until they end.
      - Taking the last server of O(pool) that serves traffic out of service (V(drain), V(maint) or a O(weight) of
        V(0)) is refused unless O(force=true).
      - The state is read from the admin bits of C(show servers state), not from the wording of a reply. A server in
        maintenance because it tracks another server, or because its name does not resolve, cannot be made ready
        here, and the task says so.
    type: str
    choices: [ready, drain, maint]
  weight:
    description:
      - With O(backend=haproxy), the weight O(server) must have, from V(0) to V(256), for example to shift traffic
        gradually between servers by running the task with growing weights.
      - V(0) keeps the server in its state but sends it no new traffic.
      - HAProxy refuses weights other than 0% and 100% for a backend with a static algorithm (such as C(static-rr)),
        and the task fails with its answer.
    type: int
  on_timeout:
    description:
      - With O(backend=haproxy) and O(state=drain), what to do when sessions remain after O(wait_timeout).
      - V(fail) (the default) fails the task and leaves the server in drain, with RV(after) saying so. Running the
        task again waits again.
      - V(force) shuts the remaining sessions (C(shutdown sessions server)), then puts the server in maintenance.
        RV(server.sessions_shut) says how many.
    type: str
    choices: [fail, force]
notes:
  - With O(backend=haproxy), changes made on the runtime API live in the running HAProxy process only, and a reload
    starts a new process from the configuration. Only with C(server-state-file) in its C(global) section and
    C(load-server-state-from-file) for the backend (or its C(defaults)), and a reload that first saves
    C(show servers state) to that file, does the new process keep them. The module warns when a change is made and
    the configuration does not load the states of O(pool) from a file, and RV(server_state_file) names the file.
  - The module learns that from the command line of the HAProxy process that C(show info) names, in C(/proc), and the
    configuration files it was started with (C(-f)). When it cannot read them, for example because HAProxy runs in
    another PID namespace, it warns that it could not tell.
  - When HAProxy is reloaded while the module waits for a drain, a new process that loaded the drain from the state
    file has none of the old process's sessions, so the drain ends and the server goes to maintenance there; the old
    process finishes its own sessions. A new process that forgot the drain makes the task fail, saying so.
"""
