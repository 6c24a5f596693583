# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verdict of a run from its hosts' facts: what each host serves, whether it was restarted, and why a run stopped."""
from __future__ import annotations

from ansible_collections.ops.rollback.plugins.plugin_utils.verdict import run_verdicts

TARGETS = {'demo': {'version': 'v1.2.9', 'rule': 'explicit'}}


def facts(name, current, **extra):
    base = {'inventory_hostname': name, 'rollback_service': 'demo', 'rollback_platform': 'symlink',
            'symlink_state': {'current': current}, 'verify_health': {'passed': True}}
    return dict(base, **extra)


def test_each_host_says_whether_it_was_restarted():
    verdict = run_verdicts([
        facts('lab1', 'v1.3.0', roll_back_outcome={'to_version': 'v1.2.9', 'restarted': True}),
        # An earlier run switched lab2 but was killed before its restart: this run restarted it.
        facts('lab2', 'v1.2.9', roll_back_outcome={'to_version': 'v1.2.9', 'restarted': True}),
        facts('lab3', 'v1.2.9', roll_back_outcome={'to_version': 'v1.2.9', 'restarted': False}),
    ], TARGETS)['demo']
    assert verdict['text'] == 'done'
    assert [verdict['hosts'][h]['result'] for h in ('lab1', 'lab2', 'lab3')] == [
        'ok, restarted', 'ok, already there, restarted', 'ok, already there']


def test_a_run_stopped_before_any_change_is_refused_without_ansibles_wrapping():
    wrapped = ("Task failed: Finalization of task args for 'ansible.builtin.set_fact' failed: Error while resolving "
               "value for 'preflight_targets': The filter plugin 'ops.rollback.fleet_targets' failed: Cannot roll back "
               "service demo to v9.9.9: no such version in its history.")
    verdict = run_verdicts([facts('lab1', 'v1.3.0', rollback_stopped=wrapped), facts('lab2', 'v1.3.0')], TARGETS)['demo']
    assert verdict['state'] == 'refused'
    assert verdict['text'] == ('refused: Cannot roll back service demo to v9.9.9: no such version in its history. '
                               'Nothing was changed.')
    assert verdict['hosts']['lab2']['result'] == 'unchanged, on v1.3.0'


def test_a_host_that_failed_says_which_release_it_serves():
    verdict = run_verdicts([
        facts('lab1', 'v1.3.0', roll_back_outcome={'to_version': 'v1.3.0', 'restarted': False,
                                                   'failure': 'restart killed after 120 s'},
              rollback_stopped='batch 1 failed'),
        facts('lab2', 'v1.3.0')], TARGETS)['demo']
    assert (verdict['state'], verdict['text']) == ('failed', 'FAILED on lab1')
    assert verdict['hosts']['lab1']['to_version'] == 'v1.3.0'
    assert verdict['hosts']['lab2']['result'] == 'not reached: left on v1.3.0'


def test_the_plan_notes_reach_the_verdict():
    targets = {'demo': dict(TARGETS['demo'], notes=['skipped v1.2.9: it is not deployable on 1 of 2 hosts (lab2)'])}
    verdict = run_verdicts([facts('lab1', 'v1.3.0', roll_back_outcome={'to_version': 'v1.2.9'})], targets)['demo']
    assert verdict['notes'] == ['skipped v1.2.9: it is not deployable on 1 of 2 hosts (lab2)']
