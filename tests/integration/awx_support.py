# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What AWX does with a survey, for tests that run a job as AWX would.

AWX itself (a Django service with its database, task manager and receptor)
cannot run here, so these are its rules, written after its source:

- the survey spec checks of ``POST /api/v2/job_templates/<id>/survey_spec/``
  (awx/api/views: ``JobTemplateSurveySpec._validate_spec_data``);
- the launch form, which leaves out the answers left empty (awx/ui
  ``getSurveyValues``: ``''`` and ``[]`` are not sent);
- the launch checks of the answers (awx/main/models/mixins.py
  ``SurveyJobTemplateMixin._survey_element_validation``), which refuse the
  launch with HTTP 400;
- the job's extra vars (``_update_unified_job_kwargs``): the template's
  extra_vars, then each survey default *that passes the question's own
  checks* (so ``default: ""`` with ``min: 1`` adds nothing), then the answers;
  and the ``awx_*``/``tower_*`` variables of the job (``awx_meta_vars``).

ansible-runner then runs the playbook with that dict as ``extravars``, which
is how AWX hands it to ansible-playbook (``env/extravars`` in the job's
private data directory).
"""
from __future__ import annotations

ALLOWED_TYPES = {
    'text': str, 'textarea': str, 'password': str, 'multiplechoice': str, 'multiselect': str,
    'integer': int, 'float': (float, int),
}


class LaunchRefused(Exception):
    """AWX answered the launch with 400: the survey's answers break its rules."""


def spec_errors(survey):
    """The reasons AWX's API would refuse this survey spec (an empty list when it accepts it)."""
    errors = []
    for field, kind in (('name', str), ('description', str), ('spec', list)):
        if not isinstance(survey.get(field), kind):
            errors.append("Field '{0}' is missing from survey spec or is not a {1}.".format(field, kind.__name__))
    if errors:
        return errors
    if not survey['spec']:
        return ["'spec' doesn't contain any items."]
    seen = set()
    for idx, item in enumerate(survey['spec']):
        for field in ('type', 'question_name', 'variable', 'required'):
            if field not in item:
                errors.append("'{0}' missing from survey question {1}".format(field, idx))
            elif not isinstance(item[field], bool if field == 'required' else str):
                errors.append("'{0}' in survey question {1} has the wrong type".format(field, idx))
        if errors:
            continue
        if item['variable'] in seen:
            errors.append("'variable' '{0}' duplicated in survey question {1}.".format(item['variable'], idx))
        seen.add(item['variable'])
        if item['type'] not in ALLOWED_TYPES:
            errors.append("'{0}' in survey question {1} is not an allowed question type.".format(item['type'], idx))
            continue
        if 'default' in item and not isinstance(item['default'], ALLOWED_TYPES[item['type']]):
            errors.append('Default value {0!r} in survey question {1} has the wrong type.'.format(item['default'], idx))
        for key in ('min', 'max'):
            if item.get(key) is not None and not isinstance(item[key], int):
                errors.append('The {0} limit in survey question {1} expected to be integer.'.format(key, idx))
        if item['type'] in ('multiplechoice', 'multiselect') and 'choices' not in item:
            errors.append('Survey question {0} of type {1} must specify choices.'.format(idx, item['type']))
    return errors


def choices(item):
    value = item.get('choices') or []
    return value.split('\n') if isinstance(value, str) else list(value)


def answer_errors(item, data, validate_required=True):
    """AWX's checks of one question against the variables ``data``."""
    name = item['variable']
    if name not in data:
        return ["'{0}' value missing".format(name)] if item['required'] and validate_required else []
    value = data[name]
    errors = []
    if item['type'] in ('text', 'textarea', 'password'):
        if not isinstance(value, str):
            return ["Value {0} for '{1}' expected to be a string.".format(value, name)]
        if item.get('min') not in ('', None) and len(value) < int(item['min']):
            errors.append("'{0}' value {1} is too small (length is {2} must be at least {3}).".format(
                name, value, len(value), item['min']))
        if item.get('max') not in ('', None) and len(value) > int(item['max']):
            errors.append("'{0}' value {1} is too large (must be no more than {2}).".format(name, value, item['max']))
    elif item['type'] == 'multiplechoice' and value not in choices(item):
        errors.append("Value {0} for '{1}' expected to be one of {2}.".format(value, name, choices(item)))
    elif item['type'] == 'multiselect':
        if not isinstance(value, list):
            return ["'{0}' value is expected to be a list.".format(name)]
        errors.extend("Value {0} for '{1}' expected to be one of {2}.".format(v, name, choices(item))
                      for v in value if v not in choices(item))
    return errors


def launch_extra_vars(survey, form, template_extra_vars=None, job=None):
    """The extra vars of the job AWX starts when a user fills the launch form with ``form``.

    ``form``: the survey's fields as the user left them (``''`` for a field left empty).
    ``job``: the job's own facts for the ``awx_*`` variables (id, template, user...).
    Raises LaunchRefused as AWX's API does when an answer breaks the survey's rules.
    """
    answers = dict((k, v) for k, v in form.items() if v != '' and v != [])
    errors = []
    for item in survey['spec']:
        errors.extend(answer_errors(item, answers))
    if errors:
        raise LaunchRefused('; '.join(errors))
    extra_vars = dict(template_extra_vars or {})
    for item in survey['spec']:
        if item.get('default') is not None and not answer_errors(item, {item['variable']: item['default']}):
            extra_vars[item['variable']] = item['default']
    extra_vars.update(answers)
    extra_vars.update(meta_vars(**(job or {})))
    return extra_vars


def meta_vars(job_id=42, launch_type='manual', user_id=3, user_name='alice', user_email='alice@example.com',
              template_id=7, template_name='Rollback', project_revision='0123456789abcdef', scm_branch=''):
    """The ``awx_*`` and ``tower_*`` variables AWX adds to a job launched by a user from a template."""
    own = {'job_id': job_id, 'job_launch_type': launch_type, 'user_id': user_id, 'user_name': user_name,
           'user_email': user_email, 'user_first_name': '', 'user_last_name': '',
           'job_template_id': template_id, 'job_template_name': template_name,
           'project_revision': project_revision, 'project_scm_branch': scm_branch}
    return dict(('{0}_{1}'.format(prefix, key), value) for prefix in ('awx', 'tower') for key, value in own.items())
