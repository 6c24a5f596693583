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
  - Records every task of a rollback as one JSON line with its phase, task, host, start, end and outcome. A task
    that measured metrics (M(ops.rollback.metrics_check), also in a loop) adds its checks with their values at the
    start and the end of its window, its thresholds and whether each passed.
    The phase is the ops.rollback phase role the task runs in (decide, announce, preflight, protect_data,
    prepare_traffic, roll_back, edge, verify, restore_traffic, report).
  - At the end of the run, prints a summary. It gives each service's verdict (V(done), V(rolled back but NOT verified),
    V(FAILED on <hosts>) or V(planned)), each host with the version it ran before and runs now, and the duration and
    outcome of each phase, or why it was skipped. The summary is also the last line of the timeline.
  - The verdict is the one the report phase computed (C(report_verdicts)); the callback only renders it.
  - The first SIGINT (Ctrl-C) or SIGTERM sent to C(ansible-playbook) asks the run to stop instead of ending it at
    once. The hosts rolling back now finish their step, no further batch starts, every lock is released and the
    summary printed (P(ops.rollback.stop_requested#lookup) tells the tasks). A second signal ends it at once, as
    Ansible does without this callback.
  - Works beside any stdout callback, including AWX's.
  - Secrets in URLs are masked as C(********) in everything it writes and prints, that is the password of a
    C(user:password@) and every query value of any C(http://) or C(https://) URL, wherever it appears in a record.
    The timeline file is created readable by its owner only (mode C(0600)).
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

from ansible_collections.ops.rollback.plugins.module_utils._common.redact import mask_data, mask_urls
from ansible_collections.ops.rollback.plugins.plugin_utils.interrupt import graceful_stop, stop_requested
from ansible_collections.ops.rollback.plugins.plugin_utils.run_record import set_timeline_path

PHASES = (
    'decide', 'announce', 'preflight', 'protect_data', 'prepare_traffic',
    'roll_back', 'edge', 'verify', 'restore_traffic', 'report',
)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _stamp(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'


def measured_checks(result):
    """The values a metrics gate measured (M(ops.rollback.metrics_check)'s ``report_checks``: name, before, after,
    threshold, passed), of the task or of each item of its loop; an item that is a service (``key``) names it."""
    checks = [dict(check) for check in result.get('report_checks') or () if isinstance(check, dict)]
    for item in result.get('results') or ():
        if not isinstance(item, dict):
            continue
        label = item.get('item')
        service = label.get('key') if isinstance(label, dict) else None
        for check in item.get('report_checks') or ():
            if isinstance(check, dict):
                checks.append(dict(check, service=service) if service is not None else dict(check))
    return checks


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
        self.verdicts = None     # the report phase's report_verdicts
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
        set_timeline_path(self.path)

    def _write(self, record):
        # Task results, messages and verdicts may hold URLs with credentials or tokens in them.
        record = mask_data(record)
        # Only rollbacks get a timeline: other playbooks run with the same
        # ansible.cfg (a deploy, a drill's setup) leave no file and no summary.
        if self._file is None and not self.phases:
            self._pending.append(record)
            return
        if self._file is None:
            directory = os.path.dirname(self.path)
            if directory and not os.path.isdir(directory):
                os.makedirs(directory)
            # Created readable by its owner only (not chmod'ed later, which would leave a window): records quote
            # task messages and results.
            self._file = os.fdopen(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), 'a')
        for line in self._pending + [record]:
            self._file.write(json.dumps(line, sort_keys=True) + '\n')
        self._pending = []
        self._file.flush()

    def v2_playbook_on_start(self, playbook):
        self.check_mode = bool(context.CLIARGS.get('check'))
        # Installed here, after Ansible's own handlers: the first SIGINT or SIGTERM then stops the run gracefully.
        graceful_stop(self._display.warning)
        self._write({'event': 'start', 'at': _stamp(_now()), 'playbook': os.path.basename(playbook._file_name),
                     'check_mode': self.check_mode})

    # Tasks -----------------------------------------------------------------

    def v2_playbook_on_task_start(self, task, is_conditional):
        # Tasks of a platform role (or the lock) count for the phase that called it.
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
        checks = measured_checks(result._result)
        if checks:
            record['checks'] = checks
        self._write(record)
        if not phase:
            return
        span = self.phases.setdefault(phase, {'start': start, 'end': end, 'outcome': 'ok'})
        span['start'], span['end'] = min(span['start'], start), max(span['end'], end)
        if outcome in ('failed', 'unreachable'):
            span['outcome'] = 'failed'
        facts = result._result.get('ansible_facts') or {}
        # Each phase role reports a skip as <phase>_skipped: {phase, reason}.
        skip = facts.get('{0}_skipped'.format(phase))
        if isinstance(skip, dict) and 'reason' in skip:
            span.update(outcome='skipped', reason=skip['reason'])
        if 'report_verdicts' in facts:
            self.verdicts = facts['report_verdicts']

    # Summary ---------------------------------------------------------------

    def v2_playbook_on_stats(self, stats):
        if not self.phases:
            return
        for line in self.summary_lines():
            self._display.display(line)
        self._write({
            'event': 'summary', 'at': _stamp(_now()), 'check_mode': self.check_mode, 'verdicts': self.verdicts,
            'phases': dict((p, {'outcome': s['outcome'], 'reason': s.get('reason'),
                                'seconds': round((s['end'] - s['start']).total_seconds(), 3)})
                           for p, s in self.phases.items()),
        })
        if self._file:
            self._file.close()
            self._file = None

    def summary_lines(self):
        title = 'OPS.ROLLBACK SUMMARY' + (' (check mode: plan only, nothing changed)' if self.check_mode else '')
        lines = ['', title + ' ' + '*' * max(3, 78 - len(title))]
        if self.verdicts is None:
            lines.append('no verdict: the run ended before its report phase (see the failed task above)')
        for service, verdict in sorted((self.verdicts or {}).items()):
            lines.append('service {0}: target {1} (rule: {2}) -> {3}'.format(
                service, verdict.get('target') or '(not chosen)', verdict.get('rule') or '-', verdict['text']))
            lines.extend('  NOTE: {0}'.format(note) for note in verdict.get('notes') or ())
            hosts = verdict['hosts']
            width = max(len(h) for h in hosts) if hosts else 0
            for host in sorted(hosts):
                info = hosts[host]
                lines.append('  {0}  {1} -> {2}  {3}'.format(
                    host.ljust(width), info['from_version'] or '(none)', info['to_version'] or '(none)', info['result']))
        if stop_requested():
            lines.append('interrupted: {0} received; no batch started after it'.format(stop_requested()))
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
        return [mask_urls(line) for line in lines]
