#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lb_switch
short_description: Move traffic between pools, for blue-green switches and canary aborts
version_added: "0.2.0"
description:
  - Moves a service's traffic from one pool of instances to another, through the load balancer in front of it. The
    O(backend) says which load balancer.
  - O(backend=kubernetes_service) is blue-green. It sets the selector of a Kubernetes Service, for example from
    C(version=blue) to C(version=green), so the Service sends its traffic to other pods. O(selector) is merged into the
    current selector, so keys it does not name stay as they are. A switch to a selector that matches no ready pod in
    the namespace is refused, unless O(force=true). Once switched, the module waits until the Service's Endpoints list
    the ready pods of the new selector and no other pods, see O(wait).
  - O(backend=istio) is a canary. It sets the weights of the destinations of one HTTP route of an Istio
    VirtualService, for example V(100) for the stable subset and V(0) for the canary to abort a canary. The weights
    must add up to V(100), and every destination named must be one of the route's. A destination of the route that
    O(weights) does not name gets weight V(0). With O(steps), the weights move there gradually.
  - O(backend=alb) is blue-green or a canary on an AWS Application Load Balancer. It sets the weights of the target
    groups of the forward action of listener O(listener_arn), or of its rule O(rule_arn). As with O(backend=istio),
    the weights must add up to V(100), every target group named must be one the action forwards to, and a target
    group of the action not named gets V(0). More traffic for a target group that has no healthy target is refused,
    unless O(force=true). The other actions and fields of the listener or rule are written back as they were read.
  - O(backend=route53) moves traffic between the weighted record sets of one DNS name and type in a Route53 hosted
    zone. Route53 weights are relative, from V(0) to V(255), so they are taken as given and need not add up to
    anything. A record set O(weights) does not name keeps its weight. The record sets are changed (C(UPSERT)) with
    their other fields as they were, in one change batch, and by default the module waits until Route53 reports the
    change C(INSYNC).
  - O(backend=haproxy) drains, readies or reweights one server of an HAProxy backend through HAProxy's runtime API
    socket, on the load balancer's host. O(state=drain) waits until the server's sessions ended, then puts it in
    maintenance; O(state=ready) waits until a health check passed. See O(state), O(on_timeout) and the notes on
    reloads.
  - O(backend=nginx) is blue-green or weighted on nginx, on the load balancer's host. It writes the upstream block
    O(upstream) with O(servers) to O(upstream_file), under a temporary name renamed into place, and runs C(nginx -t).
    When nginx refuses the config, the previous file is put back and the task fails with nginx's message. Otherwise
    nginx is reloaded, and the module waits until the old workers have exited and O(verify_url) answers from the new
    servers. A switch is refused when the main config lacks C(worker_shutdown_timeout) or does not load
    O(upstream_file).
  - The current state is read first and compared with the one asked for. Nothing is written when they are the same,
    and the module reports RV(changed=false). On Kubernetes, every write carries the C(resourceVersion) that was
    read, so a change someone else made in between fails the task (409 conflict) instead of being overwritten. On
    AWS, which has no such condition, the state is read again after each write and the task fails if it differs.
  - Nothing is changed when the task fails before writing, for example on a refused selector or target group, on
    wrong weights, an unknown Service, VirtualService, listener, target group, hosted zone or record, missing
    permissions or an unreachable API.
  - With O(steps), O(health_check) (O(backend=istio), O(backend=alb), O(backend=route53)) is run after each step,
    after its O(pause). The next step waits until it passes, and a step it fails holds the traffic there and fails the
    task, with RV(after) the weights left and RV(health) the check's result.
