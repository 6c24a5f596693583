#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: db_backup
short_description: Dump, verify, restore, list and prune PostgreSQL and MySQL/MariaDB backups
version_added: "0.3.0"
description:
  - Protects a database before a rollback changes anything, with the engine's own tools (C(pg_dump), C(pg_restore),
    C(mysqldump)/C(mariadb-dump), C(mysql)/C(mariadb)) run on the host the module runs on.
  - O(state=dump) writes a backup into O(dest). A backup is two things side by side, the dump and its manifest,
    named C(<db>-<label>-<UTC time>), for example C(orders-pre-rollback-v1.3.0-20260130T142501Z.dump) and
    C(orders-pre-rollback-v1.3.0-20260130T142501Z.json). Characters of the database name outside C([A-Za-z0-9._-])
    become C(_) in the file name; the manifest keeps the real name.
  - PostgreSQL dumps are in C(pg_dump) custom format (one C(.dump) file) or directory format (a C(.dir) directory,
    dumped with O(jobs) parallel jobs). MySQL/MariaDB dumps are taken with C(--single-transaction) (a consistent
    snapshot of InnoDB tables without locking them) and compressed as they stream, into one C(.sql.gz) file.
  - The dump is written under a temporary name (C(.<name>.partial)), read back, and renamed only when it is
    complete. The manifest is written last, so a backup exists exactly when its manifest does. A dump tool that
    exits successfully but writes nothing, or a dump cut short, fails the task and leaves nothing behind. Files are
    mode C(0600), directories C(0700); O(dest) is created C(0700) when missing.
  - The manifest (JSON) holds the engine, database, label, creation time (UTC), format, size, sha256, every table
    with its row count, the versions of the dump tool and of the server, how long the dump took, and when the backup
    was last verified in full. The sha256 of a directory dump is the sha256 of the C(sha256sum) listing of its
    files, one line C(<sha256>  <relative path>) per file in byte order of the paths.
  - Row counts are exact (C(count(*))), read in one snapshot just before the dump starts. On a database written to
    meanwhile they can differ from what the dump holds.
  - O(state=verify) checks size and sha256 against the manifest, then reads the whole dump back. For PostgreSQL that
    is C(pg_restore --list) and a full C(pg_restore) to C(/dev/null), which decompresses every data block. For MySQL
    it is a full decompression and the C(-- Dump completed) line that C(mysqldump) writes last. It fails on an
    altered, truncated or empty dump, and records the time of the verification in the manifest.
  - O(state=restore) restores a backup into O(db), by default the database it was taken from. The size and sha256 are
    checked first. A missing database is created. A database that already has tables is refused unless
    O(replace=true). PostgreSQL restores run in one transaction (unless O(jobs) is above 1), so a failed restore
    leaves the database as it was. The result compares the row count of every table with the manifest.
  - O(state=listed) reports the backups in O(dest), newest first. O(state=prune) removes old backups from O(dest).
  - The rollback playbook's protect-data phase runs O(state=dump) then O(state=verify), and stops the rollback when
    either fails.
