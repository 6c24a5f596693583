# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What compose_rollback reads and writes without compose: the image fields of compose's
normalized ``config`` output, variables as compose resolves them, ``.env`` lines, the override file."""
from __future__ import annotations

import pytest

from ansible_collections.ops.rollback.plugins.module_utils._common.errors import InvalidInputError
from ansible_collections.ops.rollback.plugins.module_utils.docker.compose import (
    interpolate,
    normalize_project_name,
    parse_config,
    parse_config_json,
    read_env_file,
    set_env_line,
    variable_of,
)
from ansible_collections.ops.rollback.plugins.module_utils.docker.compose_driver import (
    override_comments,
    render_override,
)

CONFIG_V1 = """services:
  app:
    image: shop/app:${APP_VERSION:-v2}
    ports:
    - 127.0.0.1:18901:8080/tcp
  builder:
    build:
      context: /srv/shop
  db:
    image: 'postgres:15'
    environment:
      image: not-this-one
version: '2.4'
"""


def test_the_image_fields_of_compose_config_output():
    images = {'app': 'shop/app:${APP_VERSION:-v2}', 'builder': None, 'db': 'postgres:15'}
    assert parse_config(CONFIG_V1) == ('2.4', images)
    # Four-space indents (go-yaml, compose v2) read the same.
    wide = '\n'.join(line.replace('  ', '    ') for line in CONFIG_V1.splitlines())
    assert parse_config(wide) == ('2.4', images)


def test_the_image_fields_of_compose_v2_json():
    text = '{"name": "shop", "services": {"app": {"image": "shop/app:${V}"}, "job": {"build": {"context": "."}}}}'
    assert parse_config_json(text) == (None, {'app': 'shop/app:${V}', 'job': None})


@pytest.mark.parametrize('image, found', [
    ('shop/app:${APP_VERSION}', ('tag', 'APP_VERSION')),
    ('registry:5000/shop/app:${APP_VERSION:-v2}', ('tag', 'APP_VERSION')),
    ('shop/app:$TAG', ('tag', 'TAG')),
    ('${APP_IMAGE}', ('image', 'APP_IMAGE')),
    ('${APP_IMAGE-shop/app:v1}', ('image', 'APP_IMAGE')),
    ('shop/app:v1', None),
    ('shop/${NAME}:v1', None),
    ('shop/app@${DIGEST}', None),
])
def test_which_variable_holds_the_version(image, found):
    assert variable_of(image) == found


@pytest.mark.parametrize('text, values, resolved', [
    ('app:${V}', {'V': 'v1'}, 'app:v1'),
    ('app:${V:-v2}', {'V': ''}, 'app:v2'),
    ('app:${V-v2}', {'V': ''}, 'app:'),
    ('app:${V-v2}', {}, 'app:v2'),
    ('app:$V', {'V': 'v3'}, 'app:v3'),
    ('a$$b', {}, 'a$b'),
])
def test_variables_resolve_as_compose_resolves_them(text, values, resolved):
    assert interpolate(text, values) == resolved


def test_a_required_variable_that_is_unset_is_refused():
    with pytest.raises(InvalidInputError, match='V is not set'):
        interpolate('app:${V:?}', {})


def test_env_lines_are_replaced_in_place_and_others_kept(tmp_path):
    text = '# shop\nexport OTHER="x y"\nAPP_VERSION=v2\n'
    assert set_env_line(text, 'APP_VERSION', 'sha256:ab') == '# shop\nexport OTHER="x y"\nAPP_VERSION=sha256:ab\n'
    assert set_env_line('A=1', 'B', '2') == 'A=1\nB=2\n'
    path = tmp_path / '.env'
    path.write_text(text)
    assert read_env_file(str(path)) == {'OTHER': 'x y', 'APP_VERSION': 'v2'}
    assert read_env_file(str(tmp_path / 'missing')) == {}


def test_the_override_file_reads_back_with_its_comments():
    text = render_override('2.4', {'app': 'sha256:' + 'a' * 64, 'worker': 'shop/w@sha256:' + 'b' * 64},
                           {'app': 'shop/app:v2 (v2, 183f8447ec3c)'})
    version, pins = parse_config(text)
    assert version == '2.4' and pins == {'app': 'sha256:' + 'a' * 64, 'worker': 'shop/w@sha256:' + 'b' * 64}
    assert override_comments(text) == {'app': 'shop/app:v2 (v2, 183f8447ec3c)'}


@pytest.mark.parametrize('directory, name', [('My Shop', 'myshop'), ('shop_1-b', 'shop_1-b'), ('-x', 'x')])
def test_project_names_as_compose_derives_them(directory, name):
    assert normalize_project_name(directory) == name
