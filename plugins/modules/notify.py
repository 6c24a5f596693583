#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the action plugin plugins/action/notify.py does the work, on the controller.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: notify
short_description: Tell people about a rollback on Slack, Microsoft Teams or any JSON webhook
version_added: "0.3.0"
description:
  - Sends one rollback event (O(event)) to every channel in O(channels) that takes it, with the content of the
    runbook's messages - service, version from and to, reason, start, ETA, impact and status channel when a
    rollback starts; duration, checks before and after, the version not to re-deploy and next steps when it is
    complete or has failed.
  - Each message comes from a Jinja2 template, rendered once per call in a sandbox. The collection ships a default
    template for every event; O(templates) replaces any of them with a file of your own.
  - Delivery is retried with jittered exponential backoff on connection errors, time-outs, HTTP 429 (honouring
    C(Retry-After) up to 60 seconds) and 5xx answers; other 4xx answers are not retried.
  - A channel that cannot be reached gives a warning and the task still succeeds, so a chat outage never stops a
    rollback. With O(required=true) the task fails instead, after every channel has been tried.
  - For O(event=escalation), the escalation level is chosen from O(escalation_levels) by O(elapsed_minutes) and
    O(outcome); by default the runbook's levels on-call, team lead, platform and management.
  - Runs on the controller; nothing is sent from, or needed on, the managed host.
author: ops.rollback maintainers (!UNKNOWN)
options:
  channels:
    description:
      - Where to send the message.
      - Put the list in a variable (from Ansible Vault) and set it for every call with C(module_defaults) on
        C(group/ops.rollback.incident).
    type: list
    elements: dict
    required: true
    suboptions:
      type:
        description:
          - V(slack) posts a JSON object with C(text) in Slack's mrkdwn to an incoming webhook.
          - V(teams) posts an Adaptive Card message, as Teams incoming webhooks (Workflows, and the older
            Office 365 connectors) take it.
          - V(webhook) posts JSON with C(event), C(title), C(text), the O(context) as given and C(escalation).
        type: str
        required: true
        choices: [slack, teams, webhook]
      url:
        description:
          - The webhook URL. It is a credential (Slack and Teams carry the secret in the path), so it is never shown
            - results, warnings and errors show the channel's name and C(scheme://host/********) only, and the URL,
            its path and query are masked wherever they would appear.
        type: str
        required: true
      name:
        description:
          - Name of the channel in results and messages, and in O(escalation_levels[].channels).
          - Defaults to the type and its position among channels of that type, for example V(slack-1).
        type: str
      events:
        description: Events this channel receives. All when omitted.
        type: list
        elements: str
        choices: [started, update, completed, failed, escalation]
      headers:
        description:
          - HTTP headers to send, for example C(Authorization) for a generic webhook. Treated as secret.
        type: dict
      validate_certs:
        description: Validate the server's TLS certificate. Set to V(false) only for a self-signed test receiver.
        type: bool
        default: true
  event:
    description:
      - V(started) when the rollback begins, V(update) while it runs, V(completed) when it is done, V(failed) when it
        failed, V(escalation) to call the next level in.
    type: str
    required: true
    choices: [started, update, completed, failed, escalation]
  context:
    description:
      - The facts of the rollback the message tells. Every field is optional; the default templates leave out what is
        not given. Other keys are passed to the templates (and to generic webhooks) as they are.
      - C(incident_id), C(service) (or C(services), a list), C(from_version), C(to_version), C(reason),
        C(started) (text; defaults to now, in UTC, for V(started)), C(eta_minutes), C(impact) (text or list),
        C(status_channel), C(initiated_by).
      - C(progress) (what V(update) reports), C(status) (for example V(Service healthy)), C(verdict) (the verdict's
        text from the report phase), C(error) (why it failed), C(duration_seconds).
      - C(checks), a list of mappings with C(name), C(before), C(after) and C(passed), for example error rate and
        p95 latency before and after.
      - C(next_steps) (text or list), C(do_not_redeploy) (the version not to re-deploy without a fix; on
        V(completed) defaults to C(from_version)).
    type: dict
    default: {}
  templates:
    description:
      - Your own Jinja2 template for any event, as event name to path. A relative path is looked up as
        M(ansible.builtin.template) looks up its C(src) - in the role's or playbook's C(templates/) directory and
        beside it.
      - The first line of the rendered text is the title, the rest is the body in Markdown (C(**bold**), C(- lists),
        C([text](url))); Slack gets it as mrkdwn.
      - A template sees every O(context) field (V(None) when not given), C(services) as a list, C(service) as the
        names joined, C(checks) with C(before), C(after) and C(passed) always present, C(event), C(escalation)
        (C(name), C(level), C(mention), C(reason)), C(elapsed_minutes), C(outcome), C(context) (as given), and the
        filter C(duration) (seconds to V(4 minutes 10 seconds)). An undefined variable is an error.
      - Templates run in Jinja2's sandbox, without Ansible's lookups and filters.
    type: dict
    default: {}
  required:
    description:
      - Fail the task when the message could not be delivered to every channel that takes the event.
      - By default a failed delivery only warns, and the rollback goes on.
    type: bool
    default: false
  retries:
    description: Retries after a failed attempt that may pass later, per channel. V(0) sends once.
    type: int
    default: 3
  delay:
    description:
      - Seconds before the first retry, doubled for each further retry, with jitter (50 to 100 percent of it).
      - A C(Retry-After) from the server is used instead, up to 60 seconds.
    type: float
    default: 1
  timeout:
    description: Seconds each attempt may take before it counts as failed and is retried.
    type: float
    default: 10
  escalation_levels:
    description:
      - The levels of O(event=escalation), lowest first. The message goes to the highest level that applies.
      - Default, from the runbook - V(on-call) (after 0 minutes), V(team lead) (on V(failed), V(not_verified),
        V(data_issue)), V(platform) (on V(infrastructure_issue)), V(management) (after 30 minutes).
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the level, shown in the message.
        type: str
        required: true
      after_minutes:
        description: The level applies once O(elapsed_minutes) reaches this.
        type: float
      "on":
        description: The level applies on any of these outcomes (O(outcome)).
        type: list
        elements: str
        choices: [in_progress, done, not_verified, failed, refused, data_issue, infrastructure_issue]
      mention:
        description: Who to call, put at the start of the message, for example V(<!subteam^S0123>) on Slack or V(@oncall).
        type: str
      channels:
        description: Names of the O(channels) this level goes to. All that take V(escalation) when omitted.
        type: list
        elements: str
  elapsed_minutes:
    description: Minutes since the incident began, for choosing the escalation level.
    type: float
    default: 0
  outcome:
    description:
      - How the rollback stands, for choosing the escalation level - the verdicts V(done), V(not_verified),
        V(failed), V(refused) of the report phase, V(in_progress), or the runbook's causes V(data_issue) and
        V(infrastructure_issue).
    type: str
    choices: [in_progress, done, not_verified, failed, refused, data_issue, infrastructure_issue]