author: ops.rollback maintainers (!UNKNOWN)
options:
  state:
    description:
      - V(dump) backs O(db) up into O(dest).
      - V(verify) checks a backup and reads it back whole.
      - V(restore) restores a backup into O(db).
      - V(listed) reports the backups in O(dest).
      - V(prune) removes old backups from O(dest), see O(keep) and O(max_age).
      - Options that do not apply to the chosen state are refused.
    type: str
    choices: [dump, verify, restore, listed, prune]
    default: dump
  db:
    description:
      - With O(state=dump), the database to back up (required).
      - With O(state=restore), the database to restore into; default, the one the backup was taken from.
      - With O(state=verify), O(state=listed) and O(state=prune), only the backups of this database.
    type: str
  dest:
    description:
      - Directory that holds the backups. Required for O(state=dump), O(state=listed) and O(state=prune).
      - For O(state=verify) and O(state=restore) without O(src), the newest backup in O(dest) with O(label) is used.
    type: path
  src:
    description:
      - With O(state=verify) or O(state=restore), the backup, as the RV(path) a dump returned (the dump file or
        directory) or its manifest.
    type: path
  label:
    description:
      - A name for why the backup was taken, part of the file name, for example V(pre-rollback-v1.3.0).
        Letters, digits and C(. _ + -), up to 100 characters, starting with a letter or digit.
      - With O(state=dump) it makes the dump idempotent. When O(dest) already holds a backup of O(db) with this
        label that reads back whole, that backup is returned with RV(changed=false) instead of dumping again, so
        running an interrupted rollback again does not pile up dumps. One that was never verified in full is
        verified first. One that fails the check is left alone with a warning, and a new dump is made. O(force=true)
        always dumps. Without O(label), every run dumps.
      - With the other states, only the backups with this label.
    type: str
  format:
    description:
      - PostgreSQL only. V(custom) is one compressed file that C(pg_restore) can restore selectively.
        V(directory) is one file per table and dumps with O(jobs) parallel jobs.
      - Default V(custom). MySQL/MariaDB dumps are always gzip-compressed SQL.
    type: str
    choices: [custom, directory]
  jobs:
    description:
      - PostgreSQL only. Parallel jobs for C(pg_dump) (O(format=directory) only) and for C(pg_restore).
      - Each job holds a connection to the server. Default V(1). A restore with more than one job does not run in a
        single transaction.
    type: int
  force:
    description:
      - With O(state=dump), dump even when a backup with O(label) exists (see O(label)).
      - Default V(false).
    type: bool
  replace:
    description:
      - With O(state=restore), restore into a database that already has tables. The tables the backup holds are
        dropped and restored from it; tables only in the target database are left as they are.
      - Default V(false).
    type: bool
  keep:
    description:
      - With O(state=prune), the number of newest backups of each database to keep (with O(label), of that label).
        1 or more.
      - With O(max_age) too, a backup is removed only when it is both beyond the O(keep) newest and older than
        O(max_age).
    type: int
  max_age:
    description:
      - With O(state=prune), remove backups created longer ago than this, as a number with an optional unit
        C(s), C(m), C(h), C(d) or C(w), for example V(7d) or V(36h). A number alone is seconds.
      - Without O(keep), this can remove every backup of a database.
    type: str
extends_documentation_fragment:
  - ops.rollback._db_conn
  - ops.rollback._attributes
  - ops.rollback._attributes.action_group_db
attributes:
  check_mode:
    support: full
    details:
      - O(state=dump) connects and counts rows (so bad credentials fail in check mode too) and reports the planned
        RV(path) without dumping.
      - O(state=restore) checks the backup and the target database and reports the plan without restoring.
      - O(state=prune) reports what it would remove.
  diff_mode:
    support: full
    details:
      - O(state=dump) and O(state=prune) show the backup names in O(dest) before and after; O(state=restore) shows the
        tables of the target database before and after.
  idempotent:
    support: partial
    details:
      - O(state=dump) is idempotent with O(label) (see O(label)); without it, every run dumps.
      - O(state=restore) restores every time it runs.
      - O(state=verify) records the time of the verification in the manifest and reports RV(changed=false).
notes:
  - The password is given to the tools in their environment (PostgreSQL) or in a defaults file readable only by the
    user that runs the module (MySQL/MariaDB), never in their arguments, where C(ps) would show it.
  - A run that is killed while dumping can leave a C(.<name>.partial) file or directory in O(dest). It is never listed,
    reused or restored, and is safe to remove.
seealso:
  - name: pg_dump
    description: The PostgreSQL dump tool and its formats.
    link: https://www.postgresql.org/docs/current/app-pgdump.html
  - name: mariadb-dump
    description: The MariaDB dump tool and C(--single-transaction).
    link: https://mariadb.com/kb/en/mariadb-dump/
"""

EXAMPLES = r"""
- name: Back up the orders database before rolling back to v1.3.0
  ops.rollback.db_backup:
    engine: postgresql
    login_host: 127.0.0.1
    login_user: backup
    login_password: "{{ vault_backup_password }}"
    db: orders
    dest: /var/backups/db
    label: pre-rollback-v1.3.0
  register: orders_backup

