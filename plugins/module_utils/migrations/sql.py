# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a SQL migration does to the schema and the data, statement by statement.

``classify_sql(text)`` strips comments and string literals (so ``'DROP TABLE'``
inside a value or a ``-- DROP COLUMN`` note is never mistaken for a statement),
splits the rest into statements and gives each a ``Finding``:

* ``ADDITIVE``: the older version of the application still works with the
  schema after it (CREATE TABLE/INDEX/VIEW, ADD COLUMN that is nullable or has a
  default, INSERT...);
* ``BREAKING``: the older version may stop working, but no data is lost
  (RENAME, SET NOT NULL, a type change that does not narrow, UPDATE ... WHERE,
  anything not recognised);
* ``DESTROYS``: data is gone once it ran (DROP TABLE/COLUMN, TRUNCATE, DELETE,
  UPDATE without WHERE, a type that narrows); only a backup brings it back.

Statements that change nothing (BEGIN, COMMIT, SET...) give no finding.
Standard library only: this runs on managed hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

ADDITIVE = 'additive'
BREAKING = 'breaking'
DESTROYS = 'destroys'


class Finding:
    """One thing a statement does: its ``effect`` (ADDITIVE, BREAKING, DESTROYS) and a sentence saying what."""

    def __init__(self, effect, what, table=None, column=None, new_type=None):
        self.effect = effect
        self.what = what
        self.table = table
        self.column = column
        self.new_type = new_type

    def __repr__(self):
        return 'Finding({0!r}, {1!r})'.format(self.effect, self.what)


# ---------------------------------------------------------------------------
# comments, literals, statements
# ---------------------------------------------------------------------------

_DOLLAR_TAG = re.compile(r'\$([A-Za-z_][A-Za-z0-9_]*)?\$')


def strip_sql(text):
    """``text`` without comments, with every string literal replaced by ``''`` (and dollar-quoted bodies by ``$$$$``).

    Double-quoted and backquoted identifiers are kept as they are.
    """
    out = []
    i = 0
    length = len(text)
    while i < length:
        char = text[i]
        pair = text[i:i + 2]
        if pair == '--' or char == '#' and _hash_is_comment(text, i):
            end = text.find('\n', i)
            i = length if end < 0 else end
        elif pair == '/*':
            end = text.find('*/', i + 2)
            i = length if end < 0 else end + 2
            out.append(' ')
        elif char == "'":
            i = _end_of_quoted(text, i, "'")
            out.append("''")
        elif char in '"`':
            end = _end_of_quoted(text, i, char)
            out.append(text[i:end])
            i = end
        elif char == '$' and _DOLLAR_TAG.match(text, i):
            tag = _DOLLAR_TAG.match(text, i).group(0)
            end = text.find(tag, i + len(tag))
            i = length if end < 0 else end + len(tag)
            out.append('$$$$')
        else:
            out.append(char)
            i += 1
    return ''.join(out)


def _hash_is_comment(text, i):
    # MySQL's '#' comment; PostgreSQL uses '#' as an operator only between operands, never at a line start.
    return text[text.rfind('\n', 0, i) + 1:i].strip() == ''


def _end_of_quoted(text, start, quote):
    """Index just after the literal or identifier opened at ``start`` (a doubled quote is an escaped one)."""
    i = start + 1
    while i < len(text):
        if text[i] == '\\' and quote == "'":
            i += 2
            continue
        if text[i] == quote:
            if text[i + 1:i + 2] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


def statements(text):
    """The statements of ``text`` (comments and literals stripped), whitespace collapsed, in order."""
    found = []
    for part in strip_sql(text).split(';'):
        statement = ' '.join(part.split())
        if statement:
            found.append(statement)
    return found


# ---------------------------------------------------------------------------
# statements
# ---------------------------------------------------------------------------

_NAME = r'(?:"[^"]+"|`[^`]+`|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|`[^`]+`|[A-Za-z_][\w$]*))*'
_NO_EFFECT = re.compile(r'^(?:BEGIN|COMMIT|END|START TRANSACTION|ROLLBACK|SET|SELECT|SHOW|USE|ANALYZE|VACUUM|LOCK)\b',
                        re.IGNORECASE)
