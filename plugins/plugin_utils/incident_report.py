# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident report of a rollback: one JSON document built from the run's
facts (verdicts, decisions, backups, checks) and its timeline, and the
Markdown rendered from that document by ``incident_report.md.j2`` beside
this file. The action plugin ops.rollback.incident_report writes both.

The report holds nothing that changes between two runs with the same inputs
(no "generated at"), so writing it again is not a change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import tempfile

import jinja2

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.ops.rollback.plugins.callback.timeline import PHASES
from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils._common.redact import mask_data
from ansible_collections.ops.rollback.plugins.plugin_utils.verdict import (
    DONE, FAILED, NOT_VERIFIED, PLANNED, REFUSED,
)

SCHEMA_VERSION = 1
TEMPLATE = 'incident_report.md.j2'
FILE_MODE = 0o600
NOT_WRITTEN = 'Nothing was written.'

# Letters, digits, '.', '_' and '-', not starting with a dot: the id names the report files.
_INCIDENT_ID = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]{0,99}')

# Worst first: the report's outcome is the worst state among its services.
_OUTCOME_ORDER = (FAILED, REFUSED, NOT_VERIFIED, PLANNED, DONE)
# The report's outcome in words, at the top of the Markdown.
OUTCOME_WORDS = {
    FAILED: 'FAILED', REFUSED: 'refused, nothing was changed', NOT_VERIFIED: 'rolled back but NOT verified',
    PLANNED: 'planned (check mode)', DONE: 'done', 'unknown': 'unknown: no service has a verdict',
}
# States in which the rollback ran, so the version left is recorded bad in the ledger.
_ROLLED_BACK = (DONE, NOT_VERIFIED, FAILED)

# The runbook's Post-Rollback Checklist (rollback-procedures.md). An item with
# a key is ticked when the run's facts show it done (see _ticks); the others
# are for people.
CHECKLIST = (
    ('Immediate (< 5 minutes)', (
        ('Service health verified', 'health_verified'),
        ('Error rate dropping', None),
        ('Metrics stabilizing', None),
        ('Team notified', 'team_notified'),
    )),
    ('Short-term (< 1 hour)', (
        ('Incident ticket created', 'ticket_created'),
        ('Stakeholders notified', None),
        ('Logs preserved for investigation', None),
        ('Deployment record updated', 'record_updated'),
    )),
    ('Investigation (< 24 hours)', (
        ('Root cause identified', None),
        ('Fix developed', None),
        ('Fix tested in staging', None),
        ('Deployment plan for fix', None),
    )),
    ('Long-term', (
        ('RCA completed', None),
        ('Preventive measures identified', None),
        ('Monitoring improved (if needed)', None),
        ('Runbook updated', None),
    )),
)

ARGUMENT_SPEC = dict(
    incident_id=dict(type='str', required=True),
    dest=dict(type='path', required=True),
    timeline=dict(type='path'),
    verdicts=dict(type='dict'),
    services=dict(type='dict', default={}),
    reason=dict(type='str'),
    impact=dict(type='str'),
    severity=dict(type='str'),
    started=dict(type='str'),
    finished=dict(type='str'),
    initiated_by=dict(type='str'),
    ticket=dict(type='str'),
    trigger=dict(type='dict'),
    check_mode_run=dict(type='bool'),
)

# What each value of the services option holds; checked per service, so an error names it.
SERVICE_SPEC = dict(
    from_version=dict(type='str'),
    to_version=dict(type='str'),
    decision=dict(type='dict', options=dict(
        decision=dict(type='str', required=True),
        advised=dict(type='str'),
        reasons=dict(type='list', elements='str', default=[]),
        forced=dict(type='bool', default=False),
        force_reason=dict(type='str'),
    )),
    backups=dict(type='list', elements='dict', default=[], options=dict(
        path=dict(type='str', required=True),
        db=dict(type='str'),
        engine=dict(type='str'),
        size=dict(type='int'),
        sha256=dict(type='str'),
        verified=dict(type='raw'),
    )),
    checks=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True),
        before=dict(type='raw'),
        after=dict(type='raw'),
        threshold=dict(type='raw'),
        passed=dict(type='bool'),
    )),
    migrations=dict(type='dict'),
    notifications=dict(type='list', elements='dict', default=[], options=dict(
        event=dict(type='str'),
        channels=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            delivered=dict(type='bool', required=True),
        )),
    )),
    deployment_record_updated=dict(type='bool', default=False),
)
# Results of rollback_decision, db_backup (its backup) and notify are taken as they are: the keys the
# report does not show are left out before the rest is checked.
_AS_RETURNED = ('decision', 'backups', 'notifications')


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------

