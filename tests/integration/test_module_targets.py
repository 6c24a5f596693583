# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-module integration targets (tests/integration/targets/<module>/),
each run with ansible-playbook on one dedicated lab host reached over SSH.

The host is a container of the lab image (`scripts/lab.sh image`: Debian
with python3 and no jmespath) named ops-rollback-targets, its sshd on
127.0.0.1:2300 and its port 8000 on 127.0.0.1:8300. It is started here, not
by `scripts/lab.sh up`, so it never meets the lab's ops-rollback-lab-*
hosts or their ports, and it is removed at the end of the session.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

import pytest
import yaml

# As in conftest.py; not imported from it: `python -m pytest tests/unit
# tests/integration` loads several conftest.py, and which one `import
# conftest` finds depends on the order.
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
DOCKER = '/usr/bin/docker'
TARGETS_DIR = os.path.join(REPO, 'tests', 'integration', 'targets')
CACHE = os.environ.get('OPS_ROLLBACK_CACHE') or os.path.join(os.path.expanduser('~'), '.cache', 'ops-rollback')
KEY = os.path.join(CACHE, 'lab', 'id_ed25519')
CONTAINER = 'ops-rollback-targets'
HOST = 'targets'
SSH_PORT = 2300
HTTP_PORT = 8300
IMAGE_WAIT = 30 * 60   # the image may still be building (scripts/lab.sh image)
IMAGE_POLL = 20
SSH_WAIT = 90


def _aliases(target):
    path = os.path.join(TARGETS_DIR, target, 'aliases')
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [line.split('#', 1)[0].strip() for line in handle if line.split('#', 1)[0].strip()]


def _targets():
    """Every target that runs on its own: setup_* and hidden ones only run through others."""
    names = []
    for name in sorted(os.listdir(TARGETS_DIR)):
        if not os.path.isfile(os.path.join(TARGETS_DIR, name, 'tasks', 'main.yml')):
            continue
        if name.startswith(('setup_', 'prepare_')) or 'hidden' in _aliases(name) or 'disabled' in _aliases(name):
            continue
        names.append(name)
    return names


def _image():
    """The lab image's name, once it exists; waits while a build is running."""
    name = subprocess.run(['bash', os.path.join(REPO, 'scripts', 'lab.sh'), 'image-name'], check=True,
                          capture_output=True, text=True).stdout.strip()
    deadline = time.monotonic() + IMAGE_WAIT
    while subprocess.run([DOCKER, 'image', 'inspect', name], capture_output=True, check=False).returncode != 0:
        if time.monotonic() > deadline:
            pytest.fail('The lab image {0} does not exist after {1} s: build it with `scripts/lab.sh image`.'.format(
                name, IMAGE_WAIT))
        time.sleep(IMAGE_POLL)
    return name


def _ensure_key():
    """The lab's ssh key, made the way scripts/lab.sh makes it, under the lab's lock."""
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, 'lab.lock'), 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(KEY) and os.path.isfile(KEY + '.pub'):
            return
        os.makedirs(os.path.dirname(KEY), mode=0o700, exist_ok=True)
        for path in (KEY + '.tmp', KEY + '.tmp.pub'):
            if os.path.exists(path):
                os.unlink(path)
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'ops-rollback-lab', '-f', KEY + '.tmp'],
                       check=True)
        os.rename(KEY + '.tmp.pub', KEY + '.pub')
        os.rename(KEY + '.tmp', KEY)


def _ssh_ok():
    return subprocess.run(
        ['ssh', '-i', KEY, '-p', str(SSH_PORT), '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=3',
         '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
         'root@127.0.0.1', 'true'],
        stdin=subprocess.DEVNULL, capture_output=True, check=False).returncode == 0


def _remove_container():
    subprocess.run([DOCKER, 'rm', '-f', CONTAINER], capture_output=True, check=False)


@pytest.fixture(scope='session')
def targets_inventory(tmp_path_factory):
    """One dedicated lab host for the targets; yields the path of its inventory."""
    image = _image()
    _ensure_key()
    _remove_container()   # left over by an interrupted session
    # As `scripts/lab.sh up` starts a lab host, on ports of our own.
    started = subprocess.run(
        [DOCKER, 'run', '-d', '--init', '--name', CONTAINER, '--hostname', HOST,
         '--label', 'ops.rollback.targets=1',
         '-v', KEY + '.pub:/root/.ssh/authorized_keys:ro',
         '-p', '127.0.0.1:{0}:22'.format(SSH_PORT), '-p', '127.0.0.1:{0}:8000'.format(HTTP_PORT),
         image],
        capture_output=True, text=True, check=False)
    if started.returncode != 0:
        _remove_container()
        pytest.fail('Cannot start the container {0} from {1} (are 127.0.0.1:{2} and :{3} free?): {4}'.format(
            CONTAINER, image, SSH_PORT, HTTP_PORT, started.stderr.strip()))
    try:
        deadline = time.monotonic() + SSH_WAIT
        while not _ssh_ok():
            if time.monotonic() > deadline:
                logs = subprocess.run([DOCKER, 'logs', '--tail', '30', CONTAINER], capture_output=True, text=True,
                                      check=False)
                pytest.fail('No ssh on 127.0.0.1:{0} after {1} s; container log:\n{2}{3}'.format(
                    SSH_PORT, SSH_WAIT, logs.stdout, logs.stderr))
            time.sleep(1)
        # The variables scripts/lab.sh writes for a lab host, for this one host.
        inventory = {'all': {'hosts': {HOST: {
            'ansible_host': '127.0.0.1',
            'ansible_port': SSH_PORT,
            'ansible_user': 'root',
            'ansible_ssh_private_key_file': KEY,
            'ansible_python_interpreter': '/usr/bin/python3',
            'lab_http_url': 'http://127.0.0.1:{0}'.format(HTTP_PORT),
        }}}}
        path = tmp_path_factory.mktemp('targets') / 'hosts.yml'
        path.write_text(yaml.safe_dump(inventory, default_flow_style=False))
        yield str(path)
    finally:
        _remove_container()


@pytest.mark.parametrize('target', _targets())
def test_target(target, targets_inventory, tmp_path):
    playbook = tmp_path / 'target.yml'
    playbook.write_text(yaml.safe_dump([{
        'name': 'Integration target ' + target,
        'hosts': HOST,
        'gather_facts': False,
        'tasks': [{
            'name': 'Run the target ' + target,
            'ansible.builtin.include_tasks': os.path.join(TARGETS_DIR, target, 'tasks', 'main.yml'),
        }],
    }], sort_keys=False))
    # The targets directory is the roles path, as ansible-test makes it, so a
    # target runs its setup_* targets with ansible.builtin.include_role.
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_ROLES_PATH=TARGETS_DIR,
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', OPS_ROLLBACK_TIMELINE=str(tmp_path / 'timeline.jsonl'))
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', targets_inventory, str(playbook)],
                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, 'target {0}: ansible-playbook exited {1}:\n{2}'.format(
        target, proc.returncode, proc.stdout[-8000:])