_ADDITIVE_CREATE = re.compile(
    r'^CREATE (?:(?:GLOBAL |LOCAL )?(?:TEMP|TEMPORARY|UNLOGGED) )?(?:UNIQUE )?'
    r'(?P<kind>TABLE|INDEX|VIEW|MATERIALIZED VIEW|SEQUENCE|SCHEMA|EXTENSION|TYPE|DOMAIN|FUNCTION|PROCEDURE|TRIGGER)'
    r'(?: CONCURRENTLY)?(?: IF NOT EXISTS)?(?: (?P<name>{0}))?'.format(_NAME),
    re.IGNORECASE)
_CREATE_OR_REPLACE = re.compile(r'^CREATE (?:OR REPLACE|DEFINER\b)', re.IGNORECASE)
_DROP = re.compile(
    r'^DROP (?P<kind>TABLE|MATERIALIZED VIEW|VIEW|INDEX|SEQUENCE|SCHEMA|DATABASE|TYPE|DOMAIN|FUNCTION|PROCEDURE|TRIGGER|EXTENSION)'
    r'(?: CONCURRENTLY)?(?: IF EXISTS)? (?P<names>{0}(?: ?, ?{0})*)'.format(_NAME), re.IGNORECASE)
_ALTER_TABLE = re.compile(r'^ALTER TABLE(?: IF EXISTS)?(?: ONLY)? (?P<table>{0}) (?P<actions>.*)$'.format(_NAME), re.IGNORECASE)
_RENAME_TABLE = re.compile(r'^RENAME TABLE (?P<old>{0}) TO (?P<new>{0})'.format(_NAME), re.IGNORECASE)
_ALTER_OTHER = re.compile(r'^ALTER (?P<kind>INDEX|VIEW|SEQUENCE|TYPE|SCHEMA)\b(?P<rest>.*)$', re.IGNORECASE)
_TRUNCATE = re.compile(r'^TRUNCATE(?: TABLE)?(?: ONLY)? (?P<names>{0}(?: ?, ?{0})*)'.format(_NAME), re.IGNORECASE)
_DELETE = re.compile(r'^DELETE FROM(?: ONLY)? (?P<table>{0})'.format(_NAME), re.IGNORECASE)
_UPDATE = re.compile(r'^UPDATE(?: ONLY)? (?P<table>{0}) .*?\bSET\b'.format(_NAME), re.IGNORECASE)
_WHERE = re.compile(r'\bWHERE\b', re.IGNORECASE)
_INSERT = re.compile(r'^(?:INSERT|REPLACE|COPY|COMMENT|GRANT|REVOKE)\b', re.IGNORECASE)


def classify_sql(text):
    """Findings of every statement of ``text``, in order."""
    findings = []
    for statement in statements(text):
        findings.extend(classify_statement(statement))
    return findings


def classify_statement(statement):
    """Findings of one statement (comments and literals already stripped)."""
    if _NO_EFFECT.match(statement):
        return []
    if _CREATE_OR_REPLACE.match(statement):
        return [Finding(BREAKING, 'replaces an existing definition ({0}): the older version may rely on the old one'.format(_head(statement)))]
    match = _ADDITIVE_CREATE.match(statement)
    if match:
        return [Finding(ADDITIVE, 'creates {0} {1}'.format(match.group('kind').lower(), unquote(match.group('name') or '')).strip())]
    match = _DROP.match(statement)
    if match:
        return _drop(match.group('kind').upper(), _names(match.group('names')))
    match = _ALTER_TABLE.match(statement)
    if match:
        table = unquote(match.group('table'))
        return [_alter_action(table, action) for action in _split_actions(match.group('actions'))]
    match = _RENAME_TABLE.match(statement)
    if match:
        return [Finding(BREAKING, 'renames table {0} to {1}'.format(unquote(match.group('old')), unquote(match.group('new'))),
                        table=unquote(match.group('old')))]
    match = _ALTER_OTHER.match(statement)
    if match:
        if re.search(r'\bRENAME\b', match.group('rest'), re.IGNORECASE):
            return [Finding(BREAKING, 'renames a {0} ({1})'.format(match.group('kind').lower(), _head(statement)))]
        return [Finding(BREAKING, 'alters a {0} ({1})'.format(match.group('kind').lower(), _head(statement)))]
    match = _TRUNCATE.match(statement)
    if match:
        return [Finding(DESTROYS, 'truncates table {0}'.format(name), table=name) for name in _names(match.group('names'))]
    match = _DELETE.match(statement)
    if match:
        table = unquote(match.group('table'))
        return [Finding(DESTROYS, 'deletes rows from {0}'.format(table), table=table)]
    match = _UPDATE.match(statement)
    if match:
        table = unquote(match.group('table'))
        if _WHERE.search(statement):
            return [Finding(BREAKING, 'changes rows of {0} (UPDATE ... WHERE)'.format(table), table=table)]
        return [Finding(DESTROYS, 'overwrites every row of {0} (UPDATE without WHERE)'.format(table), table=table)]
    if _INSERT.match(statement):
        return [Finding(ADDITIVE, 'adds rows or metadata ({0})'.format(statement.split()[0].upper()))]
    return [Finding(BREAKING, 'runs a statement not known to be safe for the older version: {0}'.format(_head(statement)))]