- name: Verify the backup before anything else changes
  ops.rollback.db_backup:
    engine: postgresql
    login_host: 127.0.0.1
    login_user: backup
    login_password: "{{ vault_backup_password }}"
    state: verify
    src: "{{ orders_backup.path }}"

- name: Back up a large database in directory format with four parallel jobs
  ops.rollback.db_backup:
    engine: postgresql
    db: events
    dest: /var/backups/db
    label: pre-rollback-v1.3.0
    format: directory
    jobs: 4

- name: Back up a MariaDB database (gzip-compressed, one consistent snapshot)
  ops.rollback.db_backup:
    engine: mysql
    login_host: 127.0.0.1
    login_user: root
    login_password: "{{ vault_mysql_root_password }}"
    db: shop
    dest: /var/backups/db
    label: pre-rollback-v1.3.0

- name: Restore the newest pre-rollback backup of orders into a new database to compare
  ops.rollback.db_backup:
    engine: postgresql
    state: restore
    dest: /var/backups/db
    label: pre-rollback-v1.3.0
    db: orders_restored
  register: restored

- name: Stop when a restored table lacks rows the backup had
  ansible.builtin.assert:
    that: restored.rows_match
    fail_msg: "Row counts differ: {{ restored.tables }}"

- name: Put the backup back into the database it was taken from, replacing its tables
  ops.rollback.db_backup:
    engine: postgresql
    state: restore
    src: "{{ orders_backup.path }}"
    replace: true

- name: List the backups of orders
  ops.rollback.db_backup:
    engine: postgresql
    state: listed
    dest: /var/backups/db
    db: orders
  register: backups

- name: Keep the five newest backups of each database, and none older than 30 days beyond those
  ops.rollback.db_backup:
    engine: postgresql
    state: prune
    dest: /var/backups/db
    keep: 5
    max_age: 30d

- name: Use one connection for every db_backup task of a play
  module_defaults:
    group/ops.rollback.db:
      engine: mysql
      login_host: 127.0.0.1
      login_user: root
      login_password: "{{ vault_mysql_root_password }}"
  block:
    - name: Back up shop with the play's connection
      ops.rollback.db_backup:
        db: shop
        dest: /var/backups/db
        label: nightly
"""

RETURN = r"""
changed:
  description: Whether a backup was written, restored or removed (or in check mode, would be).
  returned: always
  type: bool
  sample: true
path:
  description: With O(state=dump), the dump (file, or directory for O(format=directory)); in check mode, the planned one.
  returned: state is dump
  type: str
  sample: /var/backups/db/orders-pre-rollback-v1.3.0-20260130T142501Z.dump
size:
  description: With O(state=dump), bytes on disk of the dump (for a directory, of all its files).
  returned: state is dump, not in check mode
  type: int
  sample: 7340032
sha256:
  description: With O(state=dump), sha256 of the dump (for a directory, of the C(sha256sum) listing of its files).
  returned: state is dump, not in check mode
  type: str
  sample: 9f2c0e1d0b5b6f6f0b0f8c7f1f9b7e2c3e5d3e1a6c4b2f0a8e9d7c5b3a1f0e2d
duration:
  description:
    - With O(state=dump), seconds the dump took, reading it back included. For an existing backup returned with
      RV(changed=false), the time its dump took then.
  returned: state is dump, not in check mode
  type: float
  sample: 12.48
