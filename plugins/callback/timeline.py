# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: timeline
type: notification
short_description: Write the rollback timeline as JSON lines and print a summary
version_added: "0.1.0"
description:
  - Records every task of a rollback as one JSON line with its phase, task, host, start, end and outcome.
    The phase is the ops.rollback phase role the task runs in (decide, announce, preflight, protect_data,
    prepare_traffic, roll_back, edge, verify, restore_traffic, report).
  - Prints each phase that was skipped, with its reason, as soon as it is skipped.
  - At the end of the run, prints a summary. It gives each service and host with the version it ran before and runs
    now, the duration and outcome of each phase, and the result. The summary is also the last line of the timeline.
  - Works beside any stdout callback, including AWX's.
author: ops.rollback maintainers (!UNKNOWN)
requirements:
  - Enable it with C(callbacks_enabled = ops.rollback.timeline) in C(ansible.cfg) or E(ANSIBLE_CALLBACKS_ENABLED).
options:
  timeline_path:
    description:
      - File to write the timeline to. When not set, a new file named after the start time is created in
        O(timeline_dir).
    type: path
    env:
      - name: OPS_ROLLBACK_TIMELINE
    ini:
      - section: ops_rollback
        key: timeline_path
  timeline_dir:
    description: Directory for timeline files when O(timeline_path) is not set.
    type: path
    default: ~/.ansible/ops_rollback
    env:
      - name: OPS_ROLLBACK_TIMELINE_DIR
    ini:
      - section: ops_rollback
        key: timeline_dir