def check_incident_id(incident_id):
    if not _INCIDENT_ID.fullmatch(incident_id or ''):
        raise InvalidInputError(
            'incident_id {0!r} cannot name the report files: use 1 to 100 letters, digits, ".", "_" or "-", '
            'starting with a letter or digit (for example INC-2026-0042). {1}'.format(incident_id, NOT_WRITTEN),
            option='incident_id')


def service_inputs(services):
    """``services`` with each value checked against ``SERVICE_SPEC`` and its defaults filled in."""
    checked = {}
    for name, given in sorted((services or {}).items()):
        if not isinstance(given, dict):
            raise InvalidInputError(
                'services.{0} must be a mapping of from_version, to_version, decision, backups, checks, '
                'migrations, notifications and deployment_record_updated, not {1!r}. {2}'.format(
                    name, given, NOT_WRITTEN), option='services')
        given = dict(given)
        for key in _AS_RETURNED:
            if key in given:
                given[key] = _documented(given[key], SERVICE_SPEC[key]['options'])
        result = ArgumentSpecValidator(SERVICE_SPEC).validate(given)
        if result.error_messages:
            # Unsupported keys come without the words AnsibleModule puts before them.
            errors = [('unsupported parameters: ' if isinstance(error, UnsupportedError) else '') + error.msg.rstrip('.')
                      for error in result.errors]
            raise InvalidInputError('services.{0}: {1}. Fix that service in the services option. {2}'.format(
                name, '; '.join(errors), NOT_WRITTEN), option='services')
        checked[name] = result.validated_parameters
    return checked


def _documented(value, options):
    """``value`` (a mapping, or a list of them) with only the keys ``options`` names, at every level."""
    if isinstance(value, list):
        return [_documented(item, options) for item in value]
    if not isinstance(value, dict):
        return value
    return dict((key, _documented(item, options[key]['options']) if 'options' in options[key] else item)
                for key, item in value.items() if key in options)


def _moment(text, option):
    """``text`` (ISO 8601) as an aware datetime; without a zone it is UTC."""
    try:
        moment = datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidInputError(
            '{0} {1!r} is not an ISO 8601 time: give it as 2026-11-23T03:00:00Z (Ansible: '
            '"{{{{ now(utc=true).isoformat() }}}}"). {2}'.format(option, text, NOT_WRITTEN), option=option)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def _seconds(start, end):
    return round((end - start).total_seconds(), 3)


def _span_seconds(start, end):
    """Seconds between two timeline stamps; None when a record's stamp cannot be read."""
    try:
        return _seconds(_moment(start, 'timeline'), _moment(end, 'timeline'))
    except InvalidInputError:
        return None


# ---------------------------------------------------------------------------
# the timeline
# ---------------------------------------------------------------------------

def read_timeline(path):
    """The records of the last run in the timeline file ``path`` and warnings about it.

    The callback appends, so a file given by OPS_ROLLBACK_TIMELINE may hold
    several runs: each begins with a ``start`` record, and the report is
    about the last one. A missing file is a warning, not an error.
    """
    if not path:
        return [], []
    try:
        with open(path) as handle:
            lines = handle.readlines()
    except OSError as err:
        return [], ['Cannot read the timeline {0} ({1}): the report has no phases and no failed tasks. '
                    'Pass the file the timeline callback wrote (OPS_ROLLBACK_TIMELINE).'.format(
                        path, err.strerror or err)]
    records, unreadable = [], 0
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            unreadable += 1
            continue
        if not isinstance(record, dict):
            unreadable += 1
        elif record.get('event') == 'start':
            records = [record]
        else:
            records.append(record)
    warnings = []
    if unreadable:
        warnings.append('Skipped {0} line(s) of the timeline {1} that are not timeline records '
                        '(JSON objects).'.format(unreadable, path))
    return records, warnings


def timeline_phases(records, skipped=None):
    """Each phase of ``PHASES`` the run reached: ``phase``, ``outcome`` (ok, failed, skipped),
    ``start``, ``end``, ``duration_seconds`` and, when skipped, ``reason``.

    Why a phase was skipped comes from the summary record the callback
    writes at the end of the run, else from ``skipped`` (``{phase: reason}``,
    the ``<phase>_skipped`` facts of a report made while the run goes on).
    """
    summary = _summary(records).get('phases') or {}
    found = {}
    for record in records:
        if record.get('event') != 'task' or record.get('phase') not in PHASES:
            continue
        span = found.setdefault(record['phase'], {'start': record['start'], 'end': record['end'], 'failed': False})
        span['start'], span['end'] = min(span['start'], record['start']), max(span['end'], record['end'])
        span['failed'] = span['failed'] or record.get('outcome') in ('failed', 'unreachable')
    phases = []
    for phase in PHASES:
        if phase not in found:
            continue
        span = found[phase]
        reason = (summary.get(phase) or {}).get('reason') or (skipped or {}).get(phase)
        entry = {
            'phase': phase, 'start': span['start'], 'end': span['end'],
            'duration_seconds': _span_seconds(span['start'], span['end']),
            'outcome': 'failed' if span['failed'] else ('skipped' if reason else 'ok'), 'reason': None,
        }
        if entry['outcome'] == 'skipped':
            entry['reason'] = reason
        phases.append(entry)
    return phases


