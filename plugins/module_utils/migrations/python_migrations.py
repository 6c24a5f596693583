# -*- coding: utf-8 -*-
# Copyright: ops.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alembic revisions and Django migrations, read with ``ast``: never imported, never run.

What a call does is read from its name and its literal arguments
(``op.drop_column('users', 'email')``, ``migrations.RemoveField(...)``);
SQL given as a literal (``op.execute``, ``RunSQL``) goes through the SQL
classifier. Anything that cannot be read without running it (``RunPython``,
SQL built at run time, an operation we do not know) counts as possibly
breaking the older version, and says so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast

from ansible_collections.ops.rollback.plugins.module_utils.migrations.model import Migration
from ansible_collections.ops.rollback.plugins.module_utils.migrations.sql import (
    ADDITIVE,
    BREAKING,
    DESTROYS,
    Finding,
    classify_sql,
    type_change,
)


# ---------------------------------------------------------------------------
# ast helpers
# ---------------------------------------------------------------------------

def _parse(text, path):
    try:
        return ast.parse(text, filename=path)
    except SyntaxError:
        return None


def _name(node):
    """``op.drop_column`` -> ``drop_column``; ``RemoveField`` -> ``RemoveField``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _arg(call, index, keyword):
    for item in call.keywords:
        if item.arg == keyword:
            return item.value
    if len(call.args) > index and not isinstance(call.args[index], ast.Starred):
        return call.args[index]
    return None


def _text(node, default='?'):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return default


def _is_true(node):
    return isinstance(node, ast.Constant) and node.value is True


def _is_false(node):
    return isinstance(node, ast.Constant) and node.value is False


def _assignments(body):
    """Module- or class-level ``name = value`` (and ``name: type = value``) as ``{name: value node}``."""
    found = {}
    for statement in body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = statement.value
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value is not None:
            found[statement.target.id] = statement.value
    return found


def _sql_of(node):
    """Literal SQL of ``"..."``, ``sa.text("...")`` or a list of them; None when it is built at run time."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and _name(node.func) == 'text' and node.args:
        return _sql_of(node.args[0])
    if isinstance(node, (ast.List, ast.Tuple)):
        parts = [_sql_of(item) for item in node.elts]
        if all(part is not None for part in parts):
            return ';\n'.join(parts)
    return None


def _sql_findings(node, where):
    sql = _sql_of(node)
    if sql is None:
        return [Finding(BREAKING, '{0} runs SQL built at run time, which cannot be checked without running it'.format(where))]
    return classify_sql(sql)


# ---------------------------------------------------------------------------
# Alembic
# ---------------------------------------------------------------------------

_SQLALCHEMY_TYPES = {'String': 'VARCHAR', 'Unicode': 'VARCHAR', 'Text': 'TEXT', 'UnicodeText': 'TEXT', 'Integer': 'INTEGER',
                     'BigInteger': 'BIGINT', 'SmallInteger': 'SMALLINT', 'Numeric': 'NUMERIC', 'Float': 'FLOAT',
                     'Boolean': 'BOOLEAN', 'DateTime': 'TIMESTAMP', 'Date': 'DATE', 'LargeBinary': 'BYTEA'}


def _sqlalchemy_type(node):
    """``sa.String(length=50)`` -> ``VARCHAR(50)``, ``sa.Text()`` -> ``TEXT``; None when not a type literal."""
    if isinstance(node, ast.Call):
        base = _name(node.func)
        values = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, int)]
        values += [kw.value.value for kw in node.keywords
                   if kw.arg in ('length', 'precision', 'scale') and isinstance(kw.value, ast.Constant)]
    else:
        base, values = _name(node), []
    if not base:
        return None
    name = _SQLALCHEMY_TYPES.get(base, base.upper())
    return '{0}({1})'.format(name, ', '.join(str(value) for value in values)) if values else name


def _alembic_op(call):
    """Findings of one ``op.<name>(...)`` call."""
    name = _name(call.func)
    table = _text(_arg(call, 0, 'table_name'))
    if name == 'create_table':
        return [Finding(ADDITIVE, 'creates table {0}'.format(table), table=table)]
    if name in ('create_index', 'drop_index', 'drop_constraint', 'bulk_insert'):
        return [Finding(ADDITIVE, '{0} ({1})'.format(name.replace('_', ' '), table))]
    if name == 'drop_table':
        return [Finding(DESTROYS, 'drops table {0}'.format(table), table=table)]
    if name == 'drop_column':
        column = _text(_arg(call, 1, 'column_name'))
        return [Finding(DESTROYS, 'drops column {0}.{1}'.format(table, column), table=table, column=column)]
    if name == 'rename_table':
        old, new = _text(_arg(call, 0, 'old_table_name')), _text(_arg(call, 1, 'new_table_name'))
        return [Finding(BREAKING, 'renames table {0} to {1}'.format(old, new))]
    if name == 'add_column':
        return [_alembic_add_column(table, _arg(call, 1, 'column'))]
    if name == 'alter_column':
        return _alembic_alter_column(call, table)
    if name == 'execute':
        return _sql_findings(_arg(call, 0, 'sqltext'), 'op.execute')
    return [Finding(BREAKING, 'calls op.{0}, which is not known to be safe for the older version'.format(name))]


