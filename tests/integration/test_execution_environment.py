# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment: the collection's metadata and the image's definition.

The collection tarball (``ansible-galaxy collection build``) must carry
meta/execution-environment.yml and the files it names, with the pins of
requirements.txt (one source of truth: a drift fails here). The repository's
execution-environment.yml must pass ``ansible-builder create``, and the build
context it writes must install the collection and the pins: its galaxy stage
(``ansible-galaxy collection install -r requirements.yml`` in _build) and its
builder stage's introspection (``ansible-builder introspect``) are run here as
the image build runs them, without a container (no registry is reachable).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile

import bindep.depends
import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
PIN = re.compile(r'^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^]]*\])?==(\S+)$')


def pins(lines):
    """{normalized name: version} of the ``name==version`` lines (comments, -r lines and blanks skipped)."""
    found = {}
    for line in lines:
        line = line.split('#', 1)[0].strip()
        if not line or line.startswith('-'):
            continue
        match = PIN.match(line)
        assert match, f'not pinned with ==: {line!r}'
        found[re.sub(r'[-_.]+', '-', match.group(1)).lower()] = match.group(2)
    return found


def read_pins(name):
    with open(os.path.join(REPO, name)) as handle:
        return pins(handle)


def galaxy_version():
    with open(os.path.join(REPO, 'galaxy.yml')) as handle:
        return yaml.safe_load(handle)['version']


def run(argv, cwd, env=None):
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    assert proc.returncode == 0, f'{" ".join(argv)} failed ({proc.returncode}):\n{proc.stdout}'
    return proc.stdout


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    """The collection built as a user builds it, into a temporary directory."""
    out = tmp_path_factory.mktemp('build')
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--force', '--output-path', str(out), REPO],
        cwd=REPO)
    path = out / f'ops-rollback-{galaxy_version()}.tar.gz'
    assert path.is_file(), sorted(os.listdir(out))
    return path


@pytest.fixture(scope='module')
def tar_members(tarball):
    """{path: text} of the tarball's meta/ files."""
    with tarfile.open(tarball) as archive:
        return {member.name: archive.extractfile(member).read().decode()
                for member in archive.getmembers() if member.isfile() and member.name.startswith('meta/')}


def test_the_tarball_carries_the_ee_metadata_and_the_files_it_names(tar_members):
    assert 'meta/execution-environment.yml' in tar_members, sorted(tar_members)
    meta = yaml.safe_load(tar_members['meta/execution-environment.yml'])
    assert meta['version'] == 1
    deps = meta['dependencies']
    assert deps == {'python': 'meta/ee-requirements.txt', 'system': 'meta/ee-bindep.txt'}
    for path in deps.values():
        assert path in tar_members, f'{path}, named by meta/execution-environment.yml, is not in the tarball'


def test_the_ee_python_requirements_are_the_pins_of_requirements_txt(tar_members):
    controller = read_pins('requirements.txt')
    shipped = pins(tar_members['meta/ee-requirements.txt'].splitlines())
    # ansible-core comes from the execution environment's definition, everything else from the collection.
    expected = {name: version for name, version in controller.items() if name != 'ansible-core'}
    assert shipped == expected, (
        'meta/ee-requirements.txt drifted from requirements.txt: '
        f'only in requirements.txt {sorted(set(expected.items()) - set(shipped.items()))}, '
        f'only in meta/ee-requirements.txt {sorted(set(shipped.items()) - set(expected.items()))}')


def test_the_bindep_file_installs_the_clients_the_collection_runs(tar_members):
    depends = bindep.depends.Depends(tar_members['meta/ee-bindep.txt'])
    # ssh (connections), git (migration_check), psql/pg_dump/pg_restore and mariadb/mariadb-dump (db_backup).
    wanted = {
        'platform:dpkg': {'openssh-client', 'git', 'postgresql-client', 'mariadb-client'},
        'platform:rpm': {'openssh-clients', 'git', 'postgresql', 'mariadb'},
    }
    for profile, packages in wanted.items():
        assert {rule[0] for rule in depends.active_rules([profile])} == packages, profile