extends_documentation_fragment:
  - ops.rollback._attributes
  - ops.rollback._attributes.action_group_incident
attributes:
  action:
    description: Runs entirely in its action plugin, on the controller.
    support: full
  async:
    description: Cannot run asynchronously.
    support: none
  check_mode:
    support: full
    details:
      - Sends nothing; returns the message and each channel's payload as they would be sent, and RV(changed=true)
        when some channel would receive it.
  diff_mode:
    support: full
    details:
      - The diff is the message, with the channels it goes to.
  idempotent:
    support: none
    details:
      - A notification is an event, not a state; every run sends the message again and reports RV(changed=true).
notes:
  - A failed delivery is a warning unless O(required=true); the result says per channel what happened.
seealso:
  - module: ops.rollback.health_check
  - name: Slack incoming webhooks
    description: The payload of O(channels[].type=slack).
    link: https://api.slack.com/messaging/webhooks
  - name: Teams incoming webhooks
    description: The Adaptive Card message of O(channels[].type=teams).
    link: https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
"""

EXAMPLES = r"""
- name: Announce the rollback in Slack and Teams
  ops.rollback.notify:
    channels:
      - type: slack
        url: "{{ vault_slack_webhook_url }}"
        name: ops-slack
      - type: teams
        url: "{{ vault_teams_webhook_url }}"
    event: started
    context:
      incident_id: INC-2024-0117
      service: order-service
      from_version: 1.2.3
      to_version: 1.2.2
      reason: Error rate spiked to 8%
      eta_minutes: 5
      impact:
        - Order creation may fail intermittently
        - No data loss expected
      initiated_by: "@engineer"
      status_channel: "#inc-order-service"