def _alembic_add_column(table, column):
    if not isinstance(column, ast.Call):
        return Finding(BREAKING, 'adds a column to {0} that cannot be read without running the migration'.format(table))
    name = _text(_arg(column, 0, 'name'))
    nullable = dict((kw.arg, kw.value) for kw in column.keywords).get('nullable')
    has_default = any(kw.arg == 'server_default' for kw in column.keywords)
    primary = any(kw.arg == 'primary_key' and _is_true(kw.value) for kw in column.keywords)
    if (_is_false(nullable) or primary) and not has_default:
        return Finding(BREAKING, 'adds column {0}.{1} NOT NULL without a server default: inserts by the older version fail'.format(
            table, name), table=table, column=name)
    return Finding(ADDITIVE, 'adds column {0}.{1}'.format(table, name), table=table, column=name)


def _alembic_alter_column(call, table):
    column = _text(_arg(call, 1, 'column_name'))
    keywords = dict((kw.arg, kw.value) for kw in call.keywords)
    findings = []
    if 'new_column_name' in keywords:
        findings.append(Finding(BREAKING, 'renames column {0}.{1} to {2}'.format(table, column, _text(keywords['new_column_name'])),
                                table=table, column=column))
    if 'type_' in keywords:
        old_type = _sqlalchemy_type(keywords['existing_type']) if 'existing_type' in keywords else None
        findings.append(type_change(table, column, _sqlalchemy_type(keywords['type_']) or '?', old_type))
    if _is_false(keywords.get('nullable')):
        findings.append(Finding(BREAKING, 'makes column {0}.{1} NOT NULL: inserts by the older version without it fail'.format(
            table, column), table=table, column=column))
    return findings or [Finding(ADDITIVE, 'tunes column {0}.{1}'.format(table, column), table=table, column=column)]


def _function(tree, name):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def _does_nothing(function):
    """A body of only a docstring, ``pass``, ``...`` and ``raise``: no down migration."""
    for statement in function.body:
        if isinstance(statement, (ast.Pass, ast.Raise)):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        return False
    return True


def _op_calls(function):
    calls = [node for node in ast.walk(function)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _name(node.func.value) in ('op', 'batch_op')]
    return sorted(calls, key=lambda call: (call.lineno, call.col_offset))


def _alembic_findings(function):
    findings = []
    for call in _op_calls(function):
        findings.extend(_alembic_op(call))
    return findings


def looks_like_alembic(text):
    tree = _parse(text, '<alembic>')
    return tree is not None and {'revision', 'down_revision'} <= set(_assignments(tree.body))


def alembic_revision(text, path):
    """The Migration of one revision file (``parents`` from ``down_revision``), or None when it is no revision."""
    tree = _parse(text, path)
    if tree is None:
        return None
    values = _assignments(tree.body)
    if 'revision' not in values or 'down_revision' not in values:
        return None
    revision = _text(values['revision'], None)
    if revision is None:
        return None
    down_revision = values['down_revision']
    if isinstance(down_revision, (ast.Tuple, ast.List)):
        parents = [_text(item) for item in down_revision.elts]
    else:
        parent = _text(down_revision, None)
        parents = [parent] if parent else []
    upgrade = _function(tree, 'upgrade')
    downgrade = _function(tree, 'downgrade')
    up = _alembic_findings(upgrade) if upgrade is not None else []
    down = None if downgrade is None or _does_nothing(downgrade) else _alembic_findings(downgrade)
    name = path.rsplit('/', 1)[-1][:-len('.py')]
    return Migration(revision, name, path, None, up, down, parents=parents)


def alembic_order(migrations):
    """``migrations`` oldest first: by distance from the first revision along ``down_revision``, then by revision."""
    by_id = dict((migration.id, migration) for migration in migrations)
    depths = {}

    def depth(revision, seen=()):
        if revision not in by_id or revision in seen:
            return 0
        if revision not in depths:
            parents = by_id[revision].parents
            depths[revision] = 1 + max([depth(parent, seen + (revision,)) for parent in parents] or [0])
        return depths[revision]

    for migration in migrations:
        migration.sort_key = (depth(migration.id), migration.id)
    return sorted(migrations, key=lambda migration: migration.sort_key)


def alembic_ancestors(heads, migrations):
    """Revisions applied when ``heads`` are: the heads and everything they descend from."""
    parents = dict((migration.id, migration.parents) for migration in migrations)
    applied = set()
    pending = list(heads)
    while pending:
        revision = pending.pop()
        if revision in applied:
            continue
        applied.add(revision)
        pending.extend(parents.get(revision, ()))
    return applied


# ---------------------------------------------------------------------------
# Django
# ---------------------------------------------------------------------------

# Operations that change only Django's state or relax the schema: the older version still works.
_DJANGO_HARMLESS = ('AlterModelOptions', 'AlterModelManagers', 'AddIndex', 'RemoveIndex', 'RemoveConstraint',
                    'AlterIndexTogether', 'RenameIndex')


