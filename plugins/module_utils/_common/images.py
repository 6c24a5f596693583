# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image references as versions (DESIGN.md, Words: version).

People say ``v1.2.9`` or ``sha256:<hex>`` where a pod template says
``registry.example.com/team/app:v1.2.9@sha256:<hex>``: a revision's
*version* is its image's tag (else its digest, else the whole reference),
and every spelling of the reference names it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def parse_image(image):
    """``(name, tag, digest)`` of an image reference; tag and digest may be None."""
    name, _at, digest = image.partition('@')
    tag = None
    # A ':' after the last '/' starts the tag; one before it is a registry's port.
    if ':' in name.rsplit('/', 1)[-1]:
        name, tag = name.rsplit(':', 1)
    return name, tag, digest or None


def image_version(image):
    """What people call this image: its tag, else its digest, else the reference itself."""
    _name, tag, digest = parse_image(image)
    return tag or digest or image


def image_aliases(image):
    """Every spelling of ``version`` that names this image."""
    name, tag, digest = parse_image(image)
    aliases = {image}
    if tag:
        aliases.update((tag, '{0}:{1}'.format(name, tag)))
    if digest:
        aliases.update((digest, '{0}@{1}'.format(name, digest)))
    return sorted(aliases)
