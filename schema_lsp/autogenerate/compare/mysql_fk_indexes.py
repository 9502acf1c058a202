"""What MySQL's foreign-key indexes mean for migrations.

MySQL and MariaDB need an index whose leading columns are a foreign key's columns; when the
table has none, ``ADD CONSTRAINT ... FOREIGN KEY`` creates one named after the constraint,
and dropping the constraint leaves it behind. An index that backs a foreign key can't be
dropped while the key exists (error 1553). Alembic ignores both, so its migrations leave a
stray index or fail. Ours drop a removed key before the indexes of its table and drop the
key's own index with it, and mark ops so that reversing accounts for the same
(``ops.REVERSE_ALSO`` and ``ops.REVERSED_WITH_TABLE``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ForeignKeyConstraint, Index, Table, UniqueConstraint

from ...operations import ops
from ...reflect import ReflectedTable

_MYSQL = ("mysql", "mariadb")


def _fk_columns(fk: ForeignKeyConstraint) -> tuple[str, ...]:
    return (
        tuple(fk.columns[k].name for k in fk.column_keys) if fk.columns else tuple(fk.column_keys)
    )


def _leading_column_sets(table: Table) -> list[tuple[str, ...]]:
    """The column lists of every key MySQL can use for a foreign key of ``table``."""
    keys: list[tuple[str, ...]] = [tuple(c.name for c in table.primary_key.columns)]
    for index in table.indexes:
        keys.append(tuple(getattr(e, "name", "") for e in index.expressions))
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            keys.append(tuple(c.name for c in constraint.columns))
    return keys


def _covers(key: tuple[str, ...], columns: tuple[str, ...]) -> bool:
    return bool(columns) and key[: len(columns)] == columns


def mark_implicit_index(op: ops.CreateForeignKeyOp, fk: ForeignKeyConstraint, dialect: str) -> None:
    """On MySQL, when no key of the model table covers ``fk``, its reverse also drops the
    index the server creates for it (named after the constraint; an unnamed key can't be
    dropped by a migration at all)."""
    if dialect not in _MYSQL or not isinstance(fk.name, str) or fk.table is None:
        return
    columns = _fk_columns(fk)
    if any(_covers(key, columns) for key in _leading_column_sets(fk.table)):
        return
    op.info[ops.REVERSE_ALSO] = [
        ops.DropIndexOp(fk.name, table_name=op.source_table, schema=op.kw.get("source_schema"))
    ]


def mark_index_dropped_with_table(op: ops.CreateIndexOp, index: Index, dialect: str) -> None:
    """On MySQL, an index of a created table that backs one of its foreign keys goes with the
    table in the downgrade: dropping it first fails while the key exists."""
    table = index.table
    if dialect not in _MYSQL or table is None:
        return
    key = tuple(getattr(e, "name", "") for e in index.expressions)
    if any(_covers(key, _fk_columns(fk)) for fk in table.foreign_key_constraints):
        op.info[ops.REVERSED_WITH_TABLE] = True


def drop_implicit_index(
    fk: ForeignKeyConstraint, record: ReflectedTable, model: Table
) -> list[ops.MigrateOperation]:
    """The drop of the index the server made for ``fk``: on exactly its columns, named after
    the constraint, or after its first column when the key was declared without a name.
    Kept when the model declares an index of that name or a key on the same columns (which
    reuses it). The comparison of indexes hides that index while the key exists."""
    columns = _fk_columns(fk)
    if any(_fk_columns(other) == columns for other in model.foreign_key_constraints):
        return []
    declared = {ix.name for ix in model.indexes}
    names = {fk.name, columns[0]} - declared - {None}
    for ix in record.indexes:
        if ix["name"] in names and not ix["unique"] and tuple(ix["column_names"]) == columns:
            index = next((i for i in fk.table.indexes if i.name == ix["name"]), None)
            return [] if index is None else [ops.DropIndexOp.from_index(index)]
    return []


def insert_before_index_drops(
    modify_ops: ops.ModifyTableOps, drops: Sequence[ops.MigrateOperation]
) -> None:
    """Put foreign-key drops before the table's index and unique drops, any of which may
    back a key."""
    for position, op in enumerate(modify_ops.ops):
        if isinstance(op, ops.DropIndexOp) or (
            isinstance(op, ops.DropConstraintOp) and op.constraint_type == "unique"
        ):
            modify_ops.ops[position:position] = drops
            return
    modify_ops.ops.extend(drops)
