# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private doc fragment: the database connection options (module_utils/db/connection.py DB_CONNECTION_SPEC)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  engine:
    description:
      - The database engine. V(mysql) covers MySQL and MariaDB.
    type: str
    required: true
    choices: [postgresql, mysql]
  login_host:
    description:
      - Host of the database server. Default, the client tools' default (the local socket).
    type: str
  login_port:
    description:
      - Port of the database server. Default, the engine's (5432, 3306).
    type: int
  login_user:
    description:
      - User to connect as. Default, the client tools' default (the system user's name for PostgreSQL).
    type: str
  login_password:
    description:
      - Password of O(login_user). It never appears in the arguments of a process, in logs or in results.
        PostgreSQL tools get it through E(PGPASSWORD) in their environment, MySQL/MariaDB tools through a
        defaults file readable only by the user running the module, removed afterwards.
    type: str
  db:
    description:
      - The database.
    type: str
  connect_timeout:
    description:
      - Seconds to wait for a connection before failing.
    type: int
    default: 10
requirements:
  - The engine's command-line tools on the host the module runs on (C(psql), C(pg_dump), C(pg_restore) from
    postgresql-client; C(mariadb)/C(mysql) and C(mariadb-dump)/C(mysqldump) from mariadb-client or mysql-client).
    No Python database driver is needed.
"""