author: ops.rollback maintainers (!UNKNOWN)
options:
  backend:
    description:
      - The load balancer to switch.
      - V(kubernetes_service) sets the selector of the Kubernetes Service O(name), see O(selector).
      - V(istio) sets the route weights of the Istio VirtualService O(name), see O(weights).
      - V(alb) sets the target group weights of an ALB listener O(listener_arn) or rule O(rule_arn), see O(weights).
      - V(route53) sets the weights of the weighted records O(record_name), see O(weights).
      - V(haproxy) sets the state or weight of one server through HAProxy's runtime API, see O(socket).
      - V(nginx) rewrites an upstream block and reloads nginx, see O(upstream_file).
      - The Kubernetes connection options apply to V(kubernetes_service) and V(istio), the AWS ones to V(alb) and
        V(route53). The other platform's connection options are ignored, so that C(module_defaults) may set both.
    type: str
    required: true
    choices: [kubernetes_service, istio, alb, route53, haproxy, nginx]
  name:
    description:
      - Name of the Service (O(backend=kubernetes_service)) or VirtualService (O(backend=istio)).
      - Required with those backends, refused with the others.
    type: str
  namespace:
    description: Namespace of O(name), with O(backend=kubernetes_service) or O(backend=istio).
    type: str
    default: default
  listener_arn:
    description:
      - With O(backend=alb), and required there, the ARN of the ALB listener (HTTP or HTTPS) whose forward action
        is switched.
    type: str
  rule_arn:
    description:
      - With O(backend=alb), the ARN of a rule of O(listener_arn) whose forward action is switched.
      - Default, the listener's default actions.
    type: str
  hosted_zone_id:
    description:
      - With O(backend=route53), the id of the hosted zone, for example V(Z0123456789ABCDEFGHIJ).
      - O(hosted_zone_id) or O(zone) is required there.
    type: str
  zone:
    description:
      - With O(backend=route53), the name of the hosted zone, for example V(example.com), when O(hosted_zone_id) is
        not given. Refused when a public and a private zone share the name; pass O(hosted_zone_id) then.
    type: str
  record_name:
    description:
      - With O(backend=route53), and required there, the full DNS name of the weighted records, for example
        V(www.example.com).
    type: str
  record_type:
    description:
      - With O(backend=route53), the type of the weighted records.
      - Default V(A).
    type: str
    choices: [A, AAAA, CNAME, CAA, MX, NAPTR, PTR, SPF, SRV, TXT]
  selector:
    description:
      - With O(backend=kubernetes_service), and required there, the labels to set in the Service's selector, for
        example C(version=green).
      - Merged into the current selector. Keys not named keep their value, so C(app=web) stays. A key set to V(null)
        is removed from the selector.
      - Label values are strings. A number is taken as its digits; V(true) or V(false) is refused, so quote them.
      - Refused when the resulting selector matches no ready pod in O(namespace), because the Service would then route
        to nothing. Pods that are being deleted do not count. O(force=true) switches anyway. A selector left without
        any key is always refused.
    type: dict
  weights:
    description:
      - With O(backend=istio), and required there, the weight of each destination of the route, which must add up to
        V(100).
      - A destination is named as in the route, by O(weights[].host) and, when the route's destination has one,
        O(weights[].subset). A destination named that is not in the route is refused. Each destination is named once.
      - A destination of the route that is not named gets weight V(0).
      - With O(backend=alb), and required there, the weight of each target group, by O(weights[].target_group),
        which must add up to V(100). A target group that the forward action does not forward to is refused (add it
        to the action first). A target group of the action that is not named gets weight V(0).
      - With O(backend=route53), and required there, the weight of record sets by O(weights[].set_identifier), each
        from V(0) to V(255). A set identifier that is not among the weighted records of O(record_name) is refused.
        A record set that is not named keeps its weight.
    type: list
    elements: dict
    suboptions:
      host:
        description:
          - With O(backend=istio), and required there, the destination's C(host), exactly as written in the route,
            for example V(reviews) or V(reviews.prod.svc.cluster.local).
        type: str
      subset:
        description: With O(backend=istio), the destination's C(subset). Omit it for a destination without a subset.
        type: str
      target_group:
        description: With O(backend=alb), and required there, the target group's name or ARN.
        type: str
      set_identifier:
        description: With O(backend=route53), and required there, the C(SetIdentifier) of the record set.
        type: str
      weight:
        description:
          - Percentage of the traffic for this destination or target group, from V(0) to V(100).
          - With O(backend=route53), the record set's weight, from V(0) to V(255).
        type: int
        required: true
  route:
    description:
      - With O(backend=istio), which HTTP route of the VirtualService (an entry of its C(spec.http)) to set the weights
        of, by its C(name) or by its index from V(0).
      - Default, the first route.
    type: raw
  api_version:
    description:
      - With O(backend=istio), the API version to read and write the VirtualService through.
      - Default V(networking.istio.io/v1beta1), served by Istio 1.5 and later. Choose V(networking.istio.io/v1alpha3)
        for older clusters.
    type: str
    choices: [networking.istio.io/v1beta1, networking.istio.io/v1alpha3]
  steps:
    description:
      - With O(backend=istio), O(backend=alb) or O(backend=route53), move the weights gradually. Each step is the
        percentage of the way from the current weights to O(weights), for example V([10, 25, 50]). The last step is
        always V(100), the weights asked for.
      - Weights are rounded to whole numbers with the same sum. A step that would not change them is left out.
      - If a step fails, the task fails with RV(after) set to the weights the route, listener or records were left
        at.
      - The refusal of O(backend=alb) for target groups without a healthy target is checked once, before the first
        step.
      - In check mode, RV(steps) shows the steps and nothing is written.
    type: list
    elements: int
  pause:
    description:
      - With O(steps), seconds to wait between two steps, for example to watch the error rate. Fractions are allowed.
      - Default V(0), no pause.
    type: float
  force:
    description:
      - With O(backend=kubernetes_service), switch even when the new selector matches no ready pod.
      - The Service then has no endpoints until such pods are ready, and the module warns about it.
      - With O(backend=alb), give more traffic to a target group even when it has no healthy target. The module
        warns about it.
      - With O(backend=haproxy), take the last server of O(pool) that serves traffic out of service. The module warns
        about it.
      - With O(backend=nginx), set O(servers) even when every one is down or backup, and replace an O(upstream_file)
        that holds more than the one upstream block.
    type: bool
    default: false
  wait:
    description:
      - With O(backend=kubernetes_service), wait after the switch until the Service's Endpoints list exactly the ready
        pods of the new selector. Only then has traffic moved.
      - The check also runs when the selector is already the one asked for, so a second run proves it too. It does not
        run in check mode.
      - With O(backend=istio), the weights that the API server stored are always compared with the ones asked for.
        There is nothing to wait for. The same holds for O(backend=alb), whose listener or rule is read again.
      - With O(backend=route53), wait after each change until Route53 reports it C(INSYNC), that is on all its name
        servers.
      - With O(backend=haproxy), wait after O(state=drain) until the server's sessions ended, then put it in
        maintenance; wait after O(state=ready) until a health check passed. A second run of O(state=ready) waits
        too, so it proves the server up. It does not wait in check mode.
      - With O(backend=nginx), wait after the reload until the master runs new workers and every old worker has
        exited (they finish their open requests, for at most C(worker_shutdown_timeout)), then until O(verify_url)
        answers as asked. A second run waits too, without reloading, so it proves the switch.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the Endpoints or the Route53 change with O(wait). On timeout the task fails, and the
        Service keeps its new selector, or the records their new weights.
      - With O(backend=haproxy), seconds to wait for a drain's sessions (then see O(on_timeout)) or for a readied
        server to be up. On timeout a readied server stays ready.
      - With O(backend=nginx), seconds to wait for the old workers and O(verify_url); set it above nginx's
        C(worker_shutdown_timeout). On timeout the task fails, and the new servers stay set.
    type: int
    default: 60
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the Kubernetes API server or of the AWS API.
      - Default, with O(backend=kubernetes_service) or O(backend=istio), as the kubeconfig says (verified); with
        O(backend=alb) or O(backend=route53), V(true).
      - With O(backend=nginx), of O(verify_url), default V(true).
      - Also read from E(K8S_AUTH_VERIFY_SSL).
    type: bool
    aliases: [verify_ssl]
    default: null