def _drop(kind, names):
    if kind in ('TABLE', 'SCHEMA', 'DATABASE'):
        return [Finding(DESTROYS, 'drops {0} {1}'.format(kind.lower(), name), table=name) for name in names]
    if kind == 'INDEX':
        # The older version still works without an index, only slower.
        return [Finding(ADDITIVE, 'drops index {0}'.format(name)) for name in names]
    return [Finding(BREAKING, 'drops {0} {1}'.format(kind.lower(), name)) for name in names]


_ADD_COLUMN = re.compile(r'^ADD (?:COLUMN )?(?:IF NOT EXISTS )?(?P<column>{0}) (?P<definition>.*)$'.format(_NAME), re.IGNORECASE)
_ADD_KEYWORD = re.compile(r'^ADD (?:CONSTRAINT|PRIMARY|UNIQUE|FOREIGN|CHECK|EXCLUDE|INDEX|KEY|FULLTEXT|SPATIAL|PARTITION)\b', re.IGNORECASE)
_ADD_INDEX = re.compile(r'^ADD (?:UNIQUE )?(?:INDEX|KEY|FULLTEXT|SPATIAL)\b', re.IGNORECASE)
_DROP_COLUMN = re.compile(r'^DROP (?:COLUMN )?(?:IF EXISTS )?(?P<column>{0})(?: CASCADE| RESTRICT)?$'.format(_NAME), re.IGNORECASE)
_DROP_HARMLESS = re.compile(r'^DROP (?:CONSTRAINT|INDEX|KEY|FOREIGN KEY|PRIMARY KEY|CHECK|DEFAULT|NOT NULL)\b', re.IGNORECASE)
_RENAME_COLUMN = re.compile(r'^RENAME (?:COLUMN )?(?P<old>{0}) TO (?P<new>{0})$'.format(_NAME), re.IGNORECASE)
_RENAME_TO = re.compile(r'^RENAME (?:TO|AS) (?P<new>{0})$'.format(_NAME), re.IGNORECASE)
_ALTER_TYPE = re.compile(r'^ALTER (?:COLUMN )?(?P<column>{0}) (?:SET DATA )?TYPE (?P<type>.+?)(?: USING .*| COLLATE .*)?$'.format(_NAME), re.IGNORECASE)
_ALTER_COLUMN = re.compile(r'^ALTER (?:COLUMN )?(?P<column>{0}) (?P<change>.*)$'.format(_NAME), re.IGNORECASE)
_MODIFY = re.compile(r'^MODIFY (?:COLUMN )?(?P<column>{0}) (?P<type>.+)$'.format(_NAME), re.IGNORECASE)
_CHANGE = re.compile(r'^CHANGE (?:COLUMN )?(?P<old>{0}) (?P<new>{0}) (?P<type>.+)$'.format(_NAME), re.IGNORECASE)
# Where a column's type ends in MODIFY/CHANGE: its attributes follow.
_TYPE_END = re.compile(r'\s+(?:NOT NULL|NULL|DEFAULT|COLLATE|CHARACTER SET|CHARSET|COMMENT|AFTER|FIRST|PRIMARY|UNIQUE|'
                       r'REFERENCES|CHECK|AUTO_INCREMENT|GENERATED)\b.*$', re.IGNORECASE)