def failed_tasks(records):
    """Tasks that failed (not those whose errors were ignored), with their messages."""
    return [
        {'phase': record.get('phase'), 'task': record.get('task'), 'host': record.get('host'),
         'at': record.get('end'), 'msg': record.get('msg') or ''}
        for record in records
        if record.get('event') == 'task' and record.get('outcome') in ('failed', 'unreachable')
    ]


def _summary(records):
    return next((r for r in reversed(records) if r.get('event') == 'summary'), {})


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------

def _service(name, verdict, given, check_mode_run):
    hosts = (verdict or {}).get('hosts') or {}
    target = given.get('to_version') or (verdict or {}).get('target')
    if not target:
        reached = set(host.get('to_version') for host in hosts.values())
        target = reached.pop() if len(reached) == 1 else None
    if given.get('from_version'):
        left = [given['from_version']]
    else:
        left = sorted(set(h.get('from_version') for h in hosts.values() if h.get('from_version')) - {target})
    state = (verdict or {}).get('state')
    return {
        'state': state,
        'verdict': (verdict or {}).get('text') or 'no verdict: the run ended before its report phase',
        'from_version': ', '.join(left) or None,
        'to_version': target,
        'target_rule': (verdict or {}).get('rule'),
        'notes': list((verdict or {}).get('notes') or []),
        'failed_hosts': list((verdict or {}).get('failed_hosts') or []),
        'hosts': dict((host, {'from_version': info.get('from_version'), 'to_version': info.get('to_version'),
                              'result': info.get('result')}) for host, info in hosts.items()),
        'decision': given.get('decision'),
        'backups': given.get('backups') or [],
        'checks': given.get('checks') or [],
        'migrations': given.get('migrations'),
        'notifications': given.get('notifications') or [],
        'deployment_record_updated': bool(given.get('deployment_record_updated')),
        'do_not_redeploy': left if state in _ROLLED_BACK and not check_mode_run else [],
    }


def _ticks(services, ticket, check_mode_run):
    """Which checklist items the run's facts show done. A plan did nothing."""
    rolled_back = [s for s in services.values() if s['state'] in _ROLLED_BACK]
    if check_mode_run or not services:
        return {}
    return {
        'health_verified': all(s['state'] == DONE for s in services.values()),
        'team_notified': all(any(channel['delivered'] for sent in s['notifications'] for channel in sent['channels'])
                             for s in services.values()),
        'ticket_created': bool(ticket),
        'record_updated': bool(rolled_back) and all(s['deployment_record_updated'] for s in rolled_back),
    }


def _outcome(services):
    states = set(s['state'] for s in services.values())
    return next((state for state in _OUTCOME_ORDER if state in states), 'unknown')


def build_report(params, records, skipped=None):
    """The report document (schema ``SCHEMA_VERSION``, see the module's RETURN) from the validated
    options and the timeline ``records`` of the run; every URL in it masked."""
    check_incident_id(params['incident_id'])
    given = service_inputs(params.get('services'))
    summary = _summary(records)
    start_record = next((r for r in records if r.get('event') == 'start'), {})
    check_mode_run = params.get('check_mode_run')
    if check_mode_run is None:
        check_mode_run = bool(start_record.get('check_mode'))
    verdicts = params.get('verdicts')
    if verdicts is None:
        verdicts = summary.get('verdicts') or {}

    task_ends = [r['end'] for r in records if r.get('event') == 'task' and r.get('end')]
    started = params.get('started') or start_record.get('at')
    finished = params.get('finished') or summary.get('at') or (max(task_ends) if task_ends else None)
    duration = None
    start_moment = _moment(started, 'started') if started else None
    finish_moment = _moment(finished, 'finished') if finished else None
    if start_moment and finish_moment:
        duration = _seconds(start_moment, finish_moment)
        if duration < 0:
            raise InvalidInputError('finished {0} is before started {1}: swap them or fix either. {2}'.format(
                finished, started, NOT_WRITTEN), option='finished')

    services = dict(
        (name, _service(name, verdicts.get(name), given.get(name) or {}, check_mode_run))
        for name in sorted(set(verdicts) | set(given)))
    ticks = _ticks(services, params.get('ticket'), check_mode_run)
    report = {
        'schema_version': SCHEMA_VERSION,
        'incident_id': params['incident_id'],
        'ticket': params.get('ticket'),
        'check_mode_run': check_mode_run,
        'outcome': _outcome(services),
        'severity': params.get('severity'),
        'reason': params.get('reason'),
        'impact': params.get('impact'),
        'initiated_by': params.get('initiated_by'),
        'trigger': mask_data(params.get('trigger')) or None,
        'started': started,
        'finished': finished,
        'duration_seconds': duration,
        'services': services,
        'do_not_redeploy': [
            {'service': name, 'version': version, 'incident_id': params['incident_id'],
             'recorded': service['deployment_record_updated']}
            for name, service in sorted(services.items()) for version in service['do_not_redeploy']],
        'timeline': {
            'path': params.get('timeline'),
            'found': bool(records),
            'phases': timeline_phases(records, skipped),
            'failed_tasks': failed_tasks(records),
        },
        'root_cause': None,
        'lessons_learned': [],
        'checklist': [
            {'section': section, 'items': [{'item': item, 'done': bool(ticks.get(key))} for item, key in items]}
            for section, items in CHECKLIST],
    }
    # Plain JSON types from here on (Ansible may hand over its own str and dict subclasses), URLs masked.
    return mask_data(json.loads(json.dumps(report, default=str)))