def test_the_ee_definition_pins_ansible_core_and_runner_and_names_this_version():
    with open(os.path.join(REPO, 'execution-environment.yml')) as handle:
        definition = yaml.safe_load(handle)
    assert definition['version'] == 3
    deps = definition['dependencies']
    assert deps['ansible_core']['package_pip'] == 'ansible-core==' + read_pins('requirements.txt')['ansible-core']
    assert deps['ansible_runner']['package_pip'] == 'ansible-runner==' + read_pins('requirements-test.txt')[
        'ansible-runner']
    tarball_name = f'ops-rollback-{galaxy_version()}.tar.gz'
    assert deps['galaxy']['collections'] == [{'name': 'collections/' + tarball_name, 'type': 'file'}], (
        "the definition's collection tarball does not carry galaxy.yml's version")
    assert definition['additional_build_files'] == [{'src': 'build/' + tarball_name, 'dest': 'collections'}]


def test_ansible_builder_create_writes_a_context_that_installs_the_collection_and_its_pins(tarball, tmp_path):
    # What ansible-builder needs beside the definition: the tarball where the README's build writes it.
    shutil.copy(os.path.join(REPO, 'execution-environment.yml'), tmp_path)
    (tmp_path / 'build').mkdir()
    shutil.copy(tarball, tmp_path / 'build')
    out = run([os.path.join(BIN, 'ansible-builder'), 'create', '-f', 'execution-environment.yml',
               '--context', 'context', '--output-filename', 'Containerfile'], cwd=tmp_path)
    assert 'No matches' not in out, out
    context = tmp_path / 'context'
    build = context / '_build'

    containerfile = (context / 'Containerfile').read_text()
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core==2.19.14 ansible-runner==2.4.3"' in containerfile
    assert 'ARG EE_BASE_IMAGE="registry.access.redhat.com/ubi9/ubi-minimal:9.6"' in containerfile
    assert 'ARG PYCMD="/usr/bin/python3.12"' in containerfile
    assert 'ARG PKGMGR="/usr/bin/microdnf"' in containerfile
    # The galaxy stage: COPY _build /build, WORKDIR /build, then the collection install from requirements.yml.
    assert 'COPY _build /build' in containerfile
    assert re.search(r'ansible-galaxy collection install .*-r requirements.yml '
                     r'--collections-path "/usr/share/ansible/collections"', containerfile)
    # The builder stage introspects the installed collections, then the final stage installs what it found.
    assert 'introspect.py introspect' in containerfile
    assert 'RUN /output/scripts/install-from-bindep' in containerfile
    assert (build / 'collections' / tarball.name).is_file()

    # The galaxy stage, run here: the same command in the same directory, into a temporary collections path.
    # As in the image, no ansible.cfg of this checkout: its collections path would make the collection
    # look installed already.
    installed = tmp_path / 'usr-share-ansible-collections'
    env = {name: value for name, value in os.environ.items() if not name.startswith('ANSIBLE_')}
    env.update(HOME=str(tmp_path), ANSIBLE_COLLECTIONS_PATH=str(installed))
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '-r', 'requirements.yml',
         '--collections-path', str(installed)], cwd=build, env=env)
    collection = installed / 'ansible_collections' / 'ops' / 'rollback'
    assert (collection / 'meta' / 'execution-environment.yml').is_file()
    assert (collection / 'extensions' / 'eda' / 'plugins' / 'event_source' / 'alertmanager.py').is_file()

    # The builder stage's introspection, run here: what pip and bindep will install in the image.
    run([os.path.join(BIN, 'ansible-builder'), 'introspect', str(installed),
         '--write-pip', str(tmp_path / 'pip.txt'), '--write-bindep', str(tmp_path / 'bindep.txt')], cwd=tmp_path)
    image_pins = pins((tmp_path / 'pip.txt').read_text().splitlines())
    expected = {name: version for name, version in read_pins('requirements.txt').items() if name != 'ansible-core'}
    assert image_pins == expected
    bindep_lines = {line.split('#', 1)[0].strip() for line in (tmp_path / 'bindep.txt').read_text().splitlines()}
    assert {'openssh-clients [platform:rpm]', 'postgresql [platform:rpm]', 'mariadb [platform:rpm]',
            'git [platform:dpkg platform:rpm]'} <= bindep_lines