extends_documentation_fragment:
  - ops.rollback._lb_haproxy
  - ops.rollback._lb_nginx
  - ops.rollback._health_gate
  - ops.rollback._k8s_auth
  - ops.rollback._aws_auth
  - ops.rollback._attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the current state and the pods, and refuses as a real run would. The API server checks the change
        with a server-side dry run, and nothing is written.
      - With O(backend=alb) and O(backend=route53), reads the current state and the targets' health, and refuses
        as a real run would; nothing is written. RV(steps) shows the planned steps.
      - With O(backend=haproxy), only reads go to the runtime API (the server's state, sessions and health), and
        the task refuses as a real run would. Nothing is waited for.
      - With O(backend=nginx), runs the same refusals, then tests the new upstream block with C(nginx -t) in a
        config of its own in a temporary directory. O(upstream_file) is not written and nginx is not reloaded.
  diff_mode:
    support: full
    details:
      - The selector, or the weights of the route's destinations, the target groups or the record sets, before and
        after.
      - With O(backend=haproxy), the server's state and weight, before and after.
      - With O(backend=nginx), O(upstream_file) as written, before and after.
  idempotent:
    support: full
  action_group:
    description:
      - Use C(group/ops.rollback.traffic) in C(module_defaults) to set defaults for this module.
      - It is also in C(group/ops.rollback.aws), which sets the AWS connection of every AWS module.
    support: full
    membership:
      - ops.rollback.traffic
      - ops.rollback.aws
notes:
  - Writes are JSON merge patches made with the field manager C(ops.rollback), so the objects' C(managedFields) show
    who moved the traffic.
  - The credentials need permission to get and patch the Service and to list pods and get Endpoints in O(namespace)
    (O(backend=kubernetes_service)), or to get and patch C(virtualservices.networking.istio.io) (O(backend=istio)).
  - The Python client C(kubernetes) is needed with O(backend=kubernetes_service) and O(backend=istio) only, C(boto3)
    with O(backend=alb) and O(backend=route53) only.
  - The AWS credentials need C(elasticloadbalancing:DescribeListeners), C(elasticloadbalancing:DescribeRules) (with
    O(rule_arn)), C(elasticloadbalancing:DescribeTargetGroups), C(elasticloadbalancing:DescribeTargetHealth) and
    C(elasticloadbalancing:ModifyListener) or C(elasticloadbalancing:ModifyRule) (O(backend=alb)); or
    C(route53:GetHostedZone) or C(route53:ListHostedZonesByName), C(route53:ListResourceRecordSets),
    C(route53:ChangeResourceRecordSets) and C(route53:GetChange) (O(backend=route53)).
  - With O(backend=nginx), a reload makes the old workers close their idle keep-alive connections to clients at
    once (HTTP allows that at any time). A client that writes to such a connection without checking it first gets
    a connection error. Browsers, curl, urllib3 and Go check it. A request that reaches an idle connection just as
    its old worker closes it is not read; browsers send it again on a new connection, and other clients retry it
    when it is idempotent or report a connection error.
seealso:
  - module: ops.rollback.health_check
    description: Check the new pool before and after the switch.
  - name: Istio traffic shifting
    description: Weighted routes of a VirtualService.
    link: https://istio.io/latest/docs/tasks/traffic-management/traffic-shifting/
  - name: Kubernetes Services
    description: How a Service's selector chooses the pods that get its traffic.
    link: https://kubernetes.io/docs/concepts/services-networking/service/
  - name: ALB weighted target groups
    description: The forward action of an Application Load Balancer listener, with weights.
    link: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html#forward-actions
  - name: Route53 weighted routing
    description: How Route53 answers with weighted record sets.
    link: https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html
"""

EXAMPLES = r"""
- name: Switch the web Service from the blue pods to the green ones
  ops.rollback.lb_switch:
    backend: kubernetes_service
    name: web
    namespace: shop
    selector:
      version: green

- name: Show what a switch back to blue would change, without changing it
  ops.rollback.lb_switch:
    backend: kubernetes_service
    name: web
    namespace: shop
    selector:
      version: blue
  check_mode: true
  diff: true
  register: plan

- name: Drop the track label from the selector and switch to blue, even if no blue pod is ready yet
  ops.rollback.lb_switch:
    backend: kubernetes_service
    name: web
    namespace: shop
    selector:
      version: blue
      track: null
    force: true
    kubeconfig: /etc/rollback/kubeconfig

- name: Abort the canary, all traffic back to the stable subset
  ops.rollback.lb_switch:
    backend: istio
    name: reviews
    namespace: shop
    weights:
      - host: reviews
        subset: stable
        weight: 100
      - host: reviews
        subset: canary
        weight: 0

- name: Shift the canary route of an older Istio back to stable in steps, one minute apart
  ops.rollback.lb_switch:
    backend: istio
    name: reviews
    namespace: shop
    api_version: networking.istio.io/v1alpha3
    route: canary
    weights:
      - host: reviews-stable
        weight: 100
    steps: [25, 50, 75]
    pause: 60

- name: Send all the traffic of the shop's ALB listener to the green target group
  ops.rollback.lb_switch:
    backend: alb
    listener_arn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2
    weights:
      - target_group: shop-green
        weight: 100
    region: eu-west-1

- name: Move a listener rule back to blue in steps, 30 seconds apart, and show the steps without making them
  ops.rollback.lb_switch:
    backend: alb
    listener_arn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2
    rule_arn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee
    weights:
      - target_group: shop-blue
        weight: 100
      - target_group: shop-green
        weight: 0
    steps: [10, 50]
    pause: 30
  check_mode: true
  diff: true

- name: Take the canary records of www out of DNS, other weighted records keep their weights
  ops.rollback.lb_switch:
    backend: route53
    zone: example.com
    record_name: www.example.com
    record_type: CNAME
    weights:
      - set_identifier: canary
        weight: 0
      - set_identifier: stable
        weight: 100

- name: Drain web2 of HAProxy's backend web, wait until its sessions ended, then put it in maintenance
  ops.rollback.lb_switch:
    backend: haproxy
    socket: /run/haproxy/admin.sock
    pool: web
    server: web2
    state: drain
    wait_timeout: 120
  become: true

- name: Drain web2 for at most 30 seconds, then shut the sessions left
  ops.rollback.lb_switch:
    backend: haproxy
    socket: /run/haproxy/admin.sock
    pool: web
    server: web2
    state: drain
    wait_timeout: 30
    on_timeout: force
  become: true

- name: Put web2 back in rotation with a small weight, and wait until its health check passes
  ops.rollback.lb_switch:
    backend: haproxy
    socket: /run/haproxy/admin.sock
    pool: web
    server: web2
    state: ready
    weight: 10
  become: true

- name: Switch nginx's upstream web from the blue servers to the green ones, and check that green answers
  ops.rollback.lb_switch:
    backend: nginx
    upstream_file: /etc/nginx/conf.d/upstream-web.conf
    upstream: web
    servers:
      - address: 10.0.0.21:8080
      - address: 10.0.0.22:8080
    verify_url: http://127.0.0.1/version
    verify_regex: '"version": "v2"'
  become: true

- name: Send a quarter of web's traffic to green, keeping blue listed
  ops.rollback.lb_switch:
    backend: nginx
    upstream_file: /etc/nginx/conf.d/upstream-web.conf
    upstream: web
    nginx_config: /etc/nginx/nginx.conf
    servers:
      - address: 10.0.0.11:8080
        weight: 3
      - address: 10.0.0.21:8080
        weight: 1
      - address: 10.0.0.12:8080
        down: true
  become: true

- name: Set the defaults of every traffic switch in a play once
  module_defaults:
    group/ops.rollback.traffic:
      namespace: shop
      kubeconfig: /etc/rollback/kubeconfig
  block:
    - name: Switch the web Service to green
      ops.rollback.lb_switch:
        backend: kubernetes_service
        name: web
        selector:
          version: green
"""

RETURN = r"""
gate:
  description: With O(health_check), that the check passed after each step.
  returned: when O(health_check) was given and traffic moved
  type: str
  sample: passed after each of 3 step(s)
health:
  description: The health check's result (as M(ops.rollback.health_check) returns it) of the step it failed.
  returned: when O(health_check) failed
  type: dict
changed:
  description: Whether the selector, the weights, or the server's state or weight changed (or would change, in check
    mode).
  returned: always
  type: bool
  sample: true