backup:
  description:
    - The backup dumped, verified, restored, or found for O(label) (its manifest plus RV(backup.path) and
      RV(backup.manifest)). In check mode with O(state=dump), the plan (name, path, manifest, engine, db, label,
      format, tables).
  returned: state is dump, verify or restore
  type: dict
  contains: &backup_keys
    name:
      description: The backup's name, C(<db>-<label>-<UTC time>).
      type: str
      sample: orders-pre-rollback-v1.3.0-20260130T142501Z
    path:
      description: The dump.
      type: str
      sample: /var/backups/db/orders-pre-rollback-v1.3.0-20260130T142501Z.dump
    manifest:
      description: The manifest.
      type: str
      sample: /var/backups/db/orders-pre-rollback-v1.3.0-20260130T142501Z.json
    file:
      description: The dump's file name, relative to the manifest.
      type: str
      sample: orders-pre-rollback-v1.3.0-20260130T142501Z.dump
    engine:
      description: V(postgresql) or V(mysql).
      type: str
      sample: postgresql
    db:
      description: The database backed up.
      type: str
      sample: orders
    label:
      description: The label, or V(null).
      type: str
      sample: pre-rollback-v1.3.0
    created:
      description: When the dump started, UTC.
      type: str
      sample: "2026-01-30T14:25:01Z"
    format:
      description: V(custom), V(directory) or V(sql.gz).
      type: str
      sample: custom
    size:
      description: Bytes on disk.
      type: int
      sample: 7340032
    sha256:
      description: sha256 of the dump.
      type: str
      sample: 9f2c0e1d0b5b6f6f0b0f8c7f1f9b7e2c3e5d3e1a6c4b2f0a8e9d7c5b3a1f0e2d
    tables:
      description: Every table (C(schema.table) on PostgreSQL) with its row count when dumped.
      type: dict
      sample: {"public.orders": 120433, "public.customers": 8312}
    tools:
      description: Versions of the dump tool (C(dump)) and of the server (C(server)).
      type: dict
      sample: {"dump": "pg_dump (PostgreSQL) 15.20", "server": "15.20"}
    duration:
      description: Seconds the dump took.
      type: float
      sample: 12.48
    verified:
      description: When the backup was last verified in full (UTC), or V(null) if never.
      type: str
      sample: "2026-01-30T14:25:20Z"
verified:
  description: With O(state=verify), V(true); a backup that fails verification fails the task, saying why.
  returned: state is verify
  type: bool
  sample: true
db:
  description: With O(state=restore), the database restored into.
  returned: state is restore
  type: str
  sample: orders_restored
created_db:
  description: With O(state=restore), whether the database was (or in check mode, would be) created.
  returned: state is restore
  type: bool
  sample: true
tables:
  description:
    - With O(state=restore), every table of the backup with its row count in the manifest (RV(tables[].expected)) and
      after the restore (RV(tables[].restored), V(null) in check mode or when the table is missing).
  returned: state is restore
  type: list
  elements: dict
  contains:
    name:
      description: The table (C(schema.table) on PostgreSQL).
      type: str
      sample: public.orders
    expected:
      description: Its row count in the manifest.
      type: int
      sample: 120433
    restored:
      description: Its row count after the restore.
      type: int
      sample: 120433
rows_match:
  description: With O(state=restore), whether every table has the row count of the manifest; a warning lists those that do not.
  returned: state is restore, not in check mode
  type: bool
  sample: true
backups:
  description: With O(state=listed), the backups in O(dest), newest first; with O(state=prune), those that stay.
  returned: state is listed or prune
  type: list
  elements: dict
  contains: *backup_keys
removed:
  description: With O(state=prune), the dumps removed (in check mode, that would be removed), newest first.
  returned: state is prune
  type: list
  elements: str
  sample: [/var/backups/db/orders-nightly-20251201T020000Z.dump]
"""

from ansible_collections.ops.rollback.plugins.module_utils._common.module import run_module
from ansible_collections.ops.rollback.plugins.module_utils.db.backup import (
    STATE_OPTIONS,
    db_backup_argument_spec,
    run_db_backup,
)


def main():
    run_module(
        db_backup_argument_spec(),
        lambda module: run_db_backup(module.params, check_mode=module.check_mode, warn=module.warn),
        state_options=STATE_OPTIONS,
        required_if=[
            ('state', 'dump', ['db', 'dest']),
            ('state', 'listed', ['dest']),
            ('state', 'prune', ['dest']),
            ('state', 'prune', ['keep', 'max_age'], True),
            ('state', 'verify', ['src', 'dest'], True),
            ('state', 'restore', ['src', 'dest'], True),
        ],
        mutually_exclusive=[('src', 'dest')],
    )


if __name__ == '__main__':
    main()
