"""Tables and columns added, removed or changed: the walk every other comparator hangs on.

Order and shape follow Alembic's so diff lists are identical: created tables in the models'
foreign-key order, then per existing table (sorted by schema and name) added columns, altered
columns, table-level comparators (indexes, keys, comments), dropped columns. Dropped tables
come in reverse dependency order (Alembic leaves that order to a Python set).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, MetaData, Table

from ...operations import ops
from ...reflect import ReflectedSchema, ReflectedTable, TableKey
from ...reflect.objects import build_column, build_table
from ..dispatch import Deferred, builtin
from .failures import blame, qualified
from .registry import builtin_comparators
from .server_defaults import existing_server_default

if TYPE_CHECKING:
    from ..api import AutogenContext


def conn_table_record(conn_table: Any) -> ReflectedTable | None:
    """The reflected record behind a ``conn_table`` argument (None when there is none)."""
    if conn_table is None:
        return None
    if isinstance(conn_table, Deferred):
        record: ReflectedTable = conn_table.record
        return record
    raise TypeError(f"expected a reflected table, got {conn_table!r}")


def _schema_key(schema: str | None, default_schema: str | None) -> str | None:
    return None if schema == default_schema else schema


@builtin_comparators.dispatch_for("schema")
@builtin
def compare_tables(
    autogen_context: AutogenContext, upgrade_ops: ops.UpgradeOps, schemas: set[str | None]
) -> None:
    ordered_schemas = sorted(schemas, key=lambda s: (s is not None, s or ""))
    reflected = autogen_context.get_reflected(ordered_schemas)
    mc = autogen_context.migration_context
    version_key = (mc.version_table_schema, mc.version_table)

    conn_names: set[TableKey] = set()
    for schema in ordered_schemas:
        for name in reflected.table_names.get(schema, ()):
            if (schema, name) == version_key:
                continue
            if autogen_context.run_name_filters(name, "table", {"schema_name": schema}):
                conn_names.add((schema, name))

    default_schema = autogen_context.dialect.default_schema_name
    model_tables: dict[TableKey, Table] = {}
    for table in autogen_context.table_key_to_table.values():
        key = (_schema_key(table.schema, default_schema), table.name)
        if (table.schema, table.name) == version_key or key in model_tables:
            continue
        model_tables[key] = table

    ctx = _TableWalk(autogen_context, reflected, upgrade_ops)
    if any(key not in conn_names for key in model_tables):
        # Foreign-key order costs a topological sort of every table: only pay it when
        # tables are created.
        added = [
            (key, table)
            for table in autogen_context.sorted_tables
            if (key := (_schema_key(table.schema, default_schema), table.name)) in model_tables
            and key not in conn_names
        ]
        _each(added, ctx.added_table)
    dropped = _drop_order([k for k in conn_names if k not in model_tables], reflected)
    _each([(key, None) for key in dropped], lambda key, _: ctx.removed_table(key))
    kept = sorted((k for k in conn_names if k in model_tables), key=lambda k: (k[0] or "", k[1]))
    _each([(key, model_tables[key]) for key in kept], ctx.existing_table)


def _each(tables: Iterable[tuple[TableKey, Any]], compare: Callable[[TableKey, Any], None]) -> None:
    """``compare`` each table; an exception escaping it names the table it was on."""
    for key, table in tables:
        try:
            compare(key, table)
        except Exception as exc:
            blame(exc, f"table {qualified(*key)}")
            raise


def _drop_order(keys: Iterable[TableKey], reflected: ReflectedSchema) -> list[TableKey]:
    """Tables that reference others are dropped first; ties broken by name."""
    remaining = set(keys)
    referenced_by: dict[TableKey, set[TableKey]] = {k: set() for k in remaining}
    for key in remaining:
        for fk in reflected.tables[key].foreign_keys:
            target = (fk.get("referred_schema") or key[0], fk["referred_table"])
            if target in referenced_by and target != key:
                referenced_by[target].add(key)
    order: list[TableKey] = []
    while remaining:
        ready = sorted(
            (k for k in remaining if not (referenced_by[k] & remaining)),
            key=lambda k: (k[0] or "", k[1]),
        )
        if not ready:  # a cycle: drop the rest by name
            ready = sorted(remaining, key=lambda k: (k[0] or "", k[1]))
        for k in ready:
            remaining.discard(k)
        order.extend(ready)
    return order


class _TableWalk:
    """State of one walk over the tables of a comparison."""

    def __init__(
        self,
        autogen_context: AutogenContext,
        reflected: ReflectedSchema,
        upgrade_ops: ops.UpgradeOps,
    ) -> None:
        self.ac = autogen_context
        self.reflected = reflected
        self.upgrade_ops = upgrade_ops
        self.qualifier = autogen_context.dialect.name
        self.dispatch_table = autogen_context.comparators.dispatch(
            "table", qualifier=self.qualifier
        )
        self.dispatch_column = autogen_context.comparators.dispatch(
            "column", qualifier=self.qualifier
        )
        self.conn_metadata = MetaData()

    def conn_table(self, key: TableKey) -> Deferred:
        record = self.reflected.tables[key]
        return Deferred(lambda: build_table(record, self.conn_metadata), record)

    def added_table(self, key: TableKey, table: Table) -> None:
        schema, name = key
        if not self.ac.run_object_filters(table, name, "table", False, None):
            return
        self.upgrade_ops.ops.append(ops.CreateTableOp.from_table(table))
        modify = ops.ModifyTableOps(name, [], schema=schema)
        self.dispatch_table(self.ac, modify, schema, name, None, table)
        if not modify.is_empty():
            self.upgrade_ops.ops.append(modify)

    def removed_table(self, key: TableKey) -> None:
        schema, name = key
        conn_table = self.conn_table(key)
        table = conn_table.value
        if not self.ac.run_object_filters(table, name, "table", True, None):
            return
        modify = ops.ModifyTableOps(name, [], schema=schema)
        self.dispatch_table(self.ac, modify, schema, name, conn_table, None)
        if not modify.is_empty():
            self.upgrade_ops.ops.append(modify)
        self.upgrade_ops.ops.append(ops.DropTableOp.from_table(table))

    def existing_table(self, key: TableKey, metadata_table: Table) -> None:
        schema, name = key
        conn_table = self.conn_table(key)
        compare_to = conn_table.value if self.ac.has_object_filters else None
        if not self.ac.run_object_filters(metadata_table, name, "table", False, compare_to):
            return
        modify = ops.ModifyTableOps(name, [], schema=schema)
        record = conn_table.record
        if self.ac.has_name_filters:
            conn_cols = {
                c["name"]: c
                for c in record.columns
                if self.ac.run_name_filters(
                    c["name"], "column", {"table_name": name, "schema_name": schema}
                )
            }
        else:
            conn_cols = {c["name"]: c for c in record.columns}
        meta_cols = [c for c in metadata_table.c if not c.system]
        meta_names = {c.name for c in meta_cols}

        for col in meta_cols:
            if col.name not in conn_cols and self.ac.run_object_filters(
                col, col.name, "column", False, None
            ):
                modify.ops.append(ops.AddColumnOp.from_column_and_tablename(schema, name, col))

        for col in meta_cols:
            conn_col = conn_cols.get(col.name)
            if conn_col is None:
                continue
            deferred_col = _deferred_column(conn_table, conn_col, name)
            if self.ac.has_object_filters and not self.ac.run_object_filters(
                col, col.name, "column", False, deferred_col.value
            ):
                continue
            alter = ops.AlterColumnOp(name, col.name, schema=schema)
            try:
                self.dispatch_column(self.ac, alter, schema, name, col.name, deferred_col, col)
            except Exception as exc:
                blame(exc, f"column {qualified(schema, name)}.{col.name}")
                raise
            if alter.has_changes():
                if alter.existing_server_default is False:
                    alter.existing_server_default = existing_server_default(conn_col, col)
                modify.ops.append(alter)

        self.dispatch_table(self.ac, modify, schema, name, conn_table, metadata_table)

        for cname, conn_col in conn_cols.items():
            if cname in meta_names:
                continue
            column = _deferred_column(conn_table, conn_col, name).value
            if self.ac.run_object_filters(column, cname, "column", True, None):
                modify.ops.append(ops.DropColumnOp.from_column_and_tablename(schema, name, column))

        if not modify.is_empty():
            self.upgrade_ops.ops.append(modify)


def _deferred_column(conn_table: Deferred, record: Any, table_name: str) -> Deferred:
    """The database column: a record for us, a ``Column`` of the reflected table for plugins."""

    def build() -> Column[Any]:
        if conn_table._built:
            table: Table = conn_table.value
            return table.c[record["name"]]
        return build_column(record, table_name)

    return Deferred(build, record)