backend:
  description: The O(backend) used.
  returned: always
  type: str
  sample: kubernetes_service
server:
  description:
    - With O(backend=haproxy), the server as HAProxy reports it at the end of the task (in check mode, now).
  returned: when O(backend=haproxy)
  type: dict
  contains:
    pool:
      description: The backend, O(pool).
      type: str
      sample: web
    name:
      description: The server, O(server).
      type: str
      sample: web2
    address:
      description: The server's address and port.
      type: str
      sample: 10.0.0.12:8080
    status:
      description: The status C(show stat) gives, such as C(UP), C(DOWN), C(DRAIN), C(MAINT) or C(UP 1/2).
      type: str
      sample: MAINT
    operational_state:
      description: The operational state of C(show servers state), one of V(up), V(starting), V(stopping), V(down).
      type: str
      sample: up
    check_status:
      description: The status of the last health check, such as C(L7OK) or C(L4CON), or V(null) without checks.
      type: str
      sample: L7OK
    check_description:
      description: What the last health check said, such as C(Connection refused).
      type: str
      sample: Layer7 check passed
    sessions:
      description: The sessions open on the server.
      type: int
      sample: 0
    queued:
      description: The requests queued for the server.
      type: int
      sample: 0
    tracked:
      description: The server this one tracks (C(track)), as C(backend/server), or V(null).
      type: str
    waited:
      description: Seconds the task waited for the drain's sessions or for the server to be up.
      type: float
      returned: when it waited
      sample: 2.4
    sessions_shut:
      description: Sessions shut down by O(on_timeout=force).
      type: int
      returned: when O(on_timeout=force) shut sessions
      sample: 3