def _alter_action(table, action):
    match = _ADD_COLUMN.match(action)
    if match and not _ADD_KEYWORD.match(action):
        column = unquote(match.group('column'))
        definition = match.group('definition')
        where = '{0}.{1}'.format(table, column)
        if re.search(r'\bNOT NULL\b', definition, re.IGNORECASE) and not re.search(r'\bDEFAULT\b', definition, re.IGNORECASE):
            return Finding(BREAKING, 'adds column {0} NOT NULL without a default: inserts by the older version fail'.format(where),
                           table=table, column=column)
        return Finding(ADDITIVE, 'adds column {0}'.format(where), table=table, column=column)
    if _ADD_INDEX.match(action):
        return Finding(ADDITIVE, 'adds an index to {0}'.format(table), table=table)
    if _ADD_KEYWORD.match(action):
        return Finding(BREAKING, 'adds a constraint to {0} that rows written by the older version may break'.format(table), table=table)
    if _DROP_HARMLESS.match(action):
        return Finding(ADDITIVE, 'relaxes {0} ({1})'.format(table, action), table=table)
    match = _DROP_COLUMN.match(action)
    if match:
        column = unquote(match.group('column'))
        return Finding(DESTROYS, 'drops column {0}.{1}'.format(table, column), table=table, column=column)
    match = _RENAME_COLUMN.match(action)
    if match:
        return Finding(BREAKING, 'renames column {0}.{1} to {2}'.format(table, unquote(match.group('old')), unquote(match.group('new'))),
                       table=table, column=unquote(match.group('old')))
    match = _RENAME_TO.match(action)
    if match:
        return Finding(BREAKING, 'renames table {0} to {1}'.format(table, unquote(match.group('new'))), table=table)
    match = _ALTER_TYPE.match(action) or _MODIFY.match(action)
    if match:
        return type_change(table, unquote(match.group('column')), _column_type(match.group('type')))
    match = _CHANGE.match(action)
    if match:
        old, new = unquote(match.group('old')), unquote(match.group('new'))
        if old.lower() != new.lower():
            return Finding(BREAKING, 'renames column {0}.{1} to {2}'.format(table, old, new), table=table, column=old)
        return type_change(table, old, _column_type(match.group('type')))
    match = _ALTER_COLUMN.match(action)
    if match:
        change = match.group('change').upper()
        if change.startswith('SET NOT NULL'):
            return Finding(BREAKING, 'makes column {0}.{1} NOT NULL: inserts by the older version without it fail'.format(
                table, unquote(match.group('column'))), table=table)
        if change.startswith(('SET DEFAULT', 'DROP DEFAULT', 'DROP NOT NULL', 'SET STATISTICS', 'SET STORAGE')):
            return Finding(ADDITIVE, 'relaxes or tunes column {0}.{1}'.format(table, unquote(match.group('column'))), table=table)
    return Finding(BREAKING, 'alters table {0} in a way not known to be safe for the older version: {1}'.format(table, action),
                   table=table)


def type_change(table, column, new_type, old_type=None):
    """Finding of a column whose type becomes ``new_type``; DESTROYS when it narrows ``old_type`` (when known)."""
    where = '{0}.{1}'.format(table, column)
    if old_type and narrows(old_type, new_type):
        return Finding(DESTROYS, 'narrows the type of {0} from {1} to {2}: longer or larger values are cut or refused'.format(
            where, old_type, new_type), table=table, column=column, new_type=new_type)
    if old_type:
        return Finding(BREAKING, 'changes the type of {0} from {1} to {2}'.format(where, old_type, new_type),
                       table=table, column=column, new_type=new_type)
    return Finding(BREAKING, 'changes the type of {0} to {1}'.format(where, new_type), table=table, column=column, new_type=new_type)


def with_old_types(findings, old_types):
    """``findings`` with each type change told the column's earlier type from ``old_types`` ((table, column) -> type).

    A migration's own down migration usually sets the type back, which says
    what it was: that is how a narrowing is recognised.
    """
    result = []
    for finding in findings:
        key = ((finding.table or '').lower(), (finding.column or '').lower())
        if finding.new_type and key in old_types:
            finding = type_change(finding.table, finding.column, finding.new_type, old_types[key])
        result.append(finding)
    return result


def column_types(findings):
    """(table, column) -> type set by the type changes among ``findings``."""
    return dict(((f.table.lower(), f.column.lower()), f.new_type) for f in findings if f.new_type)


# ---------------------------------------------------------------------------
# types
# ---------------------------------------------------------------------------