"""

import datetime
import json
import os

from ansible import context
from ansible.plugins.callback import CallbackBase

PHASES = (
    'decide', 'announce', 'preflight', 'protect_data', 'prepare_traffic',
    'roll_back', 'edge', 'verify', 'restore_traffic', 'report',
)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _stamp(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'ops.rollback.timeline'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display=display)
        self._file = None
        self.path = None
        self._phase = None
        self._started = {}       # (host, task uuid) -> start time
        self.phases = {}         # phase -> {start, end, outcome, reason}
        self.hosts = {}          # host -> {service, from_version, to_version, phases, result}
        self.targets = {}        # service -> {version, rule, ...}
        self.check_mode = False
        self._pending = []       # records held until the run proves to be a rollback

    # Setup -----------------------------------------------------------------

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super(CallbackModule, self).set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.path = self.get_option('timeline_path')
        if not self.path:
            directory = os.path.expanduser(self.get_option('timeline_dir'))
            self.path = os.path.join(directory, 'timeline-{0}-{1}.jsonl'.format(
                _now().strftime('%Y%m%dT%H%M%SZ'), os.getpid()))

    def _write(self, record):
        # Only rollbacks get a timeline: other playbooks run with the same
        # ansible.cfg (a deploy, a drill's setup) leave no file and no summary.
        if self._file is None and not self.phases:
            self._pending.append(record)
            return
        if self._file is None:
            directory = os.path.dirname(self.path)
            if directory and not os.path.isdir(directory):
                os.makedirs(directory)
            self._file = open(self.path, 'a')
        for line in self._pending + [record]:
            self._file.write(json.dumps(line, sort_keys=True) + '\n')
        self._pending = []
        self._file.flush()

    def v2_playbook_on_start(self, playbook):
        self.check_mode = bool(context.CLIARGS.get('check'))
        self._write({'event': 'start', 'at': _stamp(_now()), 'playbook': os.path.basename(playbook._file_name),
                     'check_mode': self.check_mode})

    # Tasks -----------------------------------------------------------------

    def v2_playbook_on_task_start(self, task, is_conditional):
        role = task._role.get_name(include_role_fqcn=False) if task._role else None
        if role in PHASES:
            self._phase = role
        elif role is None:
            self._phase = None

    def v2_runner_on_start(self, host, task):
        self._started[(host.get_name(), task._uuid)] = _now()

    def v2_runner_on_ok(self, result):
        self._record(result, 'changed' if result._result.get('changed') else 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def _record(self, result, outcome):
        host = result._host.get_name()
        end = _now()
        start = self._started.pop((host, result._task._uuid), end)
        phase = self._phase
        record = {
            'event': 'task', 'phase': phase, 'task': result._task.get_name(), 'host': host,
            'start': _stamp(start), 'end': _stamp(end), 'outcome': outcome,
        }
        if outcome in ('failed', 'unreachable'):
            record['msg'] = result._result.get('msg', '')
        self._write(record)
        if phase:
            span = self.phases.setdefault(phase, {'start': start, 'end': end, 'outcome': 'ok'})
            span['start'], span['end'] = min(span['start'], start), max(span['end'], end)
            if outcome in ('failed', 'unreachable'):
                span['outcome'] = 'failed'
        self._learn(host, phase, result._result, outcome)

    def _learn(self, host, phase, res, outcome):
        """Follow the collection's shared facts and return keys (DESIGN.md vocabulary)."""
        facts = res.get('ansible_facts') or {}
        # The platform's preflight reports each host as <platform>_state.
        states = [value for key, value in facts.items()
                  if key.endswith('_state') and isinstance(value, dict) and 'service' in value]
        if phase == 'preflight' and states:
            state = states[0]
            self.hosts[host] = {'service': state.get('service'), 'from_version': state.get('current'),
                                'to_version': state.get('current'), 'phases': set(), 'result': None}
        if 'preflight_targets' in facts:
            self.targets.update(facts['preflight_targets'])
        # Each phase role reports a skip as <phase>_skipped: {phase, reason}.
        skip = facts.get('{0}_skipped'.format(phase)) if phase else None
        if isinstance(skip, dict) and 'reason' in skip:
            span = self.phases.setdefault(skip['phase'], {'start': _now(), 'end': _now(), 'outcome': 'ok'})
            if span.get('reason') != skip['reason']:
                span.update(outcome='skipped', reason=skip['reason'])
                self._display.display('[ops.rollback] phase {0} skipped: {1}'.format(skip['phase'], skip['reason']),
                                      color='cyan')
        info = self.hosts.get(host)
        if info is None:
            return
        if phase:
            info['phases'].add(phase)
        # A failed switch reports where current points too: back at the running
        # release after a failed restart, at the target when it is unhealthy.
        if phase == 'roll_back' and res.get('to_version'):
            info['to_version'] = res['to_version']
        if outcome in ('failed', 'unreachable'):
            # The last failure wins: a rescue's closing message says the most.
            info['result'] = '{0}: {1}'.format(outcome, res.get('msg', '')).strip()

    # Summary ---------------------------------------------------------------

    def v2_playbook_on_stats(self, stats):
        if not self.phases:
            return
        lines = self.summary_lines()
        for line in lines:
            self._display.display(line)
        self._write({
            'event': 'summary', 'at': _stamp(_now()), 'check_mode': self.check_mode,
            'targets': self.targets,
            'hosts': dict((h, dict(i, phases=sorted(i['phases']))) for h, i in self.hosts.items()),
            'phases': dict((p, {'outcome': s['outcome'], 'reason': s.get('reason'),
                                'seconds': round((s['end'] - s['start']).total_seconds(), 3)})
                           for p, s in self.phases.items()),
        })
        if self._file:
            self._file.close()
            self._file = None

    def _host_result(self, info):
        if info['result']:
            return 'FAILED ({0})'.format(info['result'])
        if 'roll_back' not in info['phases']:
            return 'not reached: left on {0}'.format(info['from_version'])
        if self.check_mode:
            return 'plan only (check mode)'
        return 'ok' if info['from_version'] != info['to_version'] else 'ok, already there'

    def summary_lines(self):
        title = 'OPS.ROLLBACK SUMMARY' + (' (check mode: plan only, nothing changed)' if self.check_mode else '')
        lines = ['', title + ' ' + '*' * max(3, 78 - len(title))]
        services = sorted(set(i['service'] for i in self.hosts.values()))
        for service in services:
            target = self.targets.get(service, {})
            members = sorted(h for h, i in self.hosts.items() if i['service'] == service)
            failed = [h for h in members if self.hosts[h]['result']]
            if failed:
                verdict = 'FAILED on {0}'.format(', '.join(failed))
            elif self.check_mode:
                verdict = 'planned'
            elif self.phases.get('verify', {}).get('outcome') == 'ok':
                verdict = 'done'   # converged and verified (DESIGN.md, Words)
            else:
                verdict = 'rolled back but NOT verified'
            lines.append('service {0}: target {1} (rule: {2}) -> {3}'.format(
                service, target.get('version', '(not chosen)'), target.get('rule', '-'), verdict))
            width = max(len(h) for h in members)
            for host in members:
                info = self.hosts[host]
                lines.append('  {0}  {1} -> {2}  {3}'.format(
                    host.ljust(width), info['from_version'] or '(none)', info['to_version'] or '(none)',
                    self._host_result(info)))
        lines.append('phases:')
        for phase in PHASES:
            span = self.phases.get(phase)
            if span is None:
                lines.append('  {0:<16} not run'.format(phase))
            elif span['outcome'] == 'skipped':
                lines.append('  {0:<16} skipped: {1}'.format(phase, span['reason']))
            else:
                lines.append('  {0:<16} {1:<7} {2:6.1f} s'.format(
                    phase, span['outcome'], (span['end'] - span['start']).total_seconds()))
        lines.append('timeline: {0}'.format(self.path))
        return lines