- name: Report the completed rollback with the checks before and after
  ops.rollback.notify:
    channels:
      - type: slack
        url: "{{ vault_slack_webhook_url }}"
    event: completed
    context:
      incident_id: INC-2024-0117
      service: order-service
      from_version: 1.2.3
      to_version: 1.2.2
      duration_seconds: 240
      status: Service healthy
      checks:
        - name: Error rate
          before: 8%
          after: 0.1%
          passed: true
        - name: Latency p95
          before: 2000ms
          after: 250ms
          passed: true
      next_steps:
        - "Incident ticket: INC-2024-0117"
        - RCA scheduled for tomorrow

- name: Send the failure to a generic webhook that must receive it
  ops.rollback.notify:
    channels:
      - type: webhook
        url: https://events.example.com/rollbacks
        headers:
          Authorization: "Bearer {{ vault_events_token }}"
    event: failed
    required: true
    retries: 5
    context:
      service: order-service
      from_version: 1.2.3
      to_version: 1.2.2
      error: Target version 1.2.2 is not healthy either

- name: Escalate by elapsed time and outcome, with levels of our own
  ops.rollback.notify:
    channels:
      - type: slack
        url: "{{ vault_slack_webhook_url }}"
        name: ops
      - type: slack
        url: "{{ vault_slack_leads_webhook_url }}"
        name: leads
    event: escalation
    elapsed_minutes: 42
    outcome: failed
    escalation_levels:
      - name: on-call
        after_minutes: 0
        channels: [ops]
      - name: team lead
        "on": [failed, data_issue]
        mention: "<!subteam^S0123>"
        channels: [ops, leads]
      - name: management
        after_minutes: 60
        channels: [leads]
    context:
      service: order-service
      reason: Rollback to 1.2.2 failed verification

- name: Use our own wording for the started message
  ops.rollback.notify:
    channels: "{{ rollback_notify_channels }}"
    event: started
    templates:
      started: notify/started.md.j2
    context:
      service: order-service
      reason: Error rate spiked to 8%

- name: Give every notify call of this play the same channels
  module_defaults:
    group/ops.rollback.incident:
      channels: "{{ rollback_notify_channels }}"
  block:
    - name: Post an update
      ops.rollback.notify:
        event: update
        context:
          service: order-service
          progress: Rolled back 2 of 4 hosts
"""

RETURN = r"""
changed:
  description: Whether the message was delivered to some channel; in check mode, whether some channel would receive it.
  returned: always
  type: bool
  sample: true
event:
  description: The event sent, O(event).
  returned: always
  type: str
  sample: started
message:
  description: The rendered message, title line first, in Markdown.
  returned: always
  type: str
  sample: "🚨 Rollback in progress: order-service\n**Service:** order-service\n**Version:** 1.2.3 → 1.2.2"
escalation:
  description: For O(event=escalation), the level chosen; V(null) for other events.
  returned: always
  type: dict
  contains:
    level:
      description: Position of the level in O(escalation_levels), from 1.
      type: int
      sample: 2
    name:
      description: Name of the level.
      type: str
      sample: team lead
    mention:
      description: O(escalation_levels[].mention) of the level.
      type: str
      sample: "<!subteam^S0123>"
    channels:
      description: O(escalation_levels[].channels) of the level; V(null) for every channel.
      type: list
      elements: str
      sample: [ops, leads]
    reason:
      description: Why this level applies.
      type: str
      sample: outcome failed
channels:
  description: One entry per O(channels) item, in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The channel's name (O(channels[].name) or V(<type>-<n>)).
      type: str
      sample: slack-1
    type:
      description: O(channels[].type).
      type: str
      sample: slack
    url:
      description: The URL as shown, scheme and host only.
      type: str
      sample: https://hooks.slack.com/********
    delivered:
      description: Whether the server accepted the message (a 2xx answer). V(false) in check mode.
      type: bool
      sample: true
    attempts:
      description: Requests sent, retries included. V(0) when skipped or in check mode.
      type: int
      sample: 1
    status:
      description: HTTP status of the last attempt; V(null) when nothing answered or nothing was sent.
      type: int
      sample: 200
    error:
      description:
        - "Why the last attempt failed, for example V(status 404: no_service) or V(timed out); V(null) when delivered."
      type: str
      sample: "status 500: internal error"
    skipped:
      description: Why this channel was not sent the event (its O(channels[].events), or the escalation level's channels); V(null) otherwise.
      type: str
      sample: takes only started, completed
    payload:
      description: The JSON body sent (or that would be sent) to this channel.
      type: dict
      sample: {"text": "*🚨 Rollback in progress: order-service*\n*Service:* order-service"}
"""
