# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The action plugin of the same name does the work, on the controller (plugins/action/incident_report.py).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: incident_report
short_description: Write the incident report of a rollback, in Markdown and JSON, from its timeline and verdicts
version_added: "0.3.0"
description:
  - Writes C(<incident_id>.md) for people and C(<incident_id>.json) for tools into O(dest) on the controller, both
    readable by their owner only (mode C(0600)). The Markdown is rendered from the JSON document, so both always say
    the same.
  - 'The report gives the incident id, the services with the version each ran before and the version rolled back to,
    the verdict of each (V(done), V(rolled back but NOT verified), V(FAILED on <hosts>), V(refused: ...) or
    V(planned)) and each host''s result, the decision and its reasons, the backups taken (path, size, SHA-256 checksum,
    verified), the checks with their values before and after, migrations and notifications, the phases of the
    timeline and the tasks that failed, placeholders for the root cause and the lessons learned, and the runbook''s
    Post-Rollback Checklist.'
  - The version rolled back from is listed as B(do not redeploy), with the incident id, for every service whose
    rollback ran (done, not verified or failed). The rollback playbook records the same in the release ledger.
  - 'Checklist items the run did are ticked from its facts: C(Service health verified) when every service is V(done),
    C(Team notified) when every service has a notification delivered to a channel, C(Incident ticket created) when O(ticket) is set,
    C(Deployment record updated) when every service that was rolled back has
    O(services.deployment_record_updated=true). A report of a run made in check mode ticks nothing.'
  - The report is about the last run in O(timeline), the file the timeline callback P(ops.rollback.timeline#callback)
    wrote. Read while the run goes on (the report phase), it holds the tasks up to this one.
  - Runs on the controller only, whatever host the task is for; no host is contacted. Run it once per rollback, for
    example with C(run_once=true) or on C(localhost).
  - URLs in the report have their passwords and query values masked as C(********), as in the timeline.
author: ops.rollback maintainers (!UNKNOWN)
options:
  incident_id:
    description:
      - The id of the incident, as the announce phase opened it. It names the report files, so it may hold only
        letters, digits, C(.), C(_) and C(-), must start with a letter or digit, and is at most 100 characters long.
    type: str
    required: true
  dest:
    description:
      - Directory on the controller for the report files. It is created (mode C(0700)) when it does not exist.
    type: path
    required: true
  timeline:
    description:
      - The timeline file the timeline callback wrote for the run (E(OPS_ROLLBACK_TIMELINE)).
      - When the file holds several runs (the callback appends), the report is about the last one.
      - A file that cannot be read is a warning, not a failure; the report then has no phases and no failed tasks.
      - Default, the file the P(ops.rollback.timeline#callback) callback writes for this run, when it is enabled;
        without it, the report has no timeline.
    type: path
  verdicts:
    description:
      - The verdict of each service, C(report_verdicts) as the report phase computes it with the
        P(ops.rollback.rollback_verdicts#filter) filter.
      - When omitted, the verdicts in the summary line of O(timeline), which the callback writes when the run ends.
    type: dict
  services:
    description:
      - What the run learnt about each service beside its verdict, keyed by service name; each value takes the keys
        below. A service named here without a verdict is reported as having none.
    type: dict
    default: {}
    suboptions:
      from_version:
        description: The version the service ran before. When omitted, the versions its hosts ran, from O(verdicts).
        type: str
      to_version:
        description: The version rolled back to. When omitted, the target of its verdict.
        type: str
      decision:
        description:
          - The decision of the decide phase. The result of M(ops.rollback.rollback_decision) can be given as it is;
            keys not listed here are left out.
        type: dict
        suboptions:
          decision:
            description: What was decided, for example V(rollback_now) or V(fix_forward).
            type: str
            required: true
          advised:
            description: What the rules advised before C(force).
            type: str
          reasons:
            description: Why, one sentence each.
            type: list
            elements: str
            default: []
          forced:
            description: Whether C(force) overrode the rules.
            type: bool
            default: false
          force_reason:
            description: Why it was forced.
            type: str
      backups:
        description:
          - The database backups taken before anything changed. The RV(ops.rollback.db_backup#module:backup) result of
            M(ops.rollback.db_backup) can be given as it is; keys not listed here are left out.
        type: list
        elements: dict
        default: []
        suboptions:
          path:
            description: Where the backup is.
            type: str
            required: true
          db:
            description: The database it holds.
            type: str
          engine:
            description: The database engine, for example V(postgresql).
            type: str
          size:
            description: Its size in bytes.
            type: int
          sha256:
            description: Its SHA-256 checksum.
            type: str
          verified:
            description: Whether it was verified, V(true) or V(false), or when it was last verified (a time).
            type: raw
      checks:
        description: Health and metrics checks with their values before and after the rollback.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: The check, for example V(error rate) or V(p95 latency ms).
            type: str
            required: true
          before:
            description: Its value before the rollback.
            type: raw
          after:
            description: Its value after the rollback.
            type: raw
          threshold:
            description: The value it is held against.
            type: raw
          passed:
            description: Whether it passed after the rollback.
            type: bool
      migrations:
        description:
          - What M(ops.rollback.migration_check) returned. The report shows its C(recommendation), C(safe_version),
            C(explanation) and the names of the migrations that are not C(reversible); the JSON report keeps all of it.
        type: dict
      notifications:
        description:
          - The notifications sent about the service. Results of M(ops.rollback.notify) can be given as they are;
            keys not listed here are left out.
        type: list
        elements: dict
        default: []
        suboptions:
          event:
            description: What it announced, for example V(started) or V(completed).
            type: str
          channels:
            description: Where it went.
            type: list
            elements: dict
            default: []
            suboptions:
              name:
                description: The channel, for example V(slack-incidents).
                type: str
                required: true
              delivered:
                description: Whether the channel accepted it.
                type: bool
                required: true
      deployment_record_updated:
        description: Whether the release ledger records the version rolled back from and the verified target.
        type: bool
        default: false
  reason:
    description: Why the rollback was started, as the operator or the alert said it.
    type: str
  impact:
    description: What users saw, in a sentence or two.
    type: str
  severity:
    description: The severity of the incident, for example V(SEV1).
    type: str
  started:
    description:
      - When the rollback started, ISO 8601 (V(2026-11-23T03:00:00Z)); a time without a zone is UTC.
      - When omitted, the start of the run in O(timeline).
    type: str
  finished:
    description:
      - When it finished, ISO 8601. The report holds no time of its own, so that the same inputs give the same report.
      - When omitted, the end of the run in O(timeline), or the end of its last task so far.
    type: str
  initiated_by:
    description: Who or what started the rollback, for example a user name or V(alertmanager).
    type: str
  ticket:
    description: The incident ticket, as a key or a URL.
    type: str
  trigger:
    description:
      - The alert that started the rollback, as the filter P(ops.rollback.rollback_alert#filter) returns it under
        C(trigger) (C(name), C(status), C(starts_at), C(summary), C(fingerprint), C(generator_url), C(labels),
        C(annotations)). The report shows it under "Trigger".
      - Omitted or empty when a person started the run.
    type: dict
  check_mode_run:
    description:
      - Whether the rollback ran in check mode. The report then says it is a plan only, lists nothing as do not
        redeploy, and ticks nothing.
      - When omitted, what O(timeline) says, else V(false).
      - This task in check mode writes nothing. To keep the plan of a check-mode run as a file, run it with
        C(check_mode=false) and O(check_mode_run=true).
    type: bool
extends_documentation_fragment:
  - ops.rollback._attributes
  - ops.rollback._attributes.action_group_incident
attributes:
  diff_mode:
    details:
      - The diff shows the Markdown report before and after.
notes:
  - The JSON document has a C(schema_version); keys are only added while it stays V(1).
  - A report that already holds the same content (and mode C(0600)) is left alone and reported as RV(changed=false).
seealso:
  - plugin: ops.rollback.timeline
    plugin_type: callback
    description: Writes the timeline this report is made from.
  - module: ops.rollback.health_check
    description: Its results are the checks of O(services.checks).
"""

EXAMPLES = r"""
- name: Write the incident report of the run
  ops.rollback.incident_report:
    incident_id: INC-2026-0042
    dest: /var/lib/ops-rollback/reports
    timeline: "{{ lookup('ansible.builtin.env', 'OPS_ROLLBACK_TIMELINE') }}"
    verdicts: "{{ report_verdicts }}"
    reason: error rate 8% after v1.3.0
    severity: SEV2
    initiated_by: "{{ lookup('ansible.builtin.env', 'USER') }}"
  run_once: true
  register: incident

- name: Report with what the other phases found, from the results of their modules
  ops.rollback.incident_report:
    incident_id: "{{ incident_id }}"
    dest: /var/lib/ops-rollback/reports
    verdicts: "{{ report_verdicts }}"
    services:
      orders:
        decision: "{{ decision }}"
        backups: ["{{ orders_backup.backup }}"]
        migrations: "{{ orders_migrations }}"
        notifications: ["{{ notified_started }}", "{{ notified_completed }}"]
        deployment_record_updated: true
  run_once: true

- name: Report with what the other phases found, written out
  ops.rollback.incident_report:
    incident_id: INC-2026-0042
    dest: /var/lib/ops-rollback/reports
    verdicts: "{{ report_verdicts }}"
    ticket: https://tickets.example.com/INC-2026-0042
    impact: Checkout failed for about 1 request in 12 for 9 minutes.
    started: "2026-11-23T03:00:00Z"
    finished: "2026-11-23T03:09:30Z"
    services:
      orders:
        decision:
          decision: rollback_now
          reasons:
            - error rate 8% is over the 5% threshold
            - no irreversible migration since v1.2.9
        backups:
          - db: orders
            engine: postgresql
            path: /var/backups/orders/INC-2026-0042.dump
            size: 48213377
            sha256: 9f2c4f0e5b1d8a7c3e6f4a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d
            verified: true
        checks:
          - name: error rate
            before: 0.08
            after: 0.002
            threshold: 0.05
            passed: true
        migrations:
          recommendation: rollback
        notifications:
          - event: completed
            channels:
              - name: slack-incidents
                delivered: true
        deployment_record_updated: true
  run_once: true

- name: Keep the plan of a check-mode run as a file
  ops.rollback.incident_report:
    incident_id: INC-2026-0042-plan
    dest: /var/lib/ops-rollback/reports
    verdicts: "{{ report_verdicts }}"
    check_mode_run: "{{ ansible_check_mode }}"
  check_mode: false
  run_once: true

- name: Say where the report is
  ansible.builtin.debug:
    msg: "Incident report: {{ incident.markdown_path }} ({{ incident.report.outcome }})"
"""

RETURN = r"""
changed:
  description: Whether a report file was written, or would be in check mode (its content or mode differed).
  returned: always
  type: bool
  sample: true
markdown_path:
  description: The Markdown report.
  returned: success
  type: str
  sample: /var/lib/ops-rollback/reports/INC-2026-0042.md
json_path:
  description: The JSON report, the same document as RV(report).
  returned: success
  type: str
  sample: /var/lib/ops-rollback/reports/INC-2026-0042.json
report:
  description: The report document, as written to RV(json_path).
  returned: success
  type: dict
  contains:
    schema_version:
      description: Version of this layout; keys are only added while it stays the same.
      type: int
      sample: 1
    incident_id:
      description: O(incident_id).
      type: str
      sample: INC-2026-0042
    ticket:
      description: O(ticket), or V(null).
      type: str
      sample: https://tickets.example.com/INC-2026-0042
    check_mode_run:
      description: Whether the rollback ran in check mode (a plan only).
      type: bool
      sample: false
    outcome:
      description:
        - The worst state among the services, V(failed), V(refused), V(not_verified), V(planned) or V(done), in that
          order; V(unknown) when no service has a verdict.
      type: str
      sample: done
    severity:
      description: O(severity), or V(null).
      type: str
      sample: SEV2
    reason:
      description: O(reason), or V(null).
      type: str
      sample: error rate 8% after v1.3.0
    impact:
      description: O(impact), or V(null).
      type: str
      sample: Checkout failed for about 1 request in 12 for 9 minutes.
    initiated_by:
      description: O(initiated_by), or V(null).
      type: str
      sample: alice
    started:
      description: When the rollback started, as given or from the timeline; V(null) when unknown.
      type: str
      sample: "2026-11-23T03:00:00Z"
    finished:
      description: When it finished, as given or from the timeline; V(null) when unknown.
      type: str
      sample: "2026-11-23T03:09:30Z"
    duration_seconds:
      description: Seconds from RV(report.started) to RV(report.finished); V(null) when either is unknown.
      type: float
      sample: 570.0
    services:
      description: Per service name, what happened to it.
      type: dict
      contains:
        state:
          description: V(done), V(not_verified), V(failed), V(planned) or V(refused); V(null) without a verdict.
          type: str
          sample: done
        verdict:
          description: The verdict in words.
          type: str
          sample: FAILED on web2
        from_version:
          description: The version the service ran before (several, comma-separated, when its hosts differed).
          type: str
          sample: v1.3.0
        to_version:
          description: The version rolled back to.
          type: str
          sample: v1.2.9
        target_rule:
          description: How the target was chosen (for example V(ledger) or V(explicit)).
          type: str
          sample: ledger
        notes:
          description: What the plan said beside the target.
          type: list
          elements: str
          sample: []
        failed_hosts:
          description: The hosts the rollback failed on.
          type: list
          elements: str
          sample: [web2]
        hosts:
          description: Per host, RV(report.services.hosts.from_version), RV(report.services.hosts.to_version) and RV(report.services.hosts.result).
          type: dict
          contains:
            from_version:
              description: The version the host ran before.
              type: str
              sample: v1.3.0
            to_version:
              description: The version it runs now.
              type: str
              sample: v1.2.9
            result:
              description: Its result in words.
              type: str
              sample: ok, restarted
        decision:
          description: O(services.decision) with its defaults, or V(null).
          type: dict
          sample: {decision: rollback_now, advised: rollback_now, reasons: [error rate 8%], forced: false, force_reason: null}
        backups:
          description: O(services.backups) with their defaults.
          type: list
          elements: dict
          sample: [{db: orders, engine: postgresql, path: /var/backups/orders.dump, size: 48213377, sha256: 9f2c..., verified: true}]
        checks:
          description: O(services.checks).
          type: list
          elements: dict
          sample: [{name: error rate, before: 0.08, after: 0.002, threshold: 0.05, passed: true}]
        migrations:
          description: O(services.migrations), or V(null).
          type: dict
          sample: {recommendation: rollback}
        notifications:
          description: O(services.notifications).
          type: list
          elements: dict
          sample: [{event: completed, channels: [{name: slack-incidents, delivered: true}]}]
        deployment_record_updated:
          description: O(services.deployment_record_updated).
          type: bool
          sample: true
        do_not_redeploy:
          description: The versions of this service not to deploy again.
          type: list
          elements: str
          sample: [v1.3.0]
    do_not_redeploy:
      description: Every version rolled back from, with its C(service), C(version), C(incident_id), and C(recorded) (its deployment record was updated).
      type: list
      elements: dict
      sample: [{service: orders, version: v1.3.0, incident_id: INC-2026-0042, recorded: true}]
    timeline:
      description: What the timeline says.
      type: dict
      contains:
        path:
          description: O(timeline), or V(null).
          type: str
          sample: /root/.ansible/ops_rollback/timeline-20261123T030000Z-4242.jsonl
        found:
          description: Whether the timeline held records of a run.
          type: bool
          sample: true
        phases:
          description:
            - The phases the run reached, in their order, each with C(phase), C(outcome) (V(ok), V(failed) or V(skipped)),
              C(start), C(end), C(duration_seconds), and C(reason) (why it was skipped, else V(null)).
          type: list
          elements: dict
          sample: [{phase: verify, outcome: ok, start: "2026-11-23T03:05:00.000Z", end: "2026-11-23T03:06:10.500Z", duration_seconds: 70.5, reason: null}]
        failed_tasks:
          description: The tasks that failed, with C(phase), C(task), C(host), C(at) and C(msg).
          type: list
          elements: dict
          sample: [{phase: roll_back, task: Restart the application, host: web2, at: "2026-11-23T03:04:00.000Z", msg: restart failed}]
    root_cause:
      description: Always V(null), a placeholder for the people who write the post-mortem.
      type: str
      sample: null
    lessons_learned:
      description: Always empty, a placeholder for the people who write the post-mortem.
      type: list
      elements: str
      sample: []
    checklist:
      description: The Post-Rollback Checklist, as sections with C(section) and C(items), each item with C(item) and C(done).
      type: list
      elements: dict
      sample: [{section: Immediate (< 5 minutes), items: [{item: Service health verified, done: true}]}]
"""