nginx:
  description: With O(backend=nginx), what the module found of the running nginx.
  returned: when O(backend=nginx), unless refused before nginx was looked at
  type: dict
  contains:
    config:
      description: The main config, O(nginx_config).
      type: str
      sample: /etc/nginx/nginx.conf
    worker_shutdown_timeout:
      description: The C(worker_shutdown_timeout) the config sets, as written there.
      type: str
      sample: 30s
    master_pid:
      description: The pid of the running master.
      type: int
      sample: 812
server_state_file:
  description:
    - With O(backend=haproxy), the file the running HAProxy loads the states of O(pool)'s servers from when it is
      reloaded, read from its configuration.
    - V(null) when it has none, so a reload forgets the change (the module warns), or when it could not be told.
  returned: when O(backend=haproxy)
  type: str
  sample: /var/lib/haproxy/server-state
before:
  description:
    - The state before the task, the Service's selector (O(backend=kubernetes_service)) or the route's destinations
      with their weights (O(backend=istio)), the target groups of the forward action with their names, ARNs and
      weights (O(backend=alb)), the weighted record sets with their set identifiers and weights
      (O(backend=route53)), or the server's C(state) and C(weight) (O(backend=haproxy)).
    - With O(backend=nginx), the servers of the upstream block, each with C(address), C(weight), C(down) and
      C(backup), in order; V([]) when O(upstream_file) did not exist or held no block, V(null) when it held more
      than the block (with O(force=true)).
  returned: success, and on failure when a selector was refused or a write or its check failed
  type: raw
  sample: {"app": "web", "version": "blue"}