_INTEGER_RANK = {'TINYINT': 1, 'INT1': 1, 'SMALLINT': 2, 'INT2': 2, 'SMALLSERIAL': 2, 'MEDIUMINT': 3, 'INT': 4, 'INTEGER': 4,
                 'INT4': 4, 'SERIAL': 4, 'BIGINT': 8, 'INT8': 8, 'BIGSERIAL': 8}
_FLOAT_RANK = {'REAL': 4, 'FLOAT4': 4, 'FLOAT': 8, 'DOUBLE': 8, 'DOUBLE PRECISION': 8, 'FLOAT8': 8}
_TEXT_UNBOUNDED = ('TEXT', 'MEDIUMTEXT', 'LONGTEXT', 'CLOB', 'CHARACTER VARYING', 'VARCHAR', 'STRING')
_TEXT_BOUNDED = ('VARCHAR', 'CHARACTER VARYING', 'CHAR', 'CHARACTER', 'NVARCHAR', 'NCHAR', 'VARCHAR2', 'STRING')
_TEXT_SIZE = {'TINYTEXT': 255, 'TEXT': None, 'MEDIUMTEXT': None, 'LONGTEXT': None}
_TYPE = re.compile(r'^(?P<base>[A-Za-z][A-Za-z0-9_ ]*?)\s*(?:\((?P<args>[^)]*)\))?(?:\s+UNSIGNED)?\s*$', re.IGNORECASE)


def _column_type(text):
    return _TYPE_END.sub('', text.strip()).strip()


def _parse_type(text):
    match = _TYPE.match(' '.join((text or '').split()))
    if not match:
        return None, ()
    args = tuple(int(arg) for arg in re.findall(r'\d+', match.group('args') or ''))
    return match.group('base').upper(), args


def narrows(old_type, new_type):
    """Whether values of ``old_type`` may not fit ``new_type``: shorter strings, smaller integers, less precision."""
    old_base, old_args = _parse_type(old_type)
    new_base, new_args = _parse_type(new_type)
    if old_base is None or new_base is None:
        return False
    if old_base in _INTEGER_RANK and new_base in _INTEGER_RANK:
        return _INTEGER_RANK[new_base] < _INTEGER_RANK[old_base]
    if old_base in _FLOAT_RANK and new_base in _FLOAT_RANK:
        return _FLOAT_RANK[new_base] < _FLOAT_RANK[old_base]
    if (old_base in _FLOAT_RANK or old_base in ('NUMERIC', 'DECIMAL')) and new_base in _INTEGER_RANK:
        return True
    if old_base in ('NUMERIC', 'DECIMAL') and new_base in ('NUMERIC', 'DECIMAL'):
        if not new_args:
            return False
        if not old_args:
            return True
        old_scale = old_args[1] if len(old_args) > 1 else 0
        new_scale = new_args[1] if len(new_args) > 1 else 0
        return new_scale < old_scale or new_args[0] - new_scale < old_args[0] - old_scale
    old_text = _text_size(old_base, old_args)
    new_text = _text_size(new_base, new_args)
    if old_text is not False and new_text is not False:
        return new_text is not None and (old_text is None or new_text < old_text)
    return False


def _text_size(base, args):
    """Longest string of a text type (None for unbounded), or False for a type that is no text."""
    if base in _TEXT_SIZE:
        return _TEXT_SIZE[base]
    if base in _TEXT_BOUNDED:
        if args:
            return args[0]
        return 1 if base in ('CHAR', 'CHARACTER', 'NCHAR') else None
    if base in _TEXT_UNBOUNDED:
        return None
    return False


# ---------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------

def unquote(name):
    """``"Users"`` -> ``Users``, ``public.users`` stays as written."""
    return '.'.join(part[1:-1] if part[:1] in '"`' and part[-1:] == part[:1] else part
                    for part in re.findall(r'"[^"]+"|`[^`]+`|[^.]+', name))


def _names(text):
    return [unquote(name.strip()) for name in text.split(',') if name.strip()]


def _split_actions(text):
    """The comma-separated actions of ALTER TABLE, not split inside parentheses (``NUMERIC(10, 2)``)."""
    actions = []
    depth = 0
    current = []
    for char in text:
        if char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
        if char == ',' and depth == 0:
            actions.append(''.join(current).strip())
            current = []
        else:
            current.append(char)
    actions.append(''.join(current).strip())
    return [action for action in actions if action]


def _head(statement, words=6):
    parts = statement.split()
    return ' '.join(parts[:words]) + (' ...' if len(parts) > words else '')