def _migration_class(tree):
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == 'Migration':
            return node
    return None


def looks_like_django(text):
    tree = _parse(text, '<django>')
    return tree is not None and _migration_class(tree) is not None and 'operations' in _assignments(_migration_class(tree).body)


def _is_noop(node):
    return node is not None and _name(node) == 'noop'


def _django_operation(call):
    """``(up findings, down findings or None when it cannot be reversed)`` of one operation."""
    name = _name(call.func)
    if name == 'CreateModel':
        model = _text(_arg(call, 0, 'name'))
        return [Finding(ADDITIVE, 'creates model {0}'.format(model))], [Finding(DESTROYS, 'deletes model {0}'.format(model))]
    if name == 'DeleteModel':
        model = _text(_arg(call, 0, 'name'))
        return [Finding(DESTROYS, 'deletes model {0} (drops its table)'.format(model))], [Finding(ADDITIVE, 'recreates model {0} empty'.format(model))]
    if name in ('AddField', 'RemoveField', 'AlterField'):
        where = '{0}.{1}'.format(_text(_arg(call, 0, 'model_name')), _text(_arg(call, 1, 'name')))
        if name == 'RemoveField':
            return ([Finding(DESTROYS, 'removes field {0} (drops its column)'.format(where))],
                    [Finding(ADDITIVE, 're-adds field {0} empty'.format(where))])
        if name == 'AlterField':
            field = _arg(call, 2, 'field')
            changed = Finding(BREAKING, 'changes field {0} to {1}'.format(where, _name(field.func) if isinstance(field, ast.Call) else '?'))
            return [changed], [Finding(BREAKING, 'changes field {0} back'.format(where))]
        return [_django_add_field(where, _arg(call, 2, 'field'))], [Finding(DESTROYS, 'removes field {0}'.format(where))]
    if name == 'RenameField':
        model = _text(_arg(call, 0, 'model_name'))
        old, new = _text(_arg(call, 1, 'old_name')), _text(_arg(call, 2, 'new_name'))
        return ([Finding(BREAKING, 'renames field {0}.{1} to {2}'.format(model, old, new))],
                [Finding(BREAKING, 'renames field {0}.{1} back to {2}'.format(model, new, old))])
    if name == 'RenameModel':
        old, new = _text(_arg(call, 0, 'old_name')), _text(_arg(call, 1, 'new_name'))
        return ([Finding(BREAKING, 'renames model {0} to {1}'.format(old, new))],
                [Finding(BREAKING, 'renames model {0} back to {1}'.format(new, old))])
    if name == 'RunSQL':
        reverse = _arg(call, 1, 'reverse_sql')
        up = _sql_findings(_arg(call, 0, 'sql'), 'RunSQL')
        if reverse is None:
            return up, None
        return up, ([] if _is_noop(reverse) else _sql_findings(reverse, 'RunSQL reverse_sql'))
    if name == 'RunPython':
        code = _arg(call, 0, 'code')
        reverse = _arg(call, 1, 'reverse_code')
        up = [Finding(BREAKING, 'runs Python code ({0}) whose effect cannot be read without running it'.format(_name(code) or '?'))]
        if reverse is None:
            return up, None
        return up, ([] if _is_noop(reverse) else [Finding(BREAKING, 'runs Python code ({0})'.format(_name(reverse) or '?'))])
    if name in _DJANGO_HARMLESS:
        return [Finding(ADDITIVE, name)], [Finding(ADDITIVE, name)]
    return ([Finding(BREAKING, '{0}, which is not known to be safe for the older version'.format(name))],
            [Finding(BREAKING, 'reverses {0}'.format(name))])


def _django_add_field(where, field):
    keywords = dict((kw.arg, kw.value) for kw in field.keywords) if isinstance(field, ast.Call) else {}
    # Django sets a default only while it adds the column: without null=True or db_default the column is NOT NULL.
    if _is_true(keywords.get('null')) or 'db_default' in keywords:
        return Finding(ADDITIVE, 'adds field {0}'.format(where))
    return Finding(BREAKING, 'adds field {0} NOT NULL (no null=True or db_default): inserts by the older version fail'.format(where))


def django_migration(text, path):
    """The Migration of one Django migration file (its id is the file's name), or None when it is none."""
    tree = _parse(text, path)
    migration_class = _migration_class(tree) if tree is not None else None
    if migration_class is None:
        return None
    operations = _assignments(migration_class.body).get('operations')
    up, downs = [], []
    for call in (operations.elts if isinstance(operations, (ast.List, ast.Tuple)) else []):
        if isinstance(call, ast.Call):
            findings, down = _django_operation(call)
            up.extend(findings)
            downs.append(down)
    # Django reverses the operations last first; one that cannot be reversed stops the whole migration.
    down = None if any(item is None for item in downs) else [finding for item in reversed(downs) for finding in item]
    name = path.rsplit('/', 1)[-1][:-len('.py')]
    return Migration(name, name, path, (name,), up, down)