after:
  description:
    - The state after the task, in the same form as RV(before). In check mode, the state the task would set.
    - When a write or a step failed, the state it was left at.
  returned: success, and on failure when a selector was refused or a write or its check failed
  type: raw
  sample: [{"host": "reviews", "subset": "stable", "weight": 100}, {"host": "reviews", "subset": "canary", "weight": 0}]
healthy_targets:
  description:
    - With O(backend=alb), how many healthy targets each target group has that gets more traffic, by name.
    - With O(force=true), a target group refused otherwise shows V(0).
  returned: when O(backend=alb)
  type: dict
  sample: {"shop-green": 3}
ready_pods:
  description: With O(backend=kubernetes_service), how many ready pods the new selector matches.
  returned: when O(backend=kubernetes_service)
  type: int
  sample: 3
steps:
  description: With O(steps), the weights of each step, in the form of RV(after), the last one being RV(after).
  returned: when O(steps) is set and the weights change
  type: list
  elements: list
  sample: [[{"host": "reviews", "subset": "stable", "weight": 50}, {"host": "reviews", "subset": "canary", "weight": 50}],
           [{"host": "reviews", "subset": "stable", "weight": 100}, {"host": "reviews", "subset": "canary", "weight": 0}]]
diff:
  description: The selector or the weights before and after, one line per item (destination, target group name or
    set identifier).
  returned: when something changes, in diff mode
  type: dict
  sample: {"before": "app: web\nversion: blue\n", "after": "app: web\nversion: green\n"}
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils.aws.client import AWS_AUTH_SPEC, BOTO3_IMPORT_ERROR, HAS_BOTO3
from ansible_collections.ops.rollback.plugins.module_utils.health.checker import (
    checker_from_params,
    health_check_argument_spec,
)
from ansible_collections.ops.rollback.plugins.module_utils.k8s.client import (
    HAS_KUBERNETES,
    K8S_AUTH_SPEC,
    KUBERNETES_IMPORT_ERROR,
)
from ansible_collections.ops.rollback.plugins.module_utils.k8s.traffic import ISTIO_API_VERSIONS
from ansible_collections.ops.rollback.plugins.module_utils.traffic.backends import (
    AWS_BACKENDS,
    HOST_BACKENDS,
    K8S_BACKENDS,
    backend_warnings,
    build_backend,
    refuse_backend_options,
)
from ansible_collections.ops.rollback.plugins.module_utils.traffic.haproxy import HAPROXY_SPEC
from ansible_collections.ops.rollback.plugins.module_utils.traffic.nginx import NGINX_SPEC
from ansible_collections.ops.rollback.plugins.module_utils.traffic.switch import parse_steps, run_switch