def _duration(seconds):
    if seconds is None:
        return '-'
    minutes, rest = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return '{0} h {1} min {2} s'.format(hours, minutes, rest)
    return '{0} min {1} s'.format(minutes, rest) if minutes else '{0:g} s'.format(round(seconds, 1))


def _size(size):
    if size is None:
        return '-'
    shown, unit = float(size), 'bytes'
    for bigger in ('KiB', 'MiB', 'GiB', 'TiB'):
        if shown < 1024:
            break
        shown, unit = shown / 1024, bigger
    return '{0} bytes'.format(size) if unit == 'bytes' else '{0:.1f} {1} ({2} bytes)'.format(shown, unit, size)


def _cell(value):
    """``value`` as the text of one Markdown table cell."""
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if not isinstance(value, str):
        value = json.dumps(value, sort_keys=True)
    return value.replace('\\', '\\\\').replace('|', '\\|').replace('\r', ' ').replace('\n', ' ') or '-'


def render_markdown(report):
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(__file__))),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False)
    environment.filters.update(cell=_cell, duration=_duration, size=_size)
    return environment.get_template(TEMPLATE).render(report=report, outcome_words=OUTCOME_WORDS)


def report_text(report):
    """The JSON file's content: stable key order, so the same report is the same bytes."""
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + '\n'


# ---------------------------------------------------------------------------
# the files
# ---------------------------------------------------------------------------

def _current(path):
    """``(content, mode)`` of ``path``, or ``(None, None)`` when it does not exist."""
    try:
        with open(path) as handle:
            return handle.read(), os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return None, None


def _write(path, content):
    """Replace ``path`` with ``content`` at once, readable by its owner only from the start."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.' + os.path.basename(path) + '.')
    try:
        os.fchmod(handle, FILE_MODE)
        with os.fdopen(handle, 'w') as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_report(params, check_mode=False, skipped=None):
    """Build the report and write ``<dest>/<incident_id>.md`` and ``.json`` (mode 0600) unless they
    already hold it. Returns the action's result: ``changed``, ``markdown_path``, ``json_path``,
    ``report``, ``diff`` (the Markdown before and after) and ``warnings``."""
    check_incident_id(params['incident_id'])
    records, warnings = read_timeline(params.get('timeline'))
    report = build_report(params, records, skipped)
    dest = params['dest']
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise InvalidInputError('dest {0} is not a directory: give the directory for the report files. {1}'.format(
            dest, NOT_WRITTEN), option='dest')
    wanted = {
        os.path.join(dest, params['incident_id'] + '.md'): render_markdown(report),
        os.path.join(dest, params['incident_id'] + '.json'): report_text(report),
    }
    markdown_path, json_path = list(wanted)
    before = dict((path, _current(path)) for path in wanted)
    stale = [path for path, content in wanted.items() if before[path] != (content, FILE_MODE)]
    if stale and not check_mode:
        try:
            os.makedirs(dest, mode=0o700, exist_ok=True)
            for path in stale:
                _write(path, wanted[path])
        except OSError as err:
            raise RollbackError('Failed to write the incident report {0}: {1}. Check that dest can be created '
                                'and written by the user running Ansible on the controller.'.format(
                                    err.filename or dest, err.strerror or err))
    return {
        'changed': bool(stale),
        'markdown_path': markdown_path,
        'json_path': json_path,
        'report': report,
        'diff': {'before': before[markdown_path][0] or '', 'after': wanted[markdown_path],
                 'before_header': markdown_path, 'after_header': markdown_path},
        'warnings': warnings,
    }
