# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import multiprocessing

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError, RollbackError
from ansible_collections.ops.rollback.plugins.module_utils.release.ledger import FileLedger


def test_record_is_idempotent_and_newest_verdict_wins(tmp_path):
    ledger = FileLedger.beside(str(tmp_path))
    assert ledger.record('v1.3.0', 'good') is True
    assert ledger.record('v1.3.0', 'good') is False
    assert ledger.record('v1.3.0', 'bad', note='INC-1') is True
    assert (ledger.versions('good'), ledger.versions('bad')) == ([], ['v1.3.0'])
    stored = json.loads((tmp_path / 'rollback-ledger.json').read_text())
    assert [(e['version'], e['state'], e['note']) for e in stored['entries']] == [
        ('v1.3.0', 'good', ''), ('v1.3.0', 'bad', 'INC-1')]


@pytest.mark.parametrize('version, state', [('../x', 'good'), ('v1', 'great')])
def test_bad_input_is_refused_and_nothing_written(tmp_path, version, state):
    ledger = FileLedger.beside(str(tmp_path))
    with pytest.raises(InvalidInputError):
        ledger.record(version, state)
    assert not (tmp_path / 'rollback-ledger.json').exists()


@pytest.mark.parametrize('content, why', [
    ('{not json', 'not valid JSON'),
    ('[1, 2]', 'it is not a JSON object with a list of "entries"'),
    ('{"entries": {"v1": "good"}}', 'it is not a JSON object with a list of "entries"'),
    ('{"entries": [{"version": "v1.2.9", "state": "good"}, "v1.3.0"]}', 'entry 2 is not an object with a "version"'),
    (None, 'Is a directory'),
])
def test_malformed_ledger_names_the_file_and_the_fix(tmp_path, content, why):
    path = tmp_path / 'rollback-ledger.json'
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    with pytest.raises(RollbackError) as caught:
        FileLedger.beside(str(tmp_path)).verdicts()
    assert caught.value.msg.startswith('Cannot read the release ledger {0}: {1}'.format(path, why))
    assert 'move it aside to start an empty ledger' in caught.value.msg


def _record_many(path, worker):
    ledger = FileLedger(path)
    for i in range(20):
        ledger.record('v{0}.{1}'.format(worker, i), 'good')


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / 'rollback-ledger.json')
    workers = [multiprocessing.Process(target=_record_many, args=(path, n)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(FileLedger(path).versions('good')) == 80