def argument_spec():
    spec = dict(
        backend=dict(type='str', required=True, choices=K8S_BACKENDS + AWS_BACKENDS + HOST_BACKENDS),
        name=dict(type='str'),
        namespace=dict(type='str', default='default'),
        selector=dict(type='dict'),
        weights=dict(type='list', elements='dict', options=dict(
            host=dict(type='str'),
            subset=dict(type='str'),
            target_group=dict(type='str'),
            set_identifier=dict(type='str'),
            weight=dict(type='int', required=True),
        )),
        route=dict(type='raw'),
        api_version=dict(type='str', choices=list(ISTIO_API_VERSIONS)),
        listener_arn=dict(type='str'),
        rule_arn=dict(type='str'),
        hosted_zone_id=dict(type='str'),
        zone=dict(type='str'),
        record_name=dict(type='str'),
        record_type=dict(type='str', choices=['A', 'AAAA', 'CNAME', 'CAA', 'MX', 'NAPTR', 'PTR', 'SPF', 'SRV', 'TXT']),
        steps=dict(type='list', elements='int'),
        pause=dict(type='float'),
        health_check=dict(type='dict', options=health_check_argument_spec()),
        force=dict(type='bool', default=False),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=60),
    )
    spec.update(HAPROXY_SPEC)
    spec.update(NGINX_SPEC)
    spec.update(AWS_AUTH_SPEC)
    # Both platforms have validate_certs; the Kubernetes one (no default: the kubeconfig decides) wins.
    spec.update(K8S_AUTH_SPEC)
    return spec


def switch(module):
    params = module.params
    refuse_backend_options(params)   # before connecting
    if params['backend'] in K8S_BACKENDS and not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=str(KUBERNETES_IMPORT_ERROR))
    if params['backend'] in AWS_BACKENDS and not HAS_BOTO3:
        module.fail_json(msg=missing_required_lib('boto3'), exception=str(BOTO3_IMPORT_ERROR))
    steps = parse_steps(params['steps']) if params['steps'] else None
    backend = build_backend(params)
    gate = checker_from_params(params['health_check'], 'health_check.endpoints') if params['health_check'] else None
    result = run_switch(backend, check_mode=module.check_mode, force=params['force'], steps=steps,
                        pause=params['pause'] or 0, gate=gate)
    for warning in backend_warnings(backend, result):
        module.warn(warning)
    return result


def main():
    run_module(argument_spec(), switch,
               required_if=[('backend', 'kubernetes_service', ['name', 'selector']),
                            ('backend', 'istio', ['name', 'weights']),
                            ('backend', 'alb', ['listener_arn', 'weights']),
                            ('backend', 'route53', ['record_name', 'weights']),
                            ('backend', 'route53', ['hosted_zone_id', 'zone'], True),
                            ('backend', 'haproxy', ['socket', 'pool', 'server']),
                            ('backend', 'haproxy', ['state', 'weight'], True),
                            ('backend', 'nginx', ['upstream_file', 'upstream', 'servers'])],
               mutually_exclusive=[('hosted_zone_id', 'zone')])


if __name__ == '__main__':
    main()
